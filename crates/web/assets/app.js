// Small progressive enhancements; every page works without this file.
(function () {
  // Grid form: the phone's position, snapped to the nearest village or grid of my area.
  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.addEventListener("click", function () {
      var status = document.getElementById("locate-status");
      status.textContent = locate.dataset.wait;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lon = pos.coords.longitude, lat = pos.coords.latitude;
        document.getElementById("lon").value = lon;
        document.getElementById("lat").value = lat;
        fetch("/grid/snap?lon=" + lon + "&lat=" + lat, { credentials: "same-origin" })
          .then(function (r) { if (!r.ok) throw r; return r.json(); })
          .then(function (n) {
            document.getElementById("node").value = n.code;
            status.textContent = n.name + " (" + n.km + " km)";
          })
          .catch(function () { status.textContent = locate.dataset.fail; });
      }, function () { status.textContent = locate.dataset.fail; }, { timeout: 10000 });
    });
  }
  // Saved views of the case list: named filter sets kept in this browser.
  var views = document.getElementById("views");
  var save = document.querySelector(".save-view");
  function showViews() {
    if (!views) return;
    var saved = JSON.parse(localStorage.getItem("fq.views") || "{}");
    views.textContent = "";
    Object.keys(saved).forEach(function (name) {
      var a = document.createElement("a");
      a.href = "/cases?" + saved[name];
      a.textContent = name;
      views.appendChild(a);
    });
  }
  if (save) {
    save.addEventListener("click", function () {
      var name = prompt(save.dataset.label);
      if (!name) return;
      var form = document.getElementById("filters");
      var q = new URLSearchParams(new FormData(form));
      Array.from(q.keys()).forEach(function (k) { if (!q.get(k)) q.delete(k); });
      var saved = JSON.parse(localStorage.getItem("fq.views") || "{}");
      saved[name] = q.toString();
      localStorage.setItem("fq.views", JSON.stringify(saved));
      showViews();
    });
  }
  showViews();
  // Routing dialog (loaded by htmx later, hence delegated): a unit picked from "other
  // units" replaces the suggested ones.
  document.addEventListener("change", function (e) {
    var sel = e.target;
    if (!sel.matches || !sel.matches("select[name=lead_unit_id_other]") || !sel.value) return;
    sel.form.querySelectorAll("input[name=lead_unit_id]").forEach(function (r) { r.checked = false; });
    var h = document.createElement("input");
    h.type = "hidden"; h.name = "lead_unit_id"; h.value = sel.value;
    sel.form.appendChild(h);
  });
  // Workbench tabs: mark the chosen queue.
  document.querySelectorAll(".queue").forEach(function (q) {
    q.addEventListener("click", function () {
      document.querySelectorAll(".queue").forEach(function (o) { o.classList.remove("current"); o.setAttribute("aria-selected", "false"); });
      q.classList.add("current"); q.setAttribute("aria-selected", "true");
    });
  });
})();
