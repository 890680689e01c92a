// The Reports view: GET /api/reports for the chosen days (the session cookie), drawn with Chart.js
// (node_modules, pinned) and listed as the same rows as the CSV export. Text only via textContent.
"use strict";

const form = document.getElementById("report-form");
const charts = {};
const COLOURS = { in_window: "#1b7f2a", late: "#c62828", given_up: "#6d6d6d", not_yet: "#f0a500" };

// The hold chart's limit: a dashed red line across the bands at limit_seconds (no plugin needed).
const limitLine = {
  id: "limitLine",
  afterDatasetsDraw(chart, args, options) {
    if (!options || options.seconds == null) return;
    const x = chart.scales.x, area = chart.chartArea, width = options.binSeconds;
    const at = x.getPixelForValue(0) + (x.getPixelForValue(1) - x.getPixelForValue(0)) * (options.seconds / width - 0.5);
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = "#c62828"; ctx.lineWidth = 2; ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(at, area.top); ctx.lineTo(at, area.bottom); ctx.stroke();
    ctx.fillStyle = "#c62828"; ctx.fillText(`limit ${options.seconds} s`, Math.min(at + 4, area.right - 60), area.top + 10);
    ctx.restore();
  },
};

function query() {
  const data = new FormData(form);
  return `from=${encodeURIComponent(data.get("from"))}&to=${encodeURIComponent(data.get("to"))}`;
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: true }, config.options || {});
  charts[id] = new Chart(document.getElementById(id), config);
}

function holdChart(hold) {
  const width = hold.distribution.bin_seconds, counts = hold.distribution.counts;
  const labels = counts.map((_, i) => (i === counts.length - 1 ? `${i * width}+ s` : `${i * width}–${(i + 1) * width} s`));
  draw("chart-hold", {
    type: "bar",
    data: { labels, datasets: [{ label: "holds", data: counts, backgroundColor: "#1f3a5f" }] },
    options: {
      plugins: { limitLine: { seconds: hold.limit_seconds, binSeconds: width }, legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
    plugins: [limitLine],
  });
}

function callbackChart(byDay) {
  const days = Object.keys(byDay.days);
  const kinds = ["in_window", "late", "given_up", "not_yet"];
  draw("chart-callbacks", {
    type: "bar",
    data: {
      labels: days,
      datasets: kinds.map((k) => ({
        label: k.replace("_", " "), data: days.map((d) => byDay.days[d][k]), backgroundColor: COLOURS[k],
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function toLeadChart(toLead) {
  const tiers = Object.keys(toLead.by_tier);
  draw("chart-to-lead", {
    type: "bar",
    data: {
      labels: tiers,
      datasets: ["p50", "p90", "max"].map((k, i) => ({
        label: k, data: tiers.map((t) => toLead.by_tier[t][k]), backgroundColor: ["#4a78b5", "#1f3a5f", "#c62828"][i],
      })),
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "seconds" } } } },
  });
}

// The rows of the CSV export: figure, requirement, key (nested keys joined with ':'), value.
function flat(key, value, out) {
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) flat(`${key}:${k}`, v, out);
  } else {
    out.push([key, value === null ? "" : String(value)]);
  }
  return out;
}

function numbers(body) {
  const tbody = document.querySelector("#numbers tbody");
  tbody.replaceChildren();
  for (const [figure, values] of Object.entries(body)) {
    if (values === null || typeof values !== "object") continue;
    for (const [key, value] of Object.entries(values)) {
      if (key === "requirement") continue;
      for (const [k, v] of flat(key, value, [])) {
        const row = document.createElement("tr");
        row.dataset.figure = figure; row.dataset.key = k;
        for (const text of [figure, values.requirement, k, v]) {
          const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
        }
        tbody.append(row);
      }
    }
  }
}

async function load() {
  const status = document.getElementById("report-status"), error = document.getElementById("report-error");
  status.textContent = "loading…"; error.textContent = "";
  document.getElementById("report-csv").href = `/api/reports?${query()}&format=csv`;
  const response = await fetch(`/api/reports?${query()}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ message: response.statusText }));
  if (response.status === 401) { window.location.assign("/sign-in"); return; }
  if (!response.ok) { status.textContent = ""; error.textContent = body.message || "The report could not be made."; return; }
  holdChart(body.hold); callbackChart(body.callbacks_by_day); toLeadChart(body.escalate_to_lead_seconds); numbers(body);
  window.report = body;  // read back by the browser test
  status.textContent = `${body.escalations.count} escalations, ${body.from} to ${body.to} (${body.time_zone})`;
  document.getElementById("reports").dataset.loaded = `${body.from}/${body.to}`;
}

form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
load();
