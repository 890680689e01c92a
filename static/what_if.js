// The Reports view's What-if panel (managers): the current policy's TOML to edit (GET
// /api/policies/current), POST /api/what-if, then GET /api/what-if/<id> every second until it is
// done or failed; the side-by-side rows as a table and the headline counts as one Chart.js chart.
// Text only via textContent.
"use strict";

(() => {
  const panel = document.getElementById("what-if");
  const form = document.getElementById("what-if-form");
  const status = document.getElementById("what-if-status"), error = document.getElementById("what-if-error");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const HEADLINES = [
    ["escalations", "count", "escalations"],
    ["hold", "over_limit", "holds over limit"],
    ["callbacks", "booked", "callbacks booked"],
    ["callbacks", "reached_in_window", "callbacks reached in window"],
    ["check_ins", "made", "check-ins made"],
  ];
  let chart = null;

  async function call(method, path, body) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, credentials: "same-origin", headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({ message: response.statusText }));
    if (response.status === 401) { window.location.assign("/sign-in"); throw new Error("signed out"); }
    return { ok: response.ok, status: response.status, body: answer };
  }

  function problem(body) {
    // A bad policy names its line and key (docs/api.md); the message already says both.
    return body.message || body.error || "The what-if could not be run.";
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (className) td.className = className;
    return td;
  }

  function table(rows) {
    const tbody = document.querySelector("#what-if-table tbody");
    tbody.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.figure = row.figure; tr.dataset.key = row.key;
      const diff = row.difference;
      const shown = typeof diff === "number" && diff > 0 ? `+${diff}` : diff;
      tr.append(cell(row.figure), cell(row.key), cell(row.current), cell(row.changed),
        cell(shown, typeof diff === "number" && diff !== 0 ? (diff > 0 ? "more" : "fewer") : ""));
      tbody.append(tr);
    }
  }

  function draw(figures) {
    const value = (body, [figure, key]) => (body[figure] || {})[key] ?? 0;
    if (chart) chart.destroy();
    chart = new Chart(document.getElementById("chart-what-if"), {
      type: "bar",
      data: {
        labels: HEADLINES.map((h) => h[2]),
        datasets: [
          { label: "current", data: HEADLINES.map((h) => value(figures.current, h)), backgroundColor: "#1f3a5f" },
          { label: "changed", data: HEADLINES.map((h) => value(figures.changed, h)), backgroundColor: "#f0a500" },
        ],
      },
      options: { animation: false, responsive: true, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  async function poll(id) {
    const { ok, body } = await call("GET", `/api/what-if/${encodeURIComponent(id)}`);
    if (!ok) { error.textContent = problem(body); status.textContent = ""; panel.dataset.status = "failed"; return; }
    panel.dataset.status = body.status;
    if (body.status === "queued" || body.status === "running") {
      status.textContent = body.status === "queued" ? "queued, waiting for a worker…" : "replaying…";
      setTimeout(() => poll(id), 1000);
      return;
    }
    window.whatIf = body;  // read back by the browser test
    if (body.status === "failed") { status.textContent = ""; error.textContent = `The replay failed: ${body.error}`; return; }
    const took = Object.entries(body.seconds || {}).map(([k, v]) => `${k} ${v} s`).join(", ");
    status.textContent = `${body.message}${took ? ` Replayed in ${took}.` : ""}`;
    if (body.problems && body.problems.length) error.textContent = `Simulator problems: ${body.problems.slice(0, 3).join("; ")}`;
    if (body.calls) { table(body.rows); draw(body.figures); }
  }

  async function run(event) {
    event.preventDefault();
    error.textContent = ""; status.textContent = "sending…";
    const data = new FormData(form);
    const body = { from: data.get("from"), to: data.get("to"), policy: data.get("policy") };
    const rate = parseFloat(data.get("calls_per_hour"));
    if (rate > 0) body.calls_per_hour = rate;
    const answer = await call("POST", "/api/what-if", body);
    if (!answer.ok) { status.textContent = ""; error.textContent = problem(answer.body); panel.dataset.status = "refused"; return; }
    panel.dataset.status = "queued"; panel.dataset.id = answer.body.id;
    poll(answer.body.id);
  }

  async function prefill() {
    const { ok, body } = await call("GET", "/api/policies/current");
    if (!ok) { error.textContent = problem(body); return; }
    document.getElementById("what-if-policy").value = body.toml;
    panel.dataset.policy = body.version;
  }

  form.addEventListener("submit", run);
  prefill();
})();
