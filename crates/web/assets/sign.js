// The signature pad of the case room: draw with a finger or the mouse; the drawing goes with
// the form as a PNG data URL (input name=signature).
for (const pad of document.querySelectorAll("canvas.sign-pad")) {
  const form = pad.closest("form");
  const field = form.querySelector("input[name=signature]");
  const ctx = pad.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  pad.width = pad.clientWidth * ratio;
  pad.height = pad.clientHeight * ratio;
  ctx.scale(ratio, ratio);
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";
  let drawing = false;
  let drawn = false;
  const at = (e) => {
    const r = pad.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
    e.preventDefault();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineTo(x, y);
    ctx.stroke();
    drawn = true;
    e.preventDefault();
  });
  const end = () => {
    drawing = false;
    if (drawn) field.value = pad.toDataURL("image/png");
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  const clear = form.querySelector("button.clear-pad");
  if (clear) {
    clear.addEventListener("click", () => {
      ctx.clearRect(0, 0, pad.width, pad.height);
      drawn = false;
      field.value = "";
    });
  }
}
