// The handheld / dock-station UI of tallyd. Owns no state of its own beyond
// the screen: every scan goes to POST /api/v1/scans (the path a hardware scan
// takes), the status arrives over the WebSocket /api/v1/events.
"use strict";
const $ = (id) => document.getElementById(id);
const input = $("scan");
const MOVES_SHOWN = 8;
const EXCEPTIONS_SHOWN = 6;
let moves = [];            // newest first
let lastSeq = null;        // highest movement seq shown
let seenDeviceSeq = null;  // the device's last_seq when movements were last loaded
let queue = Promise.resolve();  // scans are sent one at a time, in order
let exceptions = [];       // device-side exceptions seen on this screen, newest first
let socketOpen = false;
let lastStatus = null;
let replies = 0;           // scan replies shown (tests wait on data-replies)

// ---- Keyboard wedge: keystrokes land in the scan field without a tap -----
// Printable keys typed while the focus is elsewhere (a button, the page) are
// sent to the scan field; Enter then submits it. Tab, arrows and Space keep
// working on buttons for keyboard users.
function isTextField(el) {
  return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "button"));
}
function refocus() {
  if (document.querySelector("dialog[open]")) return;
  if (document.activeElement !== input) input.focus({ preventScroll: true });
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.altKey || e.metaKey || document.querySelector("dialog[open]")) return;
  if (isTextField(document.activeElement)) return;
  if (e.key.length === 1 && e.key !== " ") refocus();  // the key then types into the field
}, true);
document.addEventListener("visibilitychange", () => { if (!document.hidden) refocus(); });
document.addEventListener("pointerup", (e) => {
  if (!e.target.closest("button, input, dialog, a")) setTimeout(refocus, 0);
});
$("kbd").addEventListener("click", () => {  // the on-screen keyboard, for typing by hand
  const typing = input.inputMode === "none";
  input.inputMode = typing ? "text" : "none";
  $("kbd").setAttribute("aria-pressed", String(typing));
  input.blur(); refocus();
});

$("scan-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.replace(/[\r\n]+$/, "");
  input.value = "";
  if (text.trim() !== "") submit(text);
});
for (const b of document.querySelectorAll("[data-cmd]")) {
  b.addEventListener("click", () => { submit(b.dataset.cmd); refocus(); });
}

// ---- Quantity dialog: CMD:QTY:<n> -----------------------------------------
const qtyDialog = $("qty-dialog");
const qtyValue = $("qty-value");
$("qty-open").addEventListener("click", () => { qtyValue.value = ""; qtyDialog.showModal(); qtyValue.focus(); });
$("qty-cancel").addEventListener("click", () => qtyDialog.close(""));
for (const b of $("qty-pad").querySelectorAll("button")) {
  b.addEventListener("click", () => {
    const k = b.textContent;
    if (k === "C") qtyValue.value = "";
    else if (k === "⌫") qtyValue.value = qtyValue.value.slice(0, -1);
    else if (qtyValue.value.length < 6) qtyValue.value += k;
  });
}
$("qty-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const n = qtyValue.value.trim();
  qtyDialog.close("");
  if (/^[0-9]+$/.test(n) && Number(n) > 0) submit("CMD:QTY:" + Number(n));
});
qtyDialog.addEventListener("close", refocus);

// ---- Sending scans --------------------------------------------------------
function submit(text) {
  queue = queue.then(() => send(text));
}

async function send(text) {
  let status = 0, body = null;
  try {
    const r = await fetch("/api/v1/scans", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text }), cache: "no-store",
    });
    status = r.status;
    body = await r.json().catch(() => null);
  } catch (err) {
    body = { feedback: "error", error: { code: "unreachable", message: "Cannot reach the device" } };
  }
  showReply(text, status, body || {});
  if (body && Array.isArray(body.movements)) addMoves(body.movements);
  else if (body && body.movement) addMoves([body.movement]);
}

// The scan's feedback: the reply's, else from the HTTP status.
function feedbackOf(status, body) {
  if (body.feedback === "good" || body.feedback === "warning" || body.feedback === "error") return body.feedback;
  if (status >= 200 && status < 300) return "good";
  return status >= 500 || status === 0 ? "error" : "warning";
}

function showReply(text, status, body) {
  const err = body.error;
  const feedback = feedbackOf(status, body);
  const message = (err && err.message) || body.message || (feedback === "good" ? "OK" : "Refused");
  flash(feedback, message);
  beep(feedback);
  const last = $("last");
  last.classList.remove("good", "warning", "error");
  last.classList.add(feedback);
  last.dataset.feedback = feedback;
  last.dataset.replies = String(++replies);
  $("last-text").textContent = text;
  $("last-msg").textContent = message;
  $("last-code").textContent = [(err && err.code) || body.code, status ? "HTTP " + status : ""]
    .filter(Boolean).join(" · ");
  if (body.prompt) $("prompt").textContent = body.prompt;
  if (body.operator !== undefined) setOperator(body.operator);
  if (body.mode !== undefined) $("mode").textContent = body.mode || "—";
  if (body.exception) addException(body.exception, text);
}

function setOperator(op) {
  $("operator").textContent = op || "—";
  document.body.classList.toggle("signed-out", !op);
}

// ---- Feedback: full-screen flash and the beeper's patterns ---------------
let flashTimer = 0;
const FLASH = { good: ["✓", 600], warning: ["!", 1200], error: ["✕", 1600] };
function flash(kind, message) {
  const f = $("flash");
  f.className = "show " + kind;
  f.dataset.feedback = kind;
  f.querySelector(".icon").textContent = FLASH[kind][0];
  f.querySelector(".msg").textContent = message;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { f.className = ""; }, FLASH[kind][1]);
}

// good: one short high beep; warning: two; error: one long low tone.
const BEEPS = {
  good: [[2000, 0, 0.09]],
  warning: [[1400, 0, 0.12], [1400, 0.2, 0.12]],
  error: [[330, 0, 0.7]],
};
let audio = null;
function beep(kind) {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const t0 = audio.currentTime + 0.01;
    for (const [freq, at, dur] of BEEPS[kind]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.15, t0 + at);
      gain.gain.setValueAtTime(0, t0 + at + dur);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + dur + 0.02);
    }
  } catch (err) { /* no audio device: the flash still shows */ }
}

// ---- Lists ----------------------------------------------------------------
function item(title, sub, extra) {
  const li = document.createElement("li");
  const t = document.createElement("div"); t.className = "t"; t.textContent = title;
  const s = document.createElement("div"); s.className = "s"; s.textContent = sub;
  li.append(t, s);
  if (extra) li.append(extra);
  return li;
}
function fill(ul, nodes, emptyText) {
  if (nodes.length === 0) {
    const li = document.createElement("li"); li.className = "empty"; li.textContent = emptyText;
    nodes = [li];
  }
  ul.replaceChildren(...nodes);
}

function describe(m) {
  const it = m.item || {};
  const what = it.sku || it.gtin || "?";
  const lot = it.lot ? " lot " + it.lot : "";
  const place = (p) => p ? (p.location || "?") + (p.state ? " (" + p.state + ")" : "") : "?";
  return { title: (m.type || "movement") + " × " + (m.qty ?? "?") + " " + what + lot,
           sub: place(m.from) + " → " + place(m.to) + " · #" + m.seq + " · " + (m.operator || "") +
                (m.time_ms ? " · " + new Date(m.time_ms).toLocaleTimeString() : "") };
}

function addMoves(list) {
  for (const m of list) {
    if (typeof m.seq !== "number" || moves.some((x) => x.seq === m.seq)) continue;
    moves.push(m);
    if (lastSeq === null || m.seq > lastSeq) lastSeq = m.seq;
  }
  moves.sort((a, b) => b.seq - a.seq);
  moves = moves.slice(0, MOVES_SHOWN);
  fill($("moves"), moves.map((m) => { const d = describe(m); return item(d.title, d.sub); }), "None yet");
}

function addException(x, text) {
  exceptions.unshift({ ...x, text, at: Date.now() });
  exceptions = exceptions.slice(0, EXCEPTIONS_SHOWN);
  renderExceptions();
}
function renderExceptions() {
  fill($("exceptions"), exceptions.map((x) => {
    const li = item((x.kind || "exception").replace(/_/g, " "),
      ["expected " + (x.expected || "—"), "scanned " + (x.scanned || x.text || "—"), x.task || "",
       new Date(x.at).toLocaleTimeString(), x.recorded === false ? "NOT recorded" : "recorded"]
        .filter(Boolean).join(" · "));
    li.classList.add("exception");
    return li;
  }), "None");
}

function renderTasks(tasks) {
  if (!Array.isArray(tasks)) return;
  fill($("tasks"), tasks.map((t) => {
    const li = document.createElement("li");
    li.className = "bare";
    const b = document.createElement("button");
    b.type = "button";
    b.className = "task" + (t.current ? " current" : "");
    const lines = Number(t.lines) || 0, done = Number(t.lines_done) || 0;
    const name = document.createElement("span");
    name.textContent = t.id + " · " + t.type + (t.reference ? " · " + t.reference : "");
    const state = document.createElement("span");
    state.className = "pill" + (t.done ? " good" : "");
    state.textContent = t.done ? "done" : done + "/" + lines;
    const bar = document.createElement("progress");
    bar.max = Math.max(lines, 1); bar.value = t.done ? bar.max : done;
    bar.setAttribute("aria-label", t.id + " progress");
    b.append(name, state, bar);
    b.setAttribute("aria-label", t.id + " " + t.type + ", " + (t.done ? "done" : done + " of " + lines + " lines"));
    b.addEventListener("click", () => { submit(t.id); refocus(); });
    li.append(b);
    return li;
  }), "No tasks");
}

// ---- Status: sync indicator, prompt, movements -----------------------------
function renderSync() {
  const el = $("sync");
  el.classList.remove("good", "warning", "error", "reconnecting");
  if (!socketOpen) {
    el.classList.add("reconnecting");
    el.textContent = "Reconnecting…";
    el.dataset.state = "reconnecting";
    return;
  }
  const s = lastStatus || {};
  const j = s.journal || {};
  const pending = (s.lag && typeof s.lag.pending === "number") ? s.lag.pending : (j.pending ?? 0);
  const connected = !!(s.broker && s.broker.connected);
  let state, text;
  if (!connected) { state = "offline"; text = "Offline · " + pending + " pending"; el.classList.add("error"); }
  else if (pending > 0) { state = "pending"; text = "Syncing · " + pending + " pending"; el.classList.add("warning"); }
  else { state = "synced"; text = "Synced"; el.classList.add("good"); }
  el.textContent = text;
  el.dataset.state = state;
  el.dataset.pending = String(pending);
}

function applyStatus(s) {
  lastStatus = s;
  renderSync();
  if (s.operator !== undefined) setOperator(s.operator);
  if (s.mode !== undefined) $("mode").textContent = s.mode || "—";
  if (s.prompt) $("prompt").textContent = s.prompt;
  renderTasks(s.tasks);
  const j = s.journal || {};
  const xp = j.exceptions && j.exceptions.pending;
  $("exc-pending").textContent = xp ? "· " + xp + " to sync" : "";
  loadMoves(j.last_seq).catch(() => {});
}

async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r.json();
}

async function loadMoves(deviceLastSeq) {
  if (typeof deviceLastSeq !== "number" || deviceLastSeq === seenDeviceSeq) return;
  if (lastSeq !== null && deviceLastSeq < lastSeq) { moves = []; lastSeq = null; }  // a new journal
  seenDeviceSeq = deviceLastSeq;
  const after = Math.max(lastSeq ?? 0, deviceLastSeq - MOVES_SHOWN, 0);
  if (after < deviceLastSeq) {
    const page = await getJson("/api/v1/movements?after=" + after + "&limit=" + MOVES_SHOWN);
    addMoves(page.movements || []);
  }
}

// ---- WebSocket /api/v1/events, reconnecting with backoff -------------------
let retryMs = 250;
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/events");
  ws.addEventListener("open", () => { socketOpen = true; retryMs = 250; renderSync(); });
  ws.addEventListener("message", (e) => {
    let m = null;
    try { m = JSON.parse(e.data); } catch (err) { return; }
    if (m && m.type === "status" && m.status) applyStatus(m.status);
  });
  ws.addEventListener("close", () => {
    socketOpen = false;
    renderSync();
    const wait = retryMs + Math.random() * retryMs * 0.3;
    retryMs = Math.min(retryMs * 2, 8000);
    setTimeout(connect, wait);
  });
}

renderSync();
connect();
refocus();
