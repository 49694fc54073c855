// The closed loop in a real browser (Debian's chromium driven by playwright-core):
// a citizen submits by phone → the dispatcher routes → the unit accepts → a mediator records
// an agreement → feedback → the citizen rates → archived; a user of another town must not
// see the case; a double-submitted form makes one case; a wrong file type keeps the text; an
// expired session mid-form keeps the text. Screenshots of each page go to $ARTIFACTS.
//
// Usage: FENGQIAO_BIN=target/debug/fengqiao node tests/browser/flow.mjs
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const bin = resolve(process.env.FENGQIAO_BIN || "target/debug/fengqiao");
const artifacts = resolve(process.env.ARTIFACTS || "target/browser-artifacts");
const chromePath = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(artifacts, { recursive: true });
const port = 18000 + Math.floor(Math.random() * 2000);
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), "fq-browser-"));
const PASSWORD = "Fengqiao@2026";
const VILLAGE = "990102001001"; // 城关镇 稻香社区 in the demo county
const PHONE = "13912345678";

const server = spawn(bin, ["demo", "--cases", "300", "--database", join(dir, "demo.db"), "--listen", `127.0.0.1:${port}`], {
  stdio: ["ignore", "pipe", "inherit"],
});
server.stdout.on("data", () => {});
let shot = 0;
// Polls a condition from Node (page.evaluate goes through the DevTools protocol). Playwright's
// waitForFunction evaluates its predicate with eval inside the page, which the pages' CSP
// (script-src 'self', no 'unsafe-eval') forbids.
async function waitUntil(page, condition, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      if (await page.evaluate(condition)) return;
    } catch (e) {
      // A navigation between polls destroys the context: poll the new page.
      if (!/context was destroyed|navigat/i.test(String(e))) throw e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${condition}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

async function waitUp() {
  for (let i = 0; i < 240; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("server did not start");
}

// The demo's TOTP secret (crates/demo: DEMO_TOTP_SECRET) of admin, supervisor and leader,
// and the RFC 6238 code of the current 30-second step, as an authenticator app computes it.
const TOTP_SECRET = "FENGQIAODEMOTOTPSECRETKEYFORDEMO";
function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// Every page is checked for Content-Security-Policy violations (no inline script may run).
const cspViolations = [];
function watchCsp(page) {
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`); });
}

async function signIn(page, user) {
  watchCsp(page);
  await page.goto(`${base}/login`);
  await page.getByLabel("用户名").fill(user);
  await page.getByLabel("密码").fill(PASSWORD);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForLoadState("load");
  if (page.url().includes("/login/code")) {
    // Admins, supervisors and leaders sign in with a second factor.
    if (user === "admin") await snap(page, "second-factor");
    await page.getByLabel("动态口令").fill(totp(TOTP_SECRET));
    await page.getByRole("button", { name: "验证" }).click();
    await page.waitForLoadState("load");
    if (page.url().includes("/login/code")) {
      // A code works once: this 30-second step's was used (by an API sign-in); take the next.
      await new Promise((r) => setTimeout(r, 31000 - (Date.now() % 30000)));
      await page.getByLabel("动态口令").fill(totp(TOTP_SECRET));
      await page.getByRole("button", { name: "验证" }).click();
    }
  }
  await page.waitForURL(/\/workbench/);
}

async function login(browser, user) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: "zh-CN" });
  const page = await ctx.newPage();
  await signIn(page, user);
  return { ctx, page };
}

async function act(page, buttonName) {
  await page.getByRole("button", { name: buttonName, exact: true }).first().click();
  await page.waitForLoadState("load");
  const err = await page.locator("#action-error").count();
  assert.equal(err, 0, `action ${buttonName} failed: ${err && (await page.locator("#action-error").innerText())}`);
}

let failed = false;
try {
  await waitUp();
  const browser = await chromium.launch({ executablePath: chromePath, args: ["--no-sandbox"] });
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "zh-CN",
  });
  const cit = await phone.newPage();
  watchCsp(cit);

  // 1. The citizen scans the village's QR code: the form opens with the place filled in.
  const poster = await (await fetch(`${base}/qr/${VILLAGE}.svg`)).text();
  assert.match(poster, /<svg/);
  assert.match(poster, new RegExp(`/c/${VILLAGE}`));
  writeFileSync(join(artifacts, "poster.svg"), poster);
  await cit.goto(`${base}/c/${VILLAGE}`);
  assert.match(await cit.locator(".place").innerText(), /稻香社区/);
  await snap(cit, "citizen-form");
  const text = "楼上邻居张某每天晚上十一点以后在家里敲打装修，噪音很大，老人孩子睡不着，多次沟通无果，请求调解。";
  // A wrong file type: the form comes back with the text kept and a clear error.
  await cit.getByLabel("事情经过（谁、什么事、在哪里、什么时候）").fill(text);
  await cit.setInputFiles("#photos", { name: "notes.txt", mimeType: "image/jpeg", buffer: Buffer.from("not an image at all") });
  await cit.getByLabel("手机号码").fill(PHONE);
  await cit.locator("input[name=consent]").check();
  await cit.getByRole("button", { name: "提交" }).click();
  await cit.waitForSelector("#form-error");
  assert.equal(await cit.locator("#text").inputValue(), text, "typed text kept after a rejected photo");
  await snap(cit, "citizen-wrong-file");
  // Now a real (tiny) PNG, and the form submitted twice with the same key: one case.
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
  await cit.setInputFiles("#photos", { name: "photo.png", mimeType: "image/png", buffer: png });
  await cit.locator("input[name=consent]").check();
  const formData = await cit.evaluate(() => {
    const f = document.getElementById("citizen-form");
    return { key: f.form_key.value };
  });
  await cit.getByRole("button", { name: "提交" }).click();
  await cit.waitForURL(/\/track\/done/);
  const code = (await cit.locator("#tracking-code").innerText()).trim();
  assert.match(code, /^[0-9A-Z]{10}$/);
  await snap(cit, "citizen-done");
  // The same form key again (a double tap, a retry): the same tracking code comes back.
  const again = new FormData();
  again.set("form_key", formData.key);
  again.set("text", text);
  again.set("phone", PHONE);
  again.set("consent", "on");
  const replay = await fetch(`${base}/c/${VILLAGE}`, { method: "POST", body: again, redirect: "manual" });
  assert.equal(replay.status, 303);
  assert.match(replay.headers.get("location"), new RegExp(`code=${code}`), "double submit → same case");

  // 2. The dispatcher finds it in the queue, sees the elements and routes it to 城关司法所.
  const d = await login(browser, "dispatcher");
  await snap(d.page, "dispatcher-workbench");
  await d.page.goto(`${base}/cases?node_code=${VILLAGE}&status=registered`);
  await snap(d.page, "case-list");
  await d.page.getByRole("link", { name: code }).click();
  await d.page.waitForURL(/\/cases\/\d+$/);
  const caseUrl = d.page.url();
  assert.ok(await d.page.locator("mark.el-person").count() > 0, "extracted people highlighted");
  assert.ok(await d.page.locator("mark.el-time").count() > 0, "extracted time highlighted");
  assert.match(await d.page.locator("#h-parties + ul").innerText(), /139\*{4}5678/, "phone masked");
  assert.equal(await d.page.getByRole("button", { name: "签收", exact: true }).count(), 0, "dispatcher may not accept");
  await d.page.getByRole("button", { name: "分流", exact: true }).click();
  await d.page.waitForSelector(".dialog");
  await snap(d.page, "route-dialog");
  const lead = d.page.locator('.dialog input[name=lead_unit_id][value="2"]');
  if (await lead.count()) {
    await lead.check();
  } else {
    await d.page.locator("select[name=lead_unit_id_other]").selectOption("2");
  }
  await d.page.getByRole("button", { name: "确认分流" }).click();
  await d.page.waitForLoadState("load");
  assert.match(await d.page.locator("h1").innerText(), /已分流/);

  // 3. The unit accepts, mediates, records the agreement and feeds back.
  const u = await login(browser, "u02staff");
  await snap(u.page, "unit-workbench");
  await u.page.goto(caseUrl);
  await act(u.page, "签收");
  await act(u.page, "开始调解");
  await snap(u.page, "mediation");

  // 3a. The case room: the mediator invites the citizen, whose phone gets the link and a code
  // (the demo's SMS inbox stands in for the phone), and who writes with a photo.
  await u.page.goto(`${caseUrl}/room`);
  await u.page.locator('button[data-invite="0"]').click();
  await u.page.waitForLoadState("load");
  assert.equal(await u.page.locator("#room-error").count(), 0, "invited");
  await u.page.waitForSelector('code.link[data-party="0"]');
  await snap(u.page, "room-staff-invited");
  // The newest SMS to the citizen's phone (masked in the inbox) that matches.
  async function sms(pattern) {
    for (let i = 0; i < 100; i++) {
      const html = await (await fetch(`${base}/demo/sms`)).text();
      for (const item of html.split('<li class="msg">').slice(1)) {
        const m = item.includes("139****5678") && item.match(pattern);
        if (m) return m;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no SMS matching ${pattern}`);
  }
  const [roomLink] = await sms(/http:\/\/[^\s<"]+\/room\/[0-9a-f-]+/);
  assert.ok(roomLink.endsWith(await u.page.locator('code.link[data-party="0"]').innerText()) || (await u.page.locator('code.link[data-party="0"]').innerText()).endsWith(roomLink.split("/room/")[1]), "the SMS carries the link the mediator sees");
  await cit.goto(roomLink);
  await snap(cit, "room-door");
  await cit.getByRole("button", { name: "发送验证码" }).click();
  await cit.waitForLoadState("load");
  const [, roomCode] = await sms(/验证码为 (\d{6})/);
  await cit.getByLabel("验证码（6位数字）").fill(roomCode);
  await cit.getByRole("button", { name: "进入调解室" }).click();
  await cit.waitForSelector("#room-me");
  const photo = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
  await cit.locator("textarea[name=text]").fill("这是楼上施工的照片，晚上十点后还在响。");
  await cit.locator("input[type=file][name=files]").setInputFiles({ name: "zhaopian.png", mimeType: "image/png", buffer: photo });
  await cit.getByRole("button", { name: "发送", exact: true }).click();
  await cit.waitForSelector("text=晚上十点后还在响");
  await snap(cit, "room-party");
  await u.page.goto(`${caseUrl}/room`);
  assert.match(await u.page.locator("#thread").innerText(), /晚上十点后还在响/);
  assert.match(await u.page.locator("#thread").innerText(), /zhaopian\.png/);
  assert.match(await u.page.locator("td.joined").first().innerText(), /\d{4}-\d{2}-\d{2}/);
  await u.page.locator("textarea[name=text]").fill("收到照片，明天上午线上调解。");
  await u.page.getByRole("button", { name: "发送", exact: true }).click();
  await u.page.waitForLoadState("load");
  await snap(u.page, "room-staff");
  await cit.reload();
  assert.match(await cit.locator("#thread").innerText(), /收到照片/);

  // 3a'. The person's and the place's full history (全息档案).
  await u.page.goto(`${caseUrl}/parties/0`);
  assert.ok(Number(await u.page.locator("#person-count").innerText()) >= 1);
  assert.ok(!(await u.page.content()).includes(PHONE), "phone masked on the person page");
  await snap(u.page, "person-history");
  await u.page.goto(`${base}/places/${VILLAGE}`);
  assert.ok(Number(await u.page.locator("#place-total").innerText()) >= 1);
  await snap(u.page, "place-history");
  await u.page.goto(caseUrl);
  await u.page.getByLabel("协议内容").fill("张某承诺晚上十点后不再装修施工，双方互留电话，有事先沟通。");
  await act(u.page, "办结");
  assert.match(await u.page.locator("h1").innerText(), /已办结/);
  let feedbackPage = u.page;
  if ((await u.page.getByRole("button", { name: "反馈群众", exact: true }).count()) === 0) {
    await d.page.goto(caseUrl);
    feedbackPage = d.page;
  }
  await feedbackPage.locator("textarea[name=text]").fill("经司法所调解，双方达成协议：晚上十点后不再施工。");
  await act(feedbackPage, "反馈群众");
  await snap(feedbackPage, "feedback-given");

  // 3b. The dispatcher searches: the agreement's words find the case, highlighted.
  const caseId = caseUrl.match(/\/cases\/(\d+)$/)[1];
  await d.page.goto(`${base}/search`);
  await d.page.getByRole("searchbox").fill("互留电话");
  await d.page.getByRole("button", { name: "检索", exact: true }).click();
  await d.page.waitForURL(/\/search\?q=/);
  let found = 0;
  for (let i = 0; i < 20 && found === 0; i++) {
    found = await d.page.locator(`li[data-case="${caseId}"]`).count();
    if (found === 0) {
      await new Promise((r) => setTimeout(r, 100));
      await d.page.reload();
    }
  }
  assert.equal(found, 1, "the agreement's words find the case");
  await snap(d.page, "search");

  // 3c. The case page's panels: similar resolved cases and the legal basis (loaded by htmx),
  // then the anonymised 以案释法 sheet and its PDF.
  await d.page.goto(caseUrl);
  await d.page.waitForSelector("#similar-cases li", { timeout: 10000 });
  await d.page.waitForSelector("#legal-basis li", { timeout: 10000 });
  assert.match(await d.page.locator("#similar-cases li").first().innerText(), /协议要点/);
  assert.ok(await d.page.locator("#similar-cases li").count() >= 1, "similar resolved cases offered");
  await d.page.locator("#h-similar").scrollIntoViewIfNeeded();
  await snap(d.page, "similar-and-basis");
  await d.page.locator("#explainer-link").click();
  await d.page.waitForURL(/\/explainer$/);
  const sheet = await d.page.locator("#explainer").innerText();
  assert.match(sheet, /以案释法/);
  assert.ok(!sheet.includes(PHONE), "no phone number on the sheet");
  await snap(d.page, "explainer");
  const sheetPdf = await d.page.request.get(`${caseUrl}/explainer.pdf`);
  assert.equal(sheetPdf.status(), 200);
  assert.equal((await sheetPdf.body()).subarray(0, 5).toString(), "%PDF-");

  // 4. The citizen checks progress with code + phone and rates.
  await cit.goto(`${base}/track`);
  await cit.getByLabel("查询码").fill(code);
  await cit.getByLabel("手机号码").fill(PHONE);
  await cit.getByRole("button", { name: "查询" }).click();
  await cit.waitForSelector("#feedback");
  await snap(cit, "citizen-progress");
  await cit.locator('input[name=satisfaction][value="5"]').check();
  await cit.getByRole("button", { name: "提交评价" }).click();
  await cit.waitForSelector("#message");
  assert.match(await cit.locator("#status").innerText(), /已评价/);
  await snap(cit, "citizen-rated");

  // 5. Archived by the dispatcher.
  await d.page.goto(caseUrl);
  await act(d.page, "归档");
  assert.match(await d.page.locator("h1").innerText(), /已归档/);
  const timeline = await d.page.locator(".timeline").innerText();
  for (const step of ["登记受理", "分流", "签收", "开始调解", "办结", "已反馈", "已评价", "归档"]) {
    assert.ok(timeline.includes(step), `timeline has ${step}`);
  }
  await snap(d.page, "archived");

  // 6. A user of another town must not see the case, in its page or in the list.
  const other = await login(browser, "u03staff");
  const resp = await other.page.goto(caseUrl);
  assert.equal(resp.status(), 404);
  assert.ok(!(await other.page.content()).includes(code));
  await other.page.goto(`${base}/cases?node_code=990102001`);
  assert.ok(!(await other.page.content()).includes(code), "not in another town's list");
  await snap(other.page, "other-town-404");

  // 7. A grid worker's session expires mid-form: after logging in again the text is still there.
  const g = await login(browser, "grid01");
  await g.page.goto(`${base}/grid/report`);
  const patrol = "巡查发现幸福路两户居民因共用排水沟堵塞发生争吵，情绪激动。";
  await g.page.locator("#gtext").fill(patrol);
  await g.ctx.clearCookies();
  await g.page.getByRole("button", { name: "上报" }).click();
  await g.page.waitForSelector("text=登录已过期");
  await snap(g.page, "grid-expired");
  await g.page.getByLabel("用户名").fill("grid01");
  await g.page.getByLabel("密码").fill(PASSWORD);
  await g.page.getByRole("button", { name: "登录" }).click();
  await g.page.waitForSelector("#gtext");
  assert.equal(await g.page.locator("#gtext").inputValue(), patrol, "patrol text kept across the expired session");
  await g.page.getByRole("button", { name: "上报" }).click();
  await g.page.waitForURL(/\/grid\/mine/);
  await snap(g.page, "grid-mine");

  // 7b. Two parties settle online: the respondent and the applicant join the room from their
  // phones, read the mediator's draft, draw their signatures and confirm with codes; the
  // signed PDF's SM3 digest equals the one in the audit trail.
  async function api(path, token, body, method) {
    const r = await fetch(`${base}${path}`, {
      method: method || (body ? "POST" : "GET"),
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    assert.ok(r.ok, `${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  const apiLogin = async (username, totp_code) =>
    (await api("/api/v1/auth/login", null, { username, password: PASSWORD, totp_code })).token;
  const dTok = await apiLogin("dispatcher");
  const two = await api("/api/v1/cases", dTok, {
    channel: "walk_in", node_code: VILLAGE, dispute_type: "housing_homestead",
    text: "王建华与李明因宅基地边界围墙越界发生争执，双方多次争吵，要求拆除越界部分。",
    parties: [
      { name: "王建华", role: "applicant", phone: "13811112222" },
      { name: "李明", role: "respondent", phone: "13933334444" },
    ],
  });
  await api(`/api/v1/cases/${two.id}/actions`, dTok, { action: "route", lead_unit_id: 2 });
  const uTok = await apiLogin("u02staff");
  await api(`/api/v1/cases/${two.id}/actions`, uTok, { action: "accept" });
  await api(`/api/v1/cases/${two.id}/actions`, uTok, { action: "start_mediation" });
  const roomUrl = `${base}/cases/${two.id}/room`;
  await u.page.goto(roomUrl);
  const smsTo = async (masked, pattern) => {
    for (let i = 0; i < 100; i++) {
      const html = await (await fetch(`${base}/demo/sms`)).text();
      for (const item of html.split('<li class="msg">').slice(1)) {
        const m = item.includes(masked) && item.match(pattern);
        if (m) return m;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no SMS to ${masked} matching ${pattern}`);
  };
  const parties = [
    { masked: "138****2222", name: "王建华" },
    { masked: "139****4444", name: "李明" },
  ];
  for (const [i, p] of parties.entries()) {
    await u.page.locator(`button[data-invite="${i}"]`).click();
    await u.page.waitForLoadState("load");
    const [link] = await smsTo(p.masked, /http:\/\/[^\s<"]+\/room\/[0-9a-f-]+/);
    p.ctx = await browser.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "zh-CN",
    });
    p.page = await p.ctx.newPage();
    watchCsp(p.page);

    await p.page.goto(link);
    await p.page.getByRole("button", { name: "发送验证码" }).click();
    await p.page.waitForLoadState("load");
    const [, code] = await smsTo(p.masked, /验证码为 (\d{6})/);
    await p.page.getByLabel("验证码（6位数字）").fill(code);
    await p.page.getByRole("button", { name: "进入调解室" }).click();
    await p.page.waitForSelector("#room-me");
  }
  // The applicant writes with a photo; the mediator schedules an online session ten minutes
  // ahead (its video opens half an hour before the start).
  await parties[0].page.locator("textarea[name=text]").fill("附上围墙照片，请调解员查看。");
  await parties[0].page.locator("input[type=file][name=files]").setInputFiles({ name: "weiqiang.png", mimeType: "image/png", buffer: photo });
  await parties[0].page.getByRole("button", { name: "发送", exact: true }).click();
  await parties[0].page.waitForSelector("text=附上围墙照片");
  const at = new Date(Date.now() + 10 * 60000);
  const cst = (o) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", hourCycle: "h23", ...o }).format(at);
  await u.page.goto(roomUrl);
  await u.page.locator("#h-schedule ~ form input[name=date]").fill(cst({ year: "numeric", month: "2-digit", day: "2-digit" }));
  await u.page.locator("#h-schedule ~ form input[name=time]").fill(cst({ hour: "2-digit", minute: "2-digit" }));
  await u.page.locator("#h-schedule ~ form input[name=note]").fill("线上视频调解");
  await u.page.getByRole("button", { name: "安排调解会议" }).click();
  await u.page.waitForLoadState("load");
  assert.equal(await u.page.locator("#room-error").count(), 0, "session scheduled");
  assert.match(await u.page.locator("#thread").innerText(), /weiqiang\.png/);
  // The video handshake between two headless browsers on this machine, with fake cameras and
  // microphones: the mediator in one, both parties (their room sessions) on phones in the other.
  const media = ["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];
  const vA = await chromium.launch({ executablePath: chromePath, args: media });
  const vB = await chromium.launch({ executablePath: chromePath, args: media });
  const inVideo = [];
  const mv = await login(vA, "u02staff");
  await mv.ctx.grantPermissions(["camera", "microphone"], { origin: base });
  await mv.page.goto(roomUrl);
  await mv.page.locator("a.video-join").first().click();
  await mv.page.waitForSelector('#video[data-state="waiting"]');
  inVideo.push(mv.page);
  for (const p of parties) {
    const ctx = await vB.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "zh-CN",
    });
    await ctx.addCookies(await p.ctx.cookies());
    await ctx.grantPermissions(["camera", "microphone"], { origin: base });
    const page = await ctx.newPage();
    watchCsp(page);
    await page.goto(await p.page.url());
    await page.locator("a.video-join").first().click();
    await page.waitForSelector("#video");
    inVideo.push(page);
  }
  // Everyone is connected to the two others and receives their moving pictures.
  for (const page of inVideo) {
    await page.waitForSelector('#video[data-connected="2"]', { timeout: 60000 });
    // (polled with evaluate: waitForFunction would need eval, which the CSP forbids)
    let frames = false;
    for (let i = 0; i < 300 && !frames; i++) {
      frames = await page.evaluate(() => {
        const remote = [...document.querySelectorAll("#video-grid .tile:not(.mine) video")];
        return remote.length === 2 && remote.every((v) => v.videoWidth > 0 && v.readyState >= 2);
      });
      if (!frames) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(frames, "both others' pictures arrive");
  }
  assert.match(await inVideo[0].locator("#video-status").innerText(), /视频已接通：2 人/);
  const names = await inVideo[0].locator("#video-grid .tile:not(.mine) figcaption").allInnerTexts();
  assert.deepEqual(names.map((n) => n.replace(/（.*/, "")).sort(), ["李明", "王建华"].sort());
  await snap(inVideo[0], "video-mediator");
  await snap(inVideo[1], "video-party");
  // Leaving: the others see the tile go; each one's times are in the room's attendance.
  await inVideo[2].locator("#video-leave").click();
  await inVideo[0].waitForSelector('#video[data-connected="1"]');
  await inVideo[1].locator("#video-leave").click();
  await inVideo[0].locator("#video-leave").click();
  await inVideo[0].waitForURL(roomUrl);
  let attended = [];
  for (let i = 0; i < 50; i++) {
    await u.page.goto(roomUrl);
    await u.page.locator("details.attendance summary").click();
    attended = await u.page.locator("details.attendance tbody tr").allInnerTexts();
    if (attended.length === 3 && attended.every((r) => /\d{2}:\d{2}\s*$/.test(r))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(attended.length, 3, `three attended: ${attended}`);
  assert.ok(attended.some((r) => r.includes("王建华")), `the applicant attended: ${attended}`);
  assert.ok(attended.some((r) => r.includes("李明")), "the respondent attended");
  assert.ok(attended.some((r) => !/王建华|李明/.test(r)), "the mediator attended");
  assert.ok(attended.every((r) => /\d{2}:\d{2}\s*$/.test(r)), `each one's leaving recorded: ${attended}`);
  await snap(u.page, "video-attendance");
  await vA.close();
  await vB.close();
  // The mediator drafts the agreement with an obligation of the respondent.
  const due = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
  await u.page.goto(roomUrl);
  await u.page.locator("textarea[name=facts]").fill("李明家新建围墙越过宅基地界线约0.3米，双方争执。");
  await u.page.locator("textarea[name=terms]").fill("一、李明于三十日内自行拆除越界围墙；二、王建华不再追究其他责任；三、双方今后友好相处。");
  await u.page.locator("select[name=o1_party]").selectOption("1");
  await u.page.locator("input[name=o1_what]").fill("拆除越界围墙");
  await u.page.locator("input[name=o1_due]").fill(due);
  await u.page.locator("#draft").click();
  await u.page.waitForLoadState("load");
  assert.equal(await u.page.locator("#room-error").count(), 0, "draft saved");
  await snap(u.page, "agreement-draft");
  // Each party signs on the phone: a code, then the signature drawn on the pad.
  for (const p of parties) {
    await p.page.reload();
    assert.match(await p.page.locator("#agreement-terms").innerText(), /拆除越界围墙/);
    await p.page.locator("#sign-code").click();
    await p.page.waitForLoadState("load");
    const [, code] = await smsTo(p.masked, /签署纠纷.*?验证码为 (\d{6})/);
    // A finger writes on the pad: real touch input through the DevTools protocol.
    await p.page.locator("canvas.sign-pad").scrollIntoViewIfNeeded();
    const pad = await p.page.locator("canvas.sign-pad").boundingBox();
    const cdp = await p.ctx.newCDPSession(p.page);
    const y0 = pad.y + pad.height / 2;
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: pad.x + 20, y: y0 }] });
    for (let k = 1; k <= 12; k++) {
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: pad.x + 20 + k * 22, y: y0 + (k % 2 ? -30 : 30) }] });
    }
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await cdp.detach();
    assert.match(await p.page.locator("input[name=signature]").inputValue(), /^data:image\/png;base64,/);
    await p.page.locator("#sign-code-input").fill(code);
    await snap(p.page, `agreement-sign-${p.name === "李明" ? "respondent" : "applicant"}`);
    await p.page.locator("#sign").click();
    await p.page.waitForLoadState("load");
    assert.equal(await p.page.locator(".error").count(), 0, `${p.name} signed`);
  }
  const last = parties[1].page;
  await last.reload();
  await last.waitForSelector("#agreement-sm3");
  const shown = (await last.locator("#agreement-sm3").innerText()).trim();
  const pdfResp = await last.request.get(new URL(await last.locator("#agreement-pdf").getAttribute("href"), base).href);
  assert.equal(pdfResp.status(), 200);
  const agreementPdf = await pdfResp.body();
  assert.equal(agreementPdf.subarray(0, 5).toString(), "%PDF-");
  writeFileSync(join(artifacts, "agreement.pdf"), agreementPdf);
  const { createHash } = await import("node:crypto");
  const digest = createHash("sm3").update(agreementPdf).digest("hex");
  assert.equal(digest, shown, "the PDF's SM3 is the one the room shows");
  await snap(last, "agreement-signed");
  // The audit trail holds the same digest (an administrator reads it; a TOTP code works once,
  // so wait for the next 30-second step if this one was used).
  let aTok;
  for (let k = 0; k < 3 && !aTok; k++) {
    try {
      aTok = await apiLogin("admin", totp(TOTP_SECRET));
    } catch {
      await new Promise((r) => setTimeout(r, 31000 - (Date.now() % 30000)));
    }
  }
  assert.ok(aTok, "the administrator signs in to the API");
  const trail = await api("/api/v1/audit?limit=1000", aTok);
  const sealedRec = trail.find((r) => r.action === "agreement_sealed" && r.detail.includes(digest));
  assert.ok(sealedRec, "the audit trail records the signed PDF's SM3 digest");
  for (const p of parties) await p.ctx.close();

  // 8. English switch.
  await d.page.goto(`${base}/lang/en?back=/workbench`);
  assert.match(await d.page.locator("h1").innerText(), /My workbench/);
  await snap(d.page, "workbench-en");

  // 9. The list exported to XLSX (a download), the admin pages and the posters as PDF.
  await d.page.goto(`${base}/cases`);
  const [xlsx] = await Promise.all([d.page.waitForEvent("download"), d.page.locator('a[href^="/cases/export.xlsx"]').click()]);
  const xlsxPath = join(artifacts, "cases.xlsx");
  await xlsx.saveAs(xlsxPath);
  assert.equal(readFileSync(xlsxPath).subarray(0, 2).toString(), "PK", "the export is an XLSX (zip) file");
  const a = await login(browser, "admin");
  await a.page.goto(`${base}/admin/users`);
  await snap(a.page, "admin-users");
  await a.page.goto(`${base}/admin/calendar`);
  await snap(a.page, "admin-calendar");
  await a.page.goto(`${base}/admin/jurisdictions?code=${VILLAGE}`);
  await snap(a.page, "admin-village");
  const pdfLink = a.page.getByRole("link", { name: "海报 PDF" });
  assert.equal(await pdfLink.getAttribute("href"), `/qr/${VILLAGE}.pdf`);
  const pdf = await a.page.request.get(`${base}/qr/${VILLAGE}.pdf`);
  assert.equal(pdf.headers()["content-type"], "application/pdf");
  const pdfBytes = await pdf.body();
  assert.equal(pdfBytes.subarray(0, 5).toString(), "%PDF-");
  writeFileSync(join(artifacts, "poster.pdf"), pdfBytes);
  const town = await a.page.request.get(`${base}/qr/${VILLAGE.slice(0, 9)}.pdf`);
  assert.equal(town.status(), 200);
  writeFileSync(join(artifacts, "posters-town.pdf"), await town.body());
  // Another system's export uploaded by the dispatcher: the good row lands, the bad one is named.
  await d.page.goto(`${base}/imports`);
  await d.page.locator("#i-channel").selectOption("judicial_mediation");
  const exportCsv = `调解案件编号,纠纷简要情况,行政区划代码,受理日期\nTJ-B1,两户村民因排水沟堵塞发生争吵,${VILLAGE},2025-03-01\nTJ-B2,土地承包纠纷,${VILLAGE},昨天\n`;
  await d.page.locator("#i-file").setInputFiles({ name: "tj.csv", mimeType: "text/csv", buffer: Buffer.from(exportCsv) });
  await d.page.locator("#import-form button[type=submit]").click();
  await d.page.waitForSelector("#import-report");
  assert.equal(await d.page.locator("[data-created]").getAttribute("data-created"), "1");
  assert.match(await d.page.locator("#import-errors").innerText(), /TJ-B2/);
  await snap(d.page, "imports");
  await a.page.goto(`${base}/admin/outbound`);
  await snap(a.page, "admin-outbound");
  // The audit trail of everything above (sign-ins, changes, exports), verified intact.
  await a.page.goto(`${base}/admin/security?verify=1`);
  assert.match(await a.page.locator("#audit-verified").innerText(), /审计链完整/);
  await snap(a.page, "admin-security-audit");

  // 10. The leader's cockpit on a 1920×1080 wall screen: the charts and the map are drawn,
  // a case reported meanwhile appears in the live feed (server-sent events), a town drills
  // down, and the monthly report comes as PDF.
  const lctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "zh-CN" });
  const lp = await lctx.newPage();
  const jsErrors = [];
  lp.on("pageerror", (e) => jsErrors.push(String(e)));
  await signIn(lp, "leader");
  await lp.goto(`${base}/cockpit`);
  await waitUntil(lp, () => document.querySelectorAll("#chart-map svg path").length >= 12, 15000);
  await waitUntil(lp, () => document.querySelectorAll("#chart-trend svg path").length > 0);
  await lp.waitForSelector("#live:not([hidden])");
  const before = Number(await lp.locator("#kpi-today").innerText());
  await g.page.goto(`${base}/grid/report`);
  await g.page.locator("#gtext").fill("巡查发现两户村民因宅基地边界发生争执，已初步劝解，需司法所介入调解。");
  await g.page.getByRole("button", { name: "上报" }).click();
  await g.page.waitForURL(/\/grid\/mine/);
  await lp.waitForSelector("#feed li.fresh", { timeout: 10000 });
  assert.equal(Number(await lp.locator("#kpi-today").innerText()), before + 1, "today's count follows the feed");
  await lp.waitForTimeout(600);
  await lp.screenshot({ path: join(artifacts, "cockpit-1920x1080.png") });
  shot += 1;
  assert.deepEqual(jsErrors, [], "no script errors on the cockpit");
  await lp.locator(".ck-areas a").first().click();
  await lp.waitForURL(/\/cockpit\?node=990102\d{3}$/);
  await waitUntil(lp, () => document.querySelectorAll("#chart-map svg path").length >= 2, 30000);
  await snap(lp, "cockpit-town");
  await lp.goto(`${base}/reports/monthly`);
  await snap(lp, "monthly-report");
  const rep = await lp.request.get(`${base}/reports/monthly?format=pdf`);
  assert.equal(rep.headers()["content-type"], "application/pdf");
  writeFileSync(join(artifacts, "monthly-report.pdf"), await rep.body());

  // 11. Early warning: a burst of property disputes in one village this morning; the
  // supervisor runs the analysis, opens the warning (evidence chart, cases) and records what
  // was done; the cockpit lists the warning.
  const tok = await (await fetch(`${base}/api/v1/auth/login`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "dispatcher", password: PASSWORD }),
  })).json();
  for (let i = 0; i < 7; i++) {
    const r = await fetch(`${base}/api/v1/cases`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tok.token}` },
      body: JSON.stringify({ channel: "walk_in", dispute_type: "property_management", node_code: VILLAGE,
        text: `业主反映物业公司擅自上调物业费，电梯停运无人维修（第${i + 1}户）。` }),
    });
    assert.equal(r.status, 201, `burst case ${i}`);
  }
  const s = await login(browser, "supervisor");
  await s.page.goto(`${base}/warnings`);
  await s.page.getByRole("button", { name: "立即运行预警分析" }).click();
  await s.page.waitForLoadState("load");
  assert.match(await s.page.locator("p.notice").innerText(), /预警分析完成/);
  const row = s.page.locator("table.warnings tr", { hasText: "物业" }).first();
  await row.locator("a").first().click();
  await s.page.waitForURL(/\/warnings\/\d+$/);
  assert.ok(await s.page.locator("svg.series rect").count() > 0, "the series chart");
  await snap(s.page, "warning");
  await s.page.getByLabel("处置情况 / 说明").fill("约谈物业公司，召开业主协调会");
  await s.page.getByRole("button", { name: "记录处置", exact: true }).click();
  await s.page.waitForLoadState("load");
  assert.equal(await s.page.locator("#warning-status").innerText(), "已处置");
  await lp.goto(`${base}/cockpit`);
  assert.ok(Number(await lp.locator("#kpi-warnings").innerText()) >= 1, "open warnings on the cockpit");
  await waitUntil(lp, () => document.querySelectorAll("#chart-map svg path").length >= 12, 15000);
  await lp.screenshot({ path: join(artifacts, "cockpit-warnings-1920x1080.png") });
  shot += 1;

  assert.deepEqual(cspViolations, [], "no Content-Security-Policy violations");
  await browser.close();
  console.log(`browser flow passed: case ${code}, ${shot} screenshots in ${artifacts}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  server.kill("SIGTERM");
}
process.exit(failed ? 1 : 0);
