// Browser test of the tallyd handheld UI and the tally-ledger dashboard, in
// Debian's chromium driven by playwright-core (no browser download), against
// real processes: a mosquitto on an ephemeral loopback port, tally-ledger and
// tallyd, all started here.
//
//   node ui_test.mjs --tallyd PATH --ledger PATH --artifacts DIR
//
// Exit 0: passed; 1: failed (the reason on stderr); 77: skipped (no chromium).
// Screenshots of each screen go to the artifacts folder.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const CHROMIUM = process.env.TALLY_CHROMIUM || "/usr/bin/chromium";
const SKIP = 77;
const ITEM = "09506000134352";
const SITE = "test";
const DEVICE = "hh-1";

const { values: args } = parseArgs({
  options: {
    tallyd: { type: "string" },
    ledger: { type: "string" },
    mosquitto: { type: "string", default: "/usr/sbin/mosquitto" },
    artifacts: { type: "string", default: path.join(os.tmpdir(), "tally-ui-artifacts") },
    headed: { type: "boolean", default: false },
  },
});

if (!existsSync(CHROMIUM)) {
  console.log(`SKIPPED: ${CHROMIUM} is not installed (deploy/lib.sh installs chromium)`);
  process.exit(SKIP);
}
for (const k of ["tallyd", "ledger"]) {
  if (!args[k] || !existsSync(args[k])) {
    console.error(`--${k} must name the built binary (got ${args[k]})`);
    process.exit(2);
  }
}
const { chromium } = await import("playwright-core");

// ---- processes ---------------------------------------------------------------
const children = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), "tally-ui-"));
mkdirSync(args.artifacts, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(100);
  }
}

// Starts `bin args`, keeps its output for the failure report.
function start(name, bin, argv) {
  const child = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"] });
  const proc = { name, child, out: "", err: "", exited: null };
  child.stdout.on("data", (d) => { proc.out += d; });
  child.stderr.on("data", (d) => { proc.err += d; });
  child.on("exit", (code, signal) => { proc.exited = { code, signal }; });
  children.push(proc);
  return proc;
}

async function listeningPort(proc) {
  const port = await until(`${proc.name} to listen`, () => {
    if (proc.exited) throw new Error(`${proc.name} exited: ${proc.err}`);
    const m = /listening on http:\/\/[^ ]*:(\d+)/.exec(proc.out);
    return m && Number(m[1]);
  });
  return port;
}

async function stop(proc) {
  if (proc.exited) return;
  const done = new Promise((r) => proc.child.once("exit", r));
  proc.child.kill("SIGTERM");
  await Promise.race([done, sleep(5000)]);
  if (!proc.exited) { proc.child.kill("SIGKILL"); await done; }
}

class Broker {
  constructor(port) { this.port = port; this.proc = null; }
  async start() {
    const conf = path.join(tmp, "mosquitto.conf");
    writeFileSync(conf, [`listener ${this.port} 127.0.0.1`, "allow_anonymous true", "persistence true", ...(process.getuid && process.getuid() === 0 ? ["user root"] : []),
      `persistence_location ${tmp}/`, "log_dest stderr", ""].join("\n"));
    this.proc = start("mosquitto", args.mosquitto, ["-c", conf]);
    await until("mosquitto to accept connections", async () => {
      if (this.proc.exited) throw new Error("mosquitto exited: " + this.proc.err);
      return accepts(this.port);
    });
  }
  async stop() { if (this.proc) await stop(this.proc); this.proc = null; }
  get uri() { return `tcp://127.0.0.1:${this.port}`; }
}

async function api(base, method, url, body) {
  const r = await fetch(base + url, {
    method, headers: body ? { "Content-Type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: HTTP ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// ---- checks --------------------------------------------------------------------
function check(cond, message) { if (!cond) throw new Error("check failed: " + message); }

const problems = [];  // console errors and page errors, from every page
// While tallyd is deliberately down, chromium itself logs each failed
// WebSocket reconnect attempt as a console error: those (only) are expected then.
let tallydDown = false;
function watch(page, label) {
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (tallydDown && /WebSocket connection to .* failed/.test(m.text())) return;
    // A refused scan is answered 422 by design (the red flash); chromium
    // logs every 4xx fetch as a console error. Only that one is expected.
    if (/status of 422/.test(m.text()) && m.location().url.endsWith("/api/v1/scans")) return;
    problems.push(`${label} console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${label} page error: ${e.message}`));
}

let shots = 0;
async function shot(page, name, { flash = false } = {}) {
  if (!flash) await until("the flash to clear", async () => !(await page.locator("#flash.show").count()));
  const file = path.join(args.artifacts, `${String(++shots).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file });
  console.log("screenshot", file);
}

// Every button has an accessible name, the landmarks are there, and the
// keyboard focus is visible.
async function checkAccessibility(page, label, landmarks) {
  const tree = await page.locator("body").ariaSnapshot();
  const nameless = tree.split("\n").filter((l) => /^\s*- button\s*(\[[^\]]*\])?\s*:?\s*$/.test(l));
  check(nameless.length === 0, `${label}: buttons without an accessible name:\n${nameless.join("\n")}\n${tree}`);
  for (const role of landmarks) {
    check(await page.getByRole(role).count() >= 1, `${label}: no ${role} landmark`);
  }
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.type !== "hidden" && !el.labels?.length && !el.getAttribute("aria-label"))
    .map((el) => el.id || el.name || el.outerHTML.slice(0, 60)));
  check(unlabelled.length === 0, `${label}: form fields without a label: ${unlabelled.join(", ")}`);
  await page.locator("button:visible").first().focus();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Shift+Tab");
  const outline = await page.evaluate(() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    return { tag: el.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
  });
  check(outline.style !== "none" && outline.width >= 2, `${label}: keyboard focus is not visible: ${JSON.stringify(outline)}`);
}

// ---- the scenario ----------------------------------------------------------------
async function main() {
  const broker = new Broker(await freePort());
  await broker.start();

  // KPI samples every second: the dashboard's trend lines have history when it opens.
  const ledgerConf = path.join(tmp, "ledger.toml");
  writeFileSync(ledgerConf, "[kpi]\nsample_interval_s = 1\nhistory_retention_s = 3600\n");
  const ledger = start("tally-ledger", args.ledger, ["--config", ledgerConf,
    "--data-dir", path.join(tmp, "ledger"), "--mqtt", broker.uri, "--http", "127.0.0.1:0", "--log-level", "warn"]);
  const ledgerUrl = `http://127.0.0.1:${await listeningPort(ledger)}`;

  // Master data from the ledger, as a site would set it up: the catalog and a pick task.
  await api(ledgerUrl, "POST", `/api/v1/catalog?site=${SITE}`,
    { v: 1, version: 1, items: [{ gtin: ITEM, sku: "SKU-B", description: "Blue widget", suggested_bin: "A-01-01-1" }] });
  await api(ledgerUrl, "POST", "/api/v1/tasks", {
    site: SITE, device: DEVICE,
    task: { id: "TASK:17", type: "pick", reference: "ORD:991", lines: [{ line: 1, gtin: ITEM, qty: 2, bin: "A-01-01-1" }] },
  });

  const conf = path.join(tmp, "tallyd.toml");
  writeFileSync(conf, "[mqtt]\nbackoff_min_ms = 100\nbackoff_max_ms = 500\n");
  const devicePort = await freePort();  // fixed, so that a restarted tallyd is found again
  const tallydArgs = ["--config", conf, "--data-dir", path.join(tmp, "device"), "--device-id", DEVICE,
    "--site", SITE, "--http", `127.0.0.1:${devicePort}`, "--mqtt", broker.uri, "--log-level", "warn"];
  let tallyd = start("tallyd", args.tallyd, tallydArgs);
  const deviceUrl = `http://127.0.0.1:${await listeningPort(tallyd)}`;

  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: !args.headed,
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
  });
  try {
    // ---- handheld, 480×800 portrait ----
    const hh = await browser.newContext({ viewport: { width: 480, height: 800 }, deviceScaleFactor: 1 });
    const page = await hh.newPage();
    watch(page, "handheld");
    await page.goto(deviceUrl + "/");
    const sync = page.locator("#sync");
    await until("the handheld to show synced", async () => (await sync.getAttribute("data-state")) === "synced");
    await until("the task list", async () => (await page.locator("#tasks").textContent()).includes("TASK:17"));
    await shot(page, "handheld-signin");

    // A keyboard wedge types into the page without anyone tapping the field:
    // move the focus away first (a button), then "scan".
    const flashes = [];
    await page.exposeFunction("__flashSeen", (kind) => flashes.push(kind));
    await page.evaluate(() => {
      new MutationObserver(() => {
        const f = document.getElementById("flash");
        if (f.classList.contains("show")) window.__flashSeen(f.dataset.feedback);
      }).observe(document.getElementById("flash"), { attributes: true, attributeFilter: ["class"] });
    });
    await page.locator("#kbd").focus();
    const wedge = async (text) => {
      const before = await page.locator("#last").getAttribute("data-replies");
      await page.keyboard.type(text, { delay: 5 });
      await page.keyboard.press("Enter");
      await until(`the reply to ${text}`, async () =>
        (await page.locator("#last-text").textContent()) === text &&
        (await page.locator("#last").getAttribute("data-replies")) !== before);
      return page.locator("#last").getAttribute("data-feedback");
    };
    check(await wedge("OP:alice") === "good", "badge sign-in is good");
    await until("the operator", async () => (await page.locator("#operator").textContent()) === "alice");
    check(await page.locator("#step").isVisible(), "the step buttons show once signed in");
    await checkAccessibility(page, "handheld", ["banner", "main", "navigation"]);
    await page.locator("#kbd").focus();

    // Receive 3 and put them away, so that the pick has stock to take.
    for (const s of ["CMD:RECEIVE", "PO:4500012", ITEM, ITEM, ITEM]) check(await wedge(s) === "good", s);
    await page.getByRole("button", { name: "Confirm" }).click();  // by touch
    await until("the receipt", async () => (await page.locator("#moves").textContent()).includes("receipt × 3"));
    for (const s of ["CMD:DONE", "CMD:PUTAWAY", "LOC:DOCK-1", ITEM]) check(await wedge(s) === "good", s);
    // The quantity by the on-screen keypad.
    await page.getByRole("button", { name: "Quantity…" }).click();
    await page.locator("#qty-pad").getByRole("button", { name: "3", exact: true }).click();
    await page.getByRole("button", { name: "Set quantity" }).click();
    await until("CMD:QTY:3", async () => (await page.locator("#last-text").textContent()) === "CMD:QTY:3");
    check(await wedge("A-01-01-1") === "good", "put-away bin");

    // The pick of TASK:17: a wrong bin first (red, an exception), then right.
    check(await wedge("CMD:PICK") === "good", "CMD:PICK");
    await until("the pick prompt", async () => (await page.locator("#prompt").textContent()).includes("A-01-01-1"));
    await shot(page, "handheld-pick");
    flashes.length = 0;
    await page.keyboard.type("B-02-01-1", { delay: 5 });
    await page.keyboard.press("Enter");
    await until("the red flash", async () => flashes.includes("error"));
    await shot(page, "handheld-flash-error", { flash: true });
    check((await page.locator("#last").getAttribute("data-feedback")) === "error", "wrong bin is an error");
    await until("the device exception", async () => (await page.locator("#exceptions").textContent()).includes("wrong bin"));
    flashes.length = 0;
    check(await wedge("A-01-01-1") === "good", "pick bin");
    check(await wedge(ITEM) === "good", "pick unit 1");
    await until("the green flash", async () => flashes.includes("good"));
    await shot(page, "handheld-flash-good", { flash: true });
    check(await wedge(ITEM) === "good", "pick unit 2");
    check(await wedge("TOTE:7") === "good", "pick tote");
    await until("the pick movement", async () => (await page.locator("#moves").textContent()).includes("pick × 2"));
    await until("the task progress", async () => /done|1\/1/.test(await page.locator("#tasks").textContent()));
    await until("synced after the pick", async () => (await sync.getAttribute("data-state")) === "synced");
    await shot(page, "handheld-after-pick");

    // Offline: the broker goes away; a move is recorded and waits.
    await broker.stop();
    await until("the offline indicator", async () => (await sync.getAttribute("data-state")) === "offline");
    for (const s of ["CMD:MOVE", "A-01-01-1", ITEM, "B-02-01-1"]) check(await wedge(s) === "good", s);
    await until("pending to grow", async () => Number(await sync.getAttribute("data-pending")) >= 1);
    check((await sync.textContent()).includes("pending"), "the indicator says pending");
    await shot(page, "handheld-offline");
    await broker.start();
    await until("synced again", async () => (await sync.getAttribute("data-state")) === "synced", 30000);
    check(Number(await sync.getAttribute("data-pending")) === 0, "nothing pending once synced");
    await shot(page, "handheld-synced");

    // tallyd restarts: the page says "reconnecting", then comes back by itself
    // (the WebSocket reconnects with backoff) and the session resumed.
    tallydDown = true;
    await stop(tallyd);
    await until("the reconnecting indicator", async () => (await sync.getAttribute("data-state")) === "reconnecting");
    await shot(page, "handheld-reconnecting");
    tallyd = start("tallyd", args.tallyd, tallydArgs);
    await listeningPort(tallyd);
    await until("reconnected", async () => (await sync.getAttribute("data-state")) === "synced", 30000);
    tallydDown = false;
    check((await page.locator("#operator").textContent()) === "alice", "the session survived the restart");
    check(await wedge("CMD:LOGOUT") === "good", "sign out");

    // The dock station: the same UI on a desktop screen.
    const dock = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const dockPage = await dock.newPage();
    watch(dockPage, "dock");
    await dockPage.goto(deviceUrl + "/");
    await until("the dock to show synced", async () => (await dockPage.locator("#sync").getAttribute("data-state")) === "synced");
    await dockPage.keyboard.type("OP:bob");
    await dockPage.keyboard.press("Enter");
    await until("bob signed in", async () => (await dockPage.locator("#operator").textContent()) === "bob");
    await shot(dockPage, "dock-station");

    // ---- the ledger dashboard ----
    await until("the ledger to have the movements", async () => {
      const r = await api(ledgerUrl, "GET", `/api/v1/history?item=${ITEM}&limit=50`);
      return r.movements.length >= 4;
    }, 30000);
    await until("the ledger to have the exception", async () => {
      const r = await api(ledgerUrl, "GET", "/api/v1/exceptions?status=open");
      return r.exceptions.some((e) => e.kind === "wrong_bin");
    }, 30000);
    await until("KPI history samples", async () =>
      (await api(ledgerUrl, "GET", "/api/v1/kpis/history?limit=10")).samples.length >= 2);
    await until("the device's synced status at the ledger", async () => {
      const d = (await api(ledgerUrl, "GET", "/api/v1/devices")).devices.find((x) => x.device === DEVICE);
      return d && d.online === true && d.pending === 0;
    }, 30000);
    const desk = await browser.newContext({ viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 });
    const dash = await desk.newPage();
    watch(dash, "dashboard");
    await dash.goto(ledgerUrl + "/");
    await until("the stock table", async () => (await dash.locator("#stock").textContent()).includes("B-02-01-1"));
    await until("the fleet", async () => (await dash.locator("#fleet").textContent()).includes(DEVICE));
    await until("the KPIs", async () => (await dash.locator("#kpis .kpi").count()) > 0);
    // The trend lines start from the ledger's history, not from the page's first poll.
    const trend = dash.locator('#kpis [data-kpi="exception_queue"] svg');
    const historyPoints = Number(await trend.getAttribute("data-history"));
    check(historyPoints >= 2, `the exception queue trend has ${historyPoints} history points on first load`);
    check((await trend.locator("polyline").count()) === 1, "the trend is drawn");
    // The fleet: the device's own status (online, pending 0 once synced).
    const fleetRow = dash.locator(`#fleet tbody tr[data-device="${DEVICE}"]`);
    await until("the fleet row", async () => (await fleetRow.count()) === 1);
    check(await fleetRow.locator("td[data-online]").getAttribute("data-online") === "online", "the device is online");
    check(await fleetRow.locator("td[data-pending]").getAttribute("data-pending") === "0", "nothing pending");
    check((await fleetRow.locator("td[data-pending]").textContent()).trim() === "0", "the pending column says 0");
    await shot(dash, "dashboard-overview");
    await checkAccessibility(dash, "dashboard", ["banner", "main", "navigation"]);

    // Stock filter.
    await dash.getByLabel("Location", { exact: true }).fill("B-02-01-1");
    await dash.getByRole("button", { name: "Filter stock" }).click();
    await until("the filtered stock", async () => {
      const rows = await dash.locator("#stock tbody tr").allTextContents();
      return rows.length === 1 && rows[0].includes("B-02-01-1") && rows[0].includes("1");
    });

    // The history of the bin: who, when, which device, the raw scans.
    await dash.getByRole("link", { name: "History" }).click();
    await dash.getByLabel("Bin (location)").fill("A-01-01-1");
    await dash.getByRole("button", { name: "Show history" }).click();
    await until("the bin history", async () => {
      const t = await dash.locator("#history").textContent();
      return t.includes("putaway") && t.includes("pick") && t.includes("move") && t.includes("alice") && t.includes(DEVICE) &&
        t.includes("TOTE:7");
    });
    await shot(dash, "dashboard-history");

    // The exception queue: assign, then resolve.
    await dash.getByRole("link", { name: "Exceptions" }).click();
    const row = dash.locator("#exceptions tbody tr", { hasText: "wrong_bin" }).first();
    await until("the wrong_bin exception", async () => (await row.count()) === 1);
    const text = await row.textContent();
    check(text.includes("inventory") && text.includes("B-02-01-1"), "owner and evidence shown: " + text);
    await shot(dash, "dashboard-exceptions");
    const id = await row.getAttribute("data-id");
    await row.getByRole("button", { name: /Assign/ }).click();
    await dash.getByLabel("Owner").fill("carol");
    await dash.getByRole("button", { name: "Assign", exact: true }).click();
    await until("assigned", async () => {
      const e = (await api(ledgerUrl, "GET", "/api/v1/exceptions")).exceptions.find((x) => String(x.id) === id);
      return e && e.status === "assigned" && e.owner === "carol";
    });
    await until("the row to say assigned", async () =>
      (await dash.locator(`#exceptions tbody tr[data-id="${id}"]`).textContent()).includes("carol"));
    await dash.locator(`#exceptions tbody tr[data-id="${id}"]`).getByRole("button", { name: /Resolve/ }).click();
    await dash.getByLabel("Note").fill("label was on the wrong bin; relabelled");
    await dash.getByRole("button", { name: "Resolve", exact: true }).click();
    await until("resolved", async () => {
      const e = (await api(ledgerUrl, "GET", "/api/v1/exceptions")).exceptions.find((x) => String(x.id) === id);
      return e && e.status === "resolved";
    });

    // A task from the dashboard reaches the device's task list.
    await dash.getByRole("link", { name: "Tasks" }).click();
    await dash.getByLabel("Device", { exact: true }).fill(DEVICE);
    await dash.getByLabel("Task id").fill("TASK:18");
    await dash.getByLabel("Task item").fill(ITEM);
    await dash.getByLabel("Bin", { exact: true }).fill("B-02-01-1");
    await dash.getByLabel("Quantity").fill("1");
    await dash.getByRole("button", { name: "Create task" }).click();
    await until("the task on the dashboard", async () => (await dash.locator("#task-list").textContent()).includes("TASK:18"));
    await until("the task on the device", async () => (await dockPage.locator("#tasks").textContent()).includes("TASK:18"), 30000);
    await shot(dash, "dashboard-tasks");

    // The device goes away: its goodbye status turns the fleet row offline,
    // the pending figure marked stale (it may be scanning on).
    await hh.close();
    await dock.close();
    await stop(tallyd);
    await dash.getByRole("link", { name: "Fleet" }).click();
    await until("the device offline in the fleet", async () =>
      (await fleetRow.locator("td[data-online]").getAttribute("data-online")) === "offline", 30000);
    check(await fleetRow.getAttribute("data-stale") === "true", "an offline device's figures are stale");
    check(await fleetRow.locator("td[data-pending] .stale").count() === 1, "the pending column shows the stale marker");
    await shot(dash, "dashboard-fleet");

    check(problems.length === 0, "console or page errors:\n" + problems.join("\n"));
  } finally {
    await browser.close();
    await stop(tallyd);
    await stop(ledger);
    await broker.stop();
  }
}

try {
  await main();
  console.log(`ui_test: passed (${shots} screenshots in ${args.artifacts})`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
} catch (err) {
  console.error("ui_test: FAILED:", err.stack || err);
  for (const p of children) {
    if (p.err.trim()) console.error(`--- ${p.name} stderr (last 2000 bytes) ---\n${p.err.slice(-2000)}`);
  }
  for (const p of children) if (!p.exited) p.child.kill("SIGKILL");
  process.exit(1);
}
