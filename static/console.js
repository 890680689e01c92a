// The console: reads and changes everything through the JSON API with the session cookie
// (CSRF token in a header), redraws on server-sent events, and times holds by the server's clock.
// Every piece of data reaches the page through textContent, never as HTML.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const me = document.getElementById("me").dataset;
const state = { console: null, escalations: [], callbacks: [], calls: [], serverOffset: 0 };
const OPEN_STATES = ["dialing_lead", "briefing"];

async function api(method, path, body) {
  const headers = { "X-CSRFToken": csrf, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { message: response.statusText }; }
  if (response.status === 401) window.location.assign("/sign-in");
  return { ok: response.ok, status: response.status, data };
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function button(label, onClick, attrs) {
  const b = el("button", label, Object.assign({ type: "button" }, attrs || {}));
  b.addEventListener("click", onClick);
  return b;
}

function masked(number) {
  const digits = String(number || "").replace(/\D/g, "");
  return digits.length >= 4 ? "••• ••• " + digits.slice(-4) : digits || "unknown";  // "***0142" from the API, below lead
}

function now() { return state.console ? Date.parse(state.console.now) : Date.now(); }

function since(iso) {
  if (!iso) return null;
  return Math.max(0, Math.floor((now() - Date.parse(iso)) / 1000));
}

function clockText(seconds) {
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

function isLead() { return state.console && state.console.me.lead; }

// -- loading -------------------------------------------------------------------------------------
async function loadConsole() {
  const r = await api("GET", "/api/console");
  if (r.ok) { state.console = r.data; drawClock(); drawPeople(); drawTimers(); drawAgent(); }
}

async function refresh() {
  const [esc, calls, cbs] = await Promise.all([
    api("GET", "/api/escalations"), api("GET", "/api/calls"), api("GET", "/api/callbacks"),
  ]);
  if (esc.ok) state.escalations = esc.data.escalations;
  if (calls.ok) state.calls = calls.data.calls;
  if (cbs.ok) state.callbacks = cbs.data.callbacks;
  await loadConsole();
  drawBoard(); drawLiveCalls(); drawCallbacks(); drawAgent();
  if (isLead()) await drawQueues();
}

// -- the queues and workers (leads and up: GET /api/queues) -----------------------------------------
async function drawQueues() {
  const r = await api("GET", "/api/queues");
  if (!r.ok) return;
  const queues = document.querySelector("#queues tbody");
  queues.replaceChildren();
  for (const q of r.data.queues) {
    const row = el("tr", null, { "data-queue": q.name });
    for (const v of [q.name, q.queued, q.scheduled, q.started, q.failed, q.deferred]) row.append(el("td", v));
    if (q.failed) row.classList.add("red");
    queues.append(row);
  }
  const workers = document.querySelector("#workers tbody");
  workers.replaceChildren();
  for (const w of r.data.workers) {
    const row = el("tr", null, { "data-worker": w.name });
    const beat = w.seconds_since_heartbeat === null ? "never" : `${Math.round(w.seconds_since_heartbeat)} s ago`;
    row.append(el("td", w.name), el("td", w.state), el("td", beat), el("td", w.current_job || "—"));
    workers.append(row);
  }
  if (!r.data.workers.length) {
    const none = el("tr");
    none.append(el("td", "No RQ worker is running: no timer or callback will run.", { colspan: "4" }));
    workers.append(none);
  }
  document.getElementById("scheduler").textContent = r.data.scheduler
    ? `Timers moved by ${r.data.scheduler}` : "No scheduler holds the lease: timers are not moving.";
}

let pending = null;
function soon() { clearTimeout(pending); pending = setTimeout(refresh, 100); }

function listen() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "ok"; });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "muted"; });
  source.addEventListener("change", soon);
}

// -- header and people ---------------------------------------------------------------------------
function drawClock() {
  const d = new Date(now());
  const clock = document.getElementById("clock");
  clock.textContent = d.toISOString().slice(11, 19) + " UTC";
  clock.dataset.now = String(now());
}

function drawPeople() {
  const body = document.querySelector("#people tbody");
  body.replaceChildren();
  const mine = state.console.me;
  for (const p of state.console.people) {
    const row = el("tr", null, { "data-id": p.id });
    row.append(el("td", p.name), el("td", p.role), el("td", p.team || "—"));
    const cell = el("td");
    if (p.id === mine.id || (mine.lead && p.team === mine.team)) {
      const select = el("select", null, { "aria-label": `Presence of ${p.name}` });
      for (const v of ["available", "busy", "offline"]) {
        const o = el("option", v, { value: v });
        if (v === p.presence) o.selected = true;
        select.append(o);
      }
      select.addEventListener("change", async () => {
        const r = await api("PUT", `/api/people/${encodeURIComponent(p.id)}/presence`, { presence: select.value });
        if (!r.ok) cell.append(el("span", r.data.message, { class: "error" }));
      });
      cell.append(select);
    } else {
      cell.append(el("span", p.presence, { class: `presence ${p.presence}` }));
    }
    row.append(cell);
    body.append(row);
  }
}

// -- features the API has (early warning, warning protocol, tasks, listen, coach) ------------------
// Each feature says which roles may use it; a button shows only to them (an agent never sees
// Listen or Coach, a lead never sees Early warning).
const LABELS = { early_warning: "Early warning", listen: "Listen", coach: "Coach" };

function mayUse(f) { return !f.roles || f.roles.includes(me.role); }

function featureButtons(prefix, id, names) {
  const out = [];
  for (const f of (state.console && state.console.features) || []) {
    if (!f.path.startsWith(prefix) || !f.methods.includes("POST") || !mayUse(f)) continue;
    if (names && !names.includes(f.name)) continue;
    const path = f.path.replace(/<[^>]+>/, encodeURIComponent(id));
    const label = LABELS[f.name] || f.name.replace(/_/g, " ");
    out.push(button(label, async (ev) => {
      const r = await api("POST", path, {});
      ev.target.title = r.data.message || r.data.state || (r.ok ? "done" : "refused");
      soon();
    }, { "data-feature": f.name }));
  }
  return out;
}

function feature(name, method, templated) {
  return ((state.console && state.console.features) || []).find(
    (f) => f.name === name && f.methods.includes(method) && f.path.includes("<") === templated && mayUse(f));
}

// R-NOTE-6: my follow-through tasks (a lead's: also those of the people they lead).
async function drawTasks() {
  const box = document.getElementById("my-tasks");
  const list = feature("tasks", "GET", false);
  if (!list) { box.replaceChildren(); return; }
  const r = await api("GET", list.path);
  const done = feature("tasks", "POST", true);
  box.replaceChildren(el("h3", isLead() ? "Follow-through tasks" : "My follow-through tasks"));
  const ul = el("ul", null, { id: "task-list" });
  for (const t of (r.data.tasks || [])) {
    const li = el("li", null, { "data-id": t.id, "data-status": t.status, class: t.overdue ? "overdue" : "" });
    li.append(el("span", t.title, { class: "task-title" }));
    li.append(el("span", ` · ${t.kind} · due ${t.due_at.slice(11, 16)}`, { class: "muted" }));
    if (t.owner !== me.person) li.append(el("span", ` · ${t.owner}`));
    if (t.overdue) li.append(el("strong", " overdue", { class: "error" }));
    if (t.status === "done") li.append(el("span", " · done", { class: "ok" }));
    else if (done) {
      li.append(button("Done", async () => {
        const d = await api("POST", done.path.replace(/<[^>]+>/, encodeURIComponent(t.id)), {});
        if (!d.ok) li.append(el("span", d.data.message, { class: "error" }));
        soon();
      }, { "aria-label": `Done: ${t.title}` }));
    }
    ul.append(li);
  }
  if (!ul.children.length) ul.append(el("li", "No tasks.", { class: "muted" }));
  box.append(ul);
}

function drawTaskForm(call) {
  const taskForm = document.getElementById("task-form");
  taskForm.hidden = !(call && feature("tasks", "POST", false));
  taskForm.dataset.call = call ? call.call_sid : "";
}

// -- the agent's view ----------------------------------------------------------------------------
function myCall() {
  return state.calls.find((c) => c.agent === me.person) || null;
}

function myEscalation() {
  const call = myCall();
  const open = state.escalations.filter((e) => e.agent === me.person && (OPEN_STATES.includes(e.state) || e.state === "connected"));
  if (call && call.escalation_id) return state.escalations.find((e) => e.id === call.escalation_id && e.agent === me.person) || open[0];
  return open[open.length - 1];
}

function drawAgent() {
  const box = document.getElementById("my-call");
  const call = myCall();
  if (!call) {
    box.replaceChildren(el("span", "No live call.", { class: "muted" }));
  } else {
    const held = since(call.arrived_at);
    const dl = el("dl", null, { class: "call", "data-call": call.call_sid });
    dl.append(el("dt", "Caller"), el("dd", masked(call.from), { class: "caller" }));
    dl.append(el("dt", "Account"), el("dd", call.account || "—"));
    dl.append(el("dt", "On the call"), el("dd", held === null ? "—" : clockText(held), { class: "call-time" }));
    box.replaceChildren(dl);
    if (!call.escalation_id) box.append(button("Escalate…", () => openEscalate(call), { id: "escalate" }));
    if (call.early_warning) {
      const flagged = el("p", `Early warning sent at ${call.early_warning.at.slice(11, 16)}`, { id: "early-warning-sent" });
      if (call.early_warning.told.length) flagged.append(el("span", ` to ${call.early_warning.told.join(", ")}`));
      box.append(flagged);
    }
    const skip = call.early_warning ? ["early_warning"] : [];
    box.append(...featureButtons("/api/calls/", call.call_sid).filter((b) => !skip.includes(b.dataset.feature)));
  }
  drawTaskForm(call);
  const esc = myEscalation();
  const escBox = document.getElementById("my-escalation");
  escBox.replaceChildren();
  if (esc) {
    const p = el("p", null, { class: "escalation" });
    p.append(el("span", "Escalation: "), el("strong", esc.state.replace(/_/g, " "), { id: "my-escalation-state" }));
    if (esc.assignee) p.append(el("span", ` · lead ${esc.assignee}`));
    escBox.append(p);
    const connect = button("Connect caller", async () => {
      connect.disabled = true;
      const r = await api("POST", `/api/escalations/${encodeURIComponent(esc.id)}/connect`, {});
      if (!r.ok) escBox.append(el("p", r.data.message, { class: "error", role: "alert" }));
      soon();
    }, { id: "connect" });
    connect.disabled = esc.state !== "briefing";
    if (esc.state !== "connected") escBox.append(connect);
    escBox.append(...featureButtons("/api/escalations/", esc.id));
  }
  drawTasks();
}

const taskForm = document.getElementById("task-form");
taskForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors(taskForm);
  const create = feature("tasks", "POST", false);
  const r = await api("POST", create.path, {
    call_sid: taskForm.dataset.call, kind: taskForm.elements.kind.value, title: taskForm.elements.title.value,
  });
  if (r.ok) { taskForm.reset(); soon(); } else showError(taskForm, r.data, "task-error");
});

// -- escalate dialog -----------------------------------------------------------------------------
const dialog = document.getElementById("escalate-dialog");
const form = document.getElementById("escalate-form");
let escalating = null;

function openEscalate(call) {
  escalating = { call, key: crypto.randomUUID() };
  form.reset();
  form.elements["client.account"].value = call.account || "";
  form.elements.caller_agreed_to_hold.checked = false;
  clearErrors(form);
  dialog.showModal();
}

function clearErrors(f) {
  for (const s of f.querySelectorAll(".field-error, .error")) s.textContent = "";
}

function showError(f, data, fallbackId) {
  const spot = data.field && f.querySelector(`.field-error[data-field="${CSS.escape(data.field)}"]`);
  (spot || document.getElementById(fallbackId)).textContent = data.message || "Refused.";
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  const f = form.elements;
  const client = {};
  for (const k of ["name", "account", "segment", "region"]) if (f[`client.${k}`].value.trim()) client[k] = f[`client.${k}`].value.trim();
  const r = await api("POST", "/api/escalations", {
    call_sid: escalating.call.call_sid, kind: f.kind.value, reason: f.reason.value, client,
    resolution_offered: f.resolution_offered.value, caller_agreed_to_hold: f.caller_agreed_to_hold.checked,
    idempotency_key: escalating.key,
  });
  if (r.ok) { dialog.close(); soon(); } else showError(form, r.data, "escalate-error");
});
document.getElementById("escalate-cancel").addEventListener("click", () => dialog.close());

// -- the lead's board ----------------------------------------------------------------------------
// R-WARM-7: every live call, with Listen and Coach for those who may use them.
function drawLiveCalls() {
  const body = document.querySelector("#live-calls tbody");
  body.replaceChildren();
  for (const c of state.calls) {
    const row = el("tr", null, { "data-call": c.call_sid });
    row.append(el("td", masked(c.from)), el("td", c.account || "—"), el("td", c.agent || "—"));
    row.append(el("td", c.early_warning ? `flagged ${c.early_warning.at.slice(11, 16)}` : "—", { class: "early-warning" }));
    const actions = el("td");
    actions.append(...featureButtons("/api/calls/", c.call_sid, ["listen", "coach"]));
    row.append(actions);
    body.append(row);
  }
}

function drawBoard() {
  const body = document.querySelector("#board tbody");
  body.replaceChildren();
  for (const e of state.escalations.slice().reverse()) {
    const row = el("tr", null, { "data-id": e.id, "data-state": e.state });
    row.append(el("td", (e.client && e.client.name) || e.call_sid.slice(-6)));
    row.append(el("td", e.state.replace(/_/g, " "), { class: "state" }));
    row.append(el("td", e.kind.replace(/_/g, " ")));
    row.append(el("td", e.tier || "—"), el("td", e.assignee || "—"), el("td", e.agent || "—"));
    row.append(el("td", "—", { class: "hold", "data-since": OPEN_STATES.includes(e.state) ? (e.hold_started_at || "") : "" }));
    const actions = el("td");
    actions.append(...featureButtons("/api/escalations/", e.id));
    row.append(actions);
    body.append(row);
  }
  drawTimers();
}

function drawTimers() {
  if (!state.console) return;
  const { check_in_seconds: checkIn, limit_seconds: limit } = state.console.hold;
  for (const cell of document.querySelectorAll("#board td.hold")) {
    const held = since(cell.dataset.since);
    cell.classList.remove("amber", "red");
    if (held === null) { cell.textContent = "—"; cell.removeAttribute("data-level"); continue; }
    const level = held >= limit ? "red" : held >= checkIn ? "amber" : "ok";
    cell.textContent = clockText(held) + (level === "red" ? " past limit" : level === "amber" ? " check in" : "");
    cell.dataset.level = level;
    if (level !== "ok") cell.classList.add(level);
  }
  const callTime = document.querySelector("#my-call .call-time");
  const call = myCall();
  if (callTime && call) callTime.textContent = clockText(since(call.arrived_at) || 0);
}

// -- callbacks -----------------------------------------------------------------------------------
const rDialog = document.getElementById("reschedule-dialog");
const rForm = document.getElementById("reschedule-form");
let rescheduling = null;

function drawCallbacks() {
  const body = document.querySelector("#callbacks tbody");
  body.replaceChildren();
  for (const cb of state.callbacks) {
    const row = el("tr", null, { "data-id": cb.id, "data-status": cb.status });
    row.append(el("td", masked(cb.number)));
    row.append(el("td", `${cb.window_start.slice(0, 16).replace("T", " ")} – ${cb.window_end.slice(11, 16)}`));
    row.append(el("td", cb.attempts), el("td", cb.status, { class: "status" }), el("td", cb.overdue ? "overdue" : "no"));
    const actions = el("td");
    if (isLead() && !["completed", "cancelled"].includes(cb.status)) {
      actions.append(button("Cancel", async () => {
        const r = await api("POST", `/api/callbacks/${encodeURIComponent(cb.id)}/cancel`, {});
        if (!r.ok) actions.append(el("span", r.data.message, { class: "error" }));
        soon();
      }, { "aria-label": `Cancel callback ${cb.id}`, class: "cancel" }));
      actions.append(button("Reschedule…", () => {
        rescheduling = cb;
        rForm.reset(); clearErrors(rForm);
        rForm.elements.window_start.value = cb.window_start;
        rForm.elements.window_end.value = cb.window_end;
        rDialog.showModal();
      }, { class: "reschedule" }));
    }
    row.append(actions);
    body.append(row);
  }
}

rForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors(rForm);
  const r = await api("POST", `/api/callbacks/${encodeURIComponent(rescheduling.id)}/reschedule`, {
    window_start: rForm.elements.window_start.value, window_end: rForm.elements.window_end.value,
  });
  if (r.ok) { rDialog.close(); soon(); } else showError(rForm, r.data, "reschedule-error");
});
document.getElementById("reschedule-cancel").addEventListener("click", () => rDialog.close());

// -- the softphone (Twilio Voice JavaScript SDK) -----------------------------------------------------
async function softphone() {
  const status = document.getElementById("softphone-status");
  if (!state.console || !state.console.softphone || !window.Twilio || !window.Twilio.Device) {
    status.textContent = "softphone offline (no Twilio)";
    return;
  }
  const first = await api("POST", "/api/voice-token");
  if (!first.ok) { status.textContent = `softphone offline (${first.data.message})`; return; }
  const panel = document.getElementById("softphone");
  const [answer, decline, mute, hangup, incoming] = ["answer", "decline", "mute", "hangup", "incoming"].map((id) => document.getElementById(id));
  const device = new window.Twilio.Device(first.data.token, { closeProtection: true });
  let current = null;
  const idle = () => {
    current = null;
    incoming.textContent = "";
    for (const b of [answer, decline, mute, hangup]) b.hidden = true;
  };
  device.on("registered", () => { status.textContent = `softphone ready (${first.data.identity})`; });
  device.on("error", (error) => { status.textContent = `softphone error: ${error.message}`; });
  device.on("tokenWillExpire", async () => {
    const r = await api("POST", "/api/voice-token");
    if (r.ok) device.updateToken(r.data.token);
  });
  device.on("incoming", (call) => {
    current = call;
    panel.hidden = false;
    incoming.textContent = `Incoming call from ${masked(call.parameters.From)}`;
    answer.hidden = decline.hidden = false;
    answer.focus();
    for (const evName of ["disconnect", "cancel", "reject"]) call.on(evName, idle);
  });
  answer.addEventListener("click", () => {
    if (!current) return;
    current.accept();
    incoming.textContent = "On a call";
    answer.hidden = decline.hidden = true;
    mute.hidden = hangup.hidden = false;
  });
  decline.addEventListener("click", () => current && current.reject());
  mute.addEventListener("click", () => {
    if (!current) return;
    current.mute(!current.isMuted());
    mute.setAttribute("aria-pressed", String(current.isMuted()));
    mute.textContent = current.isMuted() ? "Unmute" : "Mute";
  });
  hangup.addEventListener("click", () => current && current.disconnect());
  await device.register();
}

(async () => {
  await refresh();
  listen();
  setInterval(loadConsole, 1000);
  softphone();
})();
