// The tally-ledger dashboard: stock, history, the exception queue, KPIs, the
// device fleet and tasks, all through the ledger's HTTP API. It keeps nothing
// but what is on screen (and the KPI values it polled, for the trend lines).
"use strict";
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000;
const TREND_POINTS = 48;
const ONLINE_WITHIN_MS = 5 * 60 * 1000;
const HISTORY_PAGE = 50;
const trends = {};  // KPI name -> values polled since the page was opened

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
// A small inline SVG line of the values polled so far.
function sparkline(values, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const nums = values.filter((v) => typeof v === "number");
  if (nums.length === 0) return svg;
  const min = Math.min(...nums), max = Math.max(...nums), span = max - min || 1;
  const pts = values.map((v, i) => [values.length === 1 ? 100 : (i / (values.length - 1)) * 100,
    typeof v === "number" ? 27 - ((v - min) / span) * 24 : null]).filter((p) => p[1] !== null);
  if (pts.length === 1) pts.unshift([0, pts[0][1]]);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return svg;
}
function kpiCard(name, k, kind, label) {
  const series = (trends[name] = [...(trends[name] || []), k.value].slice(-TREND_POINTS));
  const band = k.band || "no_data";
  return el("div", { class: "kpi " + band, "data-kpi": name },
    el("div", { class: "name", text: label }),
    el("div", { class: "value", text: fmtKpi(k.value, kind) }),
    el("div", { class: "band " + band, text: band.replace("_", " ") }),
    sparkline(series, label + " trend: " + series.map((v) => fmtKpi(v, kind)).join(", ")));
}
let syncLag = {};
async function loadKpis() {
  const { kpis } = await api("/api/v1/kpis?window_s=86400");
  const cards = [];
  for (const [name, [label, kind]] of Object.entries(KPI_LABELS)) {
    if (kpis[name]) cards.push(kpiCard(name, kpis[name], kind, label));
  }
  syncLag = kpis.sync_lag_s || {};
  for (const [device, k] of Object.entries(syncLag)) {
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
async function loadFleet() {
  const { devices } = await api("/api/v1/devices");
  const now = Date.now();
  fillBody("fleet", devices.map((d) => {
    const online = d.last_seen_ms && now - d.last_seen_ms < ONLINE_WITHIN_MS;
    const lag = syncLag[d.device];
    return el("tr", {}, td(d.device, "mono"), td(d.site),
      el("td", { class: online ? "online" : "offline", text: online ? "online" : "offline" }),
      td(d.last_seen_ms ? fmtAge(now - d.last_seen_ms) + " ago" : "never"), td(d.applied_through, "num"),
      td(d.movements, "num"), td(d.rejected, "num" + (d.rejected ? " neg" : "")),
      el("td", { class: lag ? "band " + lag.band : "dim", text: lag && lag.value !== null ? fmtAge(lag.value * 1000) : "—" }));
  }), "No device has synced yet.");
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
refresh();
setInterval(() => { if (!document.hidden && !$("x-dialog").open) refresh(); }, REFRESH_MS);
