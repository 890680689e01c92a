"""What /metrics serves (routes/operations.py): the gauges read from Redis at scrape time,
escalations by state and callbacks due and overdue per organisation, beside the counters and
histograms of `telephony.metrics`. It reads every organisation's core, so it sits above
`telephony.core`: no module of the core imports it (telephony.metrics importing Core closed an
import cycle of 24 modules, issue 29)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from telephony.core import Core
from telephony.lifecycle import CallbackStatus, EscalationState
from telephony.metrics import CALLBACKS_DIALLED, TIMER_LATENESS_SECONDS, TWILIO_ERRORS, WEBHOOK_SECONDS


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
        waiting = GaugeMetricFamily(
            "escalations_events_waiting",
            "Domain events waiting in the outbox for their handlers: the history database's backlog while it is down",
            labels=["organisation"],
        )
        oldest = GaugeMetricFamily(
            "escalations_events_oldest_waiting_seconds", "How long the oldest event has waited", labels=["organisation"]
        )
        database_up = GaugeMetricFamily(
            "escalations_history_database_up", "The history database answers (1) or not (0)"
        )
        if self.cores:
            database_up.add_metric([], 1 if self.cores[0].records.history.ping() else 0)
        for core in self.cores:
            org, store = core.policy.organisation_id, core.ctx.store
            waiting.add_metric([org], store.outbox_length())
            first = store.outbox_oldest()
            oldest.add_metric([org], max(0.0, time.time() - first) if first is not None else 0.0)
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
        yield waiting
        yield oldest
        yield database_up


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
