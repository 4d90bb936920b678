// The tally-ledger dashboard: stock, history, the exception queue, KPIs, the
// device fleet and tasks, all through the ledger's HTTP API. It keeps nothing
// but what is on screen (and the KPI trend points: the ledger's KPI history
// loaded on open, then the values it polls).
"use strict";
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000;
const TREND_SPAN_MS = 24 * 3600 * 1000;  // the trend lines cover the KPIs' own window
const TREND_POINTS_MAX = 2000;
const ONLINE_WITHIN_MS = 5 * 60 * 1000;  // devices without a status: seen this recently
const HISTORY_PAGE = 50;
const trends = {};  // KPI name -> [[time_ms, value], …], oldest first

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const td = (text, cls) => el("td", { class: cls, text: text === undefined || text === null ? "" : String(text) });
function fillBody(table, rows, emptyText) {
  const body = $(table).querySelector("tbody");
  const cols = $(table).querySelectorAll("thead th").length;
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: cols, class: "dim", text: emptyText }))]));
}

async function api(path, options) {
  const r = await fetch(path, { cache: "no-store", ...options });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || "HTTP " + r.status);
  return body;
}
function say(text, isError) {
  $("message").textContent = text || "";
  $("message").className = isError ? "error" : "";
}

const fmtTime = (ms) => ms ? new Date(ms).toLocaleString() : "—";
function fmtAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return s + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return Math.round(s / 86400) + " d";
}
const itemName = (it) => (it && (it.sku || it.gtin)) || "?";
const place = (p) => p ? p.location + (p.state ? " (" + p.state + ")" : "") : "?";

// ---- KPIs -------------------------------------------------------------------
const KPI_LABELS = {
  inventory_accuracy: ["Inventory accuracy", "ratio"], pick_accuracy: ["Pick accuracy", "ratio"],
  exception_rate: ["Exception rate", "ratio"], exception_queue: ["Exception queue", "count"],
  exception_oldest_age_s: ["Oldest exception", "age"], exception_median_age_s: ["Median exception age", "age"],
  dock_to_stock_median_s: ["Dock to stock (median)", "age"], damage_rate: ["Damage rate", "ratio"],
};
function fmtKpi(value, kind) {
  if (value === null || value === undefined) return "no data";
  if (kind === "ratio") return (value * 100).toFixed(value >= 0.995 || value === 0 ? 1 : 2) + " %";
  if (kind === "age") return fmtAge(value * 1000);
  return String(value);
}
// A small inline SVG line of a KPI's points, placed by their time.
function sparkline(points, label, kind) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const nums = points.filter((p) => typeof p[1] === "number");
  svg.dataset.points = String(nums.length);
  svg.dataset.history = String(nums.filter((p) => p[2]).length);
  if (nums.length === 0) {
    svg.setAttribute("aria-label", label + " trend: no data yet");
    return svg;
  }
  const values = nums.map((p) => p[1]);
  const min = Math.min(...values), max = Math.max(...values), span = max - min || 1;
  const t0 = nums[0][0], tspan = nums[nums.length - 1][0] - t0 || 1;
  const pts = nums.map((p) => [nums.length === 1 ? 100 : ((p[0] - t0) / tspan) * 100, 27 - ((p[1] - min) / span) * 24]);
  if (pts.length === 1) pts.unshift([0, pts[0][1]]);
  svg.setAttribute("aria-label", label + " trend over " + fmtAge(nums[nums.length - 1][0] - t0) + ": " +
    nums.length + " points from " + fmtKpi(values[0], kind) + " to " + fmtKpi(values[values.length - 1], kind) +
    " (low " + fmtKpi(min, kind) + ", high " + fmtKpi(max, kind) + ")");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return svg;
}
// Adds a point to a KPI's trend (history points carry a third element, true).
function addPoint(name, time, value, fromHistory) {
  const series = (trends[name] = trends[name] || []);
  if (series.length && time <= series[series.length - 1][0]) return;  // already there (history overlaps live)
  series.push(fromHistory ? [time, value, true] : [time, value]);
  const cut = series.findIndex((p) => p[0] >= time - TREND_SPAN_MS);
  if (cut > 0) series.splice(0, cut);
  if (series.length > TREND_POINTS_MAX) series.splice(0, series.length - TREND_POINTS_MAX);
}
function kpiCard(name, k, kind, label) {
  const band = k.band || "no_data";
  return el("div", { class: "kpi " + band, "data-kpi": name },
    el("div", { class: "name", text: label }),
    el("div", { class: "value", text: fmtKpi(k.value, kind) }),
    el("div", { class: "band " + band, text: band.replace("_", " ") }),
    sparkline(trends[name] || [], label, kind));
}
// The ledger's KPI history (GET /api/v1/kpis/history), once when the page opens.
async function loadKpiHistory() {
  const since = Date.now() - TREND_SPAN_MS;
  const { samples } = await api("/api/v1/kpis/history?since=" + since + "&limit=" + TREND_POINTS_MAX);
  for (const s of samples) {
    for (const [name, v] of Object.entries(s.kpis || {})) {
      if (name === "sync_lag_s" && v && typeof v === "object") {
        for (const [device, lag] of Object.entries(v)) addPoint("sync_lag_s:" + device, s.time_ms, lag, true);
      } else if (KPI_LABELS[name]) {
        addPoint(name, s.time_ms, v, true);
      }
    }
  }
}
let syncLag = {};
async function loadKpis() {
  const { kpis } = await api("/api/v1/kpis?window_s=86400");
  const cards = [];
  const time = kpis.now_ms || Date.now();
  for (const [name, [label, kind]] of Object.entries(KPI_LABELS)) {
    if (!kpis[name]) continue;
    addPoint(name, time, kpis[name].value, false);
    cards.push(kpiCard(name, kpis[name], kind, label));
  }
  syncLag = kpis.sync_lag_s || {};
  for (const [device, k] of Object.entries(syncLag)) {
    addPoint("sync_lag_s:" + device, time, k.value, false);
    cards.push(kpiCard("sync_lag_s:" + device, k, "age", "Sync lag " + device));
  }
  $("kpis").replaceChildren(...cards);
}

// ---- stock ------------------------------------------------------------------
async function loadStock() {
  const q = new URLSearchParams({ limit: "500" });
  for (const f of ["item", "location", "state"]) { const v = $("f-" + f).value.trim(); if (v) q.set(f, v); }
  const { balances } = await api("/api/v1/balances?" + q);
  const external = $("f-external").checked;
  fillBody("stock", balances.filter((b) => external || !b.location.startsWith("@")).map((b) =>
    el("tr", {}, td(b.item, "mono"), td(b.lot), td(b.location, "mono"), td(b.state), td(b.qty, "num" + (b.qty < 0 ? " neg" : "")),
      el("td", {}, el("button", { type: "button", "aria-label": "History of " + b.item + " in " + b.location,
        text: "History", onclick: () => showHistory(b.item, b.location) })))), "No stock matches.");
}

// ---- history of an item or a bin ----------------------------------------------
let historyBefore = 0;
async function loadHistory(more) {
  const item = $("h-item").value.trim(), location = $("h-location").value.trim();
  if (!item && !location) { say("Give an item or a bin.", true); return; }
  const q = new URLSearchParams({ limit: String(HISTORY_PAGE) });
  if (item) q.set("item", item);
  if (location) q.set("location", location);
  if (more && historyBefore) q.set("before", String(historyBefore));
  const page = await api("/api/v1/history?" + q);
  historyBefore = page.next_before || 0;
  $("history-more").hidden = !historyBefore;
  const rows = page.movements.map((m) => el("tr", { "data-id": m.id },
    td(fmtTime(m.time_ms)), td(m.type), td(itemName(m.item) + (m.item && m.item.lot ? " lot " + m.item.lot : ""), "mono"),
    td(m.qty, "num"), td(place(m.from) + " → " + place(m.to), "mono"), td(m.operator),
    td(m.device + " · " + m.seq, "mono"), td(m.reference || m.reason || ""),
    td((m.evidence || []).join("  ·  "), "mono")));
  const body = $("history").querySelector("tbody");
  if (more) body.append(...rows); else fillBody("history", rows, "No movements.");
}
function showHistory(item, location) {
  $("h-item").value = item || "";
  $("h-location").value = location || "";
  location_hash("history-section");
  loadHistory(false).catch((e) => say(e.message, true));
}
function location_hash(id) { $(id).scrollIntoView({ block: "start" }); }

// ---- exceptions ---------------------------------------------------------------
let exceptionsShown = [];
async function loadExceptions() {
  const status = $("x-status").value;
  const { exceptions } = await api("/api/v1/exceptions" + (status && status !== "unresolved" ? "?status=" + status : ""));
  const list = exceptions.filter((x) => status !== "unresolved" || x.status !== "resolved");
  const rank = { high: 0, medium: 1, low: 2 };
  list.sort((a, b) => (rank[a.priority] ?? 3) - (rank[b.priority] ?? 3) || a.created_ms - b.created_ms);
  exceptionsShown = list;
  const now = Date.now();
  fillBody("exceptions", list.map((x) => {
    const ev = x.evidence || {};
    const summary = [ev.expected && "expected " + ev.expected, ev.scanned && "scanned " + ev.scanned,
      Array.isArray(ev.scans) && ev.scans.length && "scans " + ev.scans.join(", "), ev.operator && "by " + ev.operator]
      .filter(Boolean).join(" · ") || "see details";
    const actions = el("div", { class: "actions" });
    if (x.status !== "resolved") {
      actions.append(
        el("button", { type: "button", text: "Assign", "aria-label": "Assign exception " + x.id, onclick: () => openDialog(x, "assign") }),
        el("button", { type: "button", text: "Resolve", "aria-label": "Resolve exception " + x.id, onclick: () => openDialog(x, "resolve") }));
    }
    return el("tr", { "data-id": x.id, "data-status": x.status },
      td(x.id, "num"), td(x.kind), td(x.priority, "prio-" + x.priority), td(x.owner),
      td(x.status === "resolved" ? "—" : fmtAge(now - x.created_ms)), td(x.device + (x.seq ? " · " + x.seq : ""), "mono"),
      el("td", {}, el("details", {}, el("summary", { text: summary }),
        el("pre", { class: "evidence mono", text: JSON.stringify(ev, null, 1) }))),
      td(x.next_action), td(x.status + (x.note ? " — " + x.note : "")), el("td", {}, actions));
  }), "The queue is empty.");
}
let dialogTarget = null;
function openDialog(x, action) {
  dialogTarget = { id: x.id, action };
  $("x-dialog-h").textContent = (action === "assign" ? "Assign" : "Resolve") + " exception " + x.id;
  $("x-dialog-what").textContent = x.kind + " on " + x.device + " — " + x.next_action;
  $("x-owner").value = action === "assign" ? "" : x.owner;
  $("x-note").value = "";
  $("x-owner-label").hidden = action !== "assign";
  $("x-note-label").hidden = action === "assign";
  $("x-submit").textContent = action === "assign" ? "Assign" : "Resolve";
  $("x-dialog").showModal();
  (action === "assign" ? $("x-owner") : $("x-note")).focus();
}
$("x-cancel").addEventListener("click", () => $("x-dialog").close());
$("x-dialog-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const t = dialogTarget;
  const body = { action: t.action };
  if (t.action === "assign") body.owner = $("x-owner").value.trim(); else body.note = $("x-note").value.trim();
  try {
    await api("/api/v1/exceptions/" + t.id, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    $("x-dialog").close();
    say("Exception " + t.id + (t.action === "assign" ? " assigned to " + body.owner : " resolved"));
    await loadExceptions();
  } catch (err) { say(err.message, true); }
});
$("x-status").addEventListener("change", () => loadExceptions().catch((e) => say(e.message, true)));

// ---- fleet --------------------------------------------------------------------
// Online and pending come from the device's own retained status (birth and
// last will) when it has one; without, "online" means seen in the last 5 min.
function onlineCell(d, now) {
  if (d.online === null || d.online === undefined) {
    const seen = d.last_seen_ms && now - d.last_seen_ms < ONLINE_WITHIN_MS;
    return el("td", { class: seen ? "online" : "offline", "data-online": seen ? "seen" : "unknown" },
      seen ? "seen" : "unknown", el("span", { class: "dim small", text: " no status" }));
  }
  return el("td", { class: d.online ? "online" : "offline", "data-online": d.online ? "online" : "offline" },
    d.online ? "online" : "offline",
    el("span", { class: "dim small", text: d.status_ms ? " · " + fmtAge(now - d.status_ms) : "" }));
}
function pendingCell(d, now) {
  if (d.pending === null || d.pending === undefined) return el("td", { class: "num dim", "data-pending": "", text: "—" });
  const why = d.online ? "the ledger has applied past the device's last status"
    : "the device is offline: it may have recorded more since its last status (" + fmtAge(now - d.status_ms) + " ago)";
  return el("td", { class: "num" + (d.pending > 0 ? " warn" : ""), "data-pending": String(d.pending) },
    String(d.pending), d.stale ? el("span", { class: "stale", title: why, text: "stale" }) : null);
}
async function loadFleet() {
  const { devices } = await api("/api/v1/devices");
  const now = Date.now();
  fillBody("fleet", devices.map((d) => {
    const lag = syncLag[d.device];
    return el("tr", { "data-device": d.device, "data-stale": d.stale ? "true" : "false" },
      td(d.device, "mono"), td(d.site), onlineCell(d, now), pendingCell(d, now),
      td(d.last_seq === null ? "—" : d.applied_through + " / " + d.last_seq, "num"),
      td(d.lag === null ? "—" : d.lag, "num" + (d.lag ? " warn" : "")),
      td(d.version || "—", "mono"),
      td(d.last_seen_ms ? fmtAge(now - d.last_seen_ms) + " ago" : "never"),
      td(d.movements, "num"), td(d.rejected, "num" + (d.rejected ? " neg" : "")),
      el("td", { class: lag ? "band " + lag.band : "dim", text: lag && lag.value !== null ? fmtAge(lag.value * 1000) : "—" }));
  }), "No device has synced or sent its status yet.");
}

// ---- tasks --------------------------------------------------------------------
async function loadTasks() {
  const { tasks } = await api("/api/v1/tasks");
  const rows = [];
  for (const snap of tasks) {
    for (const t of snap.tasks) {
      rows.push(el("tr", {}, td(snap.site + " · " + snap.device, "mono"), td(t.id, "mono"), td(t.type), td(t.reference),
        td((t.lines || []).map((l) => (l.qty ?? "") + " × " + (l.sku || l.gtin || "?") + (l.bin ? " @ " + l.bin : "")).join("; ")),
        td(snap.version, "num")));
    }
  }
  fillBody("task-list", rows, "No tasks.");
}
$("task-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const item = $("t-item").value.trim();
  const line = { line: 1, qty: Number($("t-qty").value) };
  if (/^[0-9]{8,14}$/.test(item)) line.gtin = item; else line.sku = item;
  if ($("t-bin").value.trim()) line.bin = $("t-bin").value.trim();
  const task = { id: $("t-id").value.trim(), type: $("t-type").value, lines: [line] };
  if ($("t-ref").value.trim()) task.reference = $("t-ref").value.trim();
  try {
    await api("/api/v1/tasks", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ site: $("t-site").value.trim(), device: $("t-device").value.trim(), task }) });
    say("Task " + task.id + " sent to " + $("t-device").value.trim());
    await loadTasks();
  } catch (err) { say(err.message, true); }
});

// ---- wiring -------------------------------------------------------------------
$("stock-form").addEventListener("submit", (e) => { e.preventDefault(); loadStock().catch((x) => say(x.message, true)); });
$("history-form").addEventListener("submit", (e) => { e.preventDefault(); loadHistory(false).catch((x) => say(x.message, true)); });
$("history-more").addEventListener("click", () => loadHistory(true).catch((x) => say(x.message, true)));

async function refresh() {
  try {
    await loadKpis();  // first: the fleet shows its sync lag
    await Promise.all([loadStock(), loadExceptions(), loadFleet(), loadTasks()]);
    $("updated").textContent = "Updated " + new Date().toLocaleTimeString();
  } catch (err) {
    $("updated").textContent = "Not updated: " + err.message;
  }
}
loadKpiHistory().catch((err) => say("KPI history: " + err.message, true)).finally(refresh);
setInterval(() => { if (!document.hidden && !$("x-dialog").open) refresh(); }, REFRESH_MS);
