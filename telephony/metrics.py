"""Prometheus metrics (served at /metrics). Counters and histograms are kept per process and, under
gunicorn and RQ, summed across processes through PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode). Escalations by state and callbacks due/overdue are read from Redis when
scraped, so every process reports the same truth."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.core import Core

import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from telephony.escalation.lifecycle import CallbackStatus, EscalationState

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


class StoreGauges(Collector):
    """Escalations by state, callbacks due now and overdue, per organisation: read from Redis at
    scrape time."""

    def __init__(self, cores: list[Core]) -> None:
        self.cores = cores

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states = GaugeMetricFamily(
            "escalations_by_state", "Escalations in each state", labels=["organisation", "state"]
        )
        due = GaugeMetricFamily(
            "escalations_callbacks_due", "Callbacks whose window has opened, not yet dialled", labels=["organisation"]
        )
        overdue = GaugeMetricFamily(
            "escalations_callbacks_overdue", "Callbacks past their deadline, not completed", labels=["organisation"]
        )
        for core in self.cores:
            org, store = core.policy.organisation_id, core.ctx.store
            for state in EscalationState:
                states.add_metric([org, state.value], len(store.escalation_ids(state.value)))
            now = core.ctx.clock.now()
            due_now = late = 0
            for cb_id in store.callback_ids():
                cb = store.callback(cb_id) or {}
                if (
                    cb.get("status") in (CallbackStatus.SCHEDULED, CallbackStatus.RESCHEDULED)
                    and datetime.fromisoformat(cb["window_start"]) <= now
                ):
                    due_now += 1
                if cb.get("overdue") == "true" and cb.get("status") not in (
                    CallbackStatus.COMPLETED,
                    CallbackStatus.CANCELLED,
                ):
                    late += 1
            due.add_metric([org], due_now)
            overdue.add_metric([org], late)
        yield states
        yield due
        yield overdue


def exposition(cores: list[Core]) -> bytes:
    """The text format for one scrape: this process's metrics, or every process's under
    PROMETHEUS_MULTIPROC_DIR, plus the store's gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (WEBHOOK_SECONDS, TIMER_LATENESS_SECONDS, TWILIO_ERRORS, CALLBACKS_DIALLED):
            registry.register(collector)
    registry.register(StoreGauges(cores))
    return generate_latest(registry)
