"""Prometheus metrics (served at /metrics). Counters and histograms are kept per process and, under
gunicorn and RQ, summed across processes through PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode). Escalations by state and callbacks due/overdue are read from Redis when
scraped, so every process reports the same truth: those gauges and the scrape itself are
`telephony.store_gauges` (they read every organisation's core, which imports this module)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOK_SECONDS = Histogram(
    "escalations_webhook_seconds",
    "Time to answer a Twilio webhook or API request, by route",
    ["route"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
TIMER_LATENESS_SECONDS = Histogram(
    "escalations_timer_lateness_seconds",
    "How late a hold check-in or hold limit ran against its due time",
    ["timer"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
TWILIO_ERRORS = Counter(
    "escalations_twilio_rest_errors_total",
    "Twilio REST requests that failed, by what was being done and HTTP status (0: unreachable or timed out)",
    ["operation", "status"],
)
CALLBACKS_DIALLED = Counter("escalations_callbacks_dialled_total", "Callback attempts dialled (a lead rung)")
