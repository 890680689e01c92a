"""What the rest of the core does when an escalation moves (issue 29): one table from each domain
event (telephony/lifecycle.py) to the handlers that react to it, as cosmicpython's
EVENT_HANDLERS. The event is written with the state change that caused it, in the same Redis
round trip (the store's outbox), and a worker drains the outbox (the `DrainEvents` command),
so a request or webhook does only what the caller needs, and a process dying between the change
and its handlers loses nothing: the entry is still there for the next drain, or for the sweep
(`Events.sweep`, from the scheduler's housekeeping).

Handlers are idempotent: each runs at most once per outbox entry when it succeeds (its mark is
set after it ran), an entry is claimed by one drain at a time, and what they do checks state
again (the archive builds the record as it now is; the managers' email is once per occasion)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from telephony.commands import DrainEvents
from telephony.context import Context
from telephony.lifecycle import (
    EVENT_TYPES,
    CallbackBooked,
    CallerConnected,
    DomainEvent,
    EscalationFinished,
    EscalationRaised,
    LeadAccepted,
    LeadLeft,
    RecordChanged,
    event_from,
)
from telephony.notify.notifier import Notifier
from telephony.records import retention
from telephony.records.escalation_record import Records

log = logging.getLogger(__name__)

DRAIN_KEY = "drain-events"
BATCH = 100
# A drain that took an entry and died: another may take it this much later.
CLAIM_SECONDS = 60
# The scheduler's sweep asks for a drain when the oldest entry has waited this long (a process
# died between the change and asking for its drain: a cluster's second call).
SWEEP_AFTER_SECONDS = 30


Handler = Callable[["Events", Any], None]


def tell_team_escalated(events: Events, event: EscalationRaised) -> None:
    """R-NOTE-1: the team channel hears of every escalation."""
    esc = events.ctx.store.escalation(event.escalation_id) or {}
    kind = esc.get("kind", "").replace("_", " ")
    events.notify.team(event.escalation_id, f"Escalation ({kind}) from {events.ctx.name(esc.get('created_by', ''))}")


def email_managers_escalated(events: Events, event: EscalationRaised) -> None:
    """R-NOTE-2: the managers' urgent email, where the kind calls for one (once per occasion)."""
    events.notify.urgent_email(event.escalation_id, "escalated")


def purge_later(events: Events, event: DomainEvent) -> None:
    """Issue 8: one purge timer runs while anything live is left."""
    retention.ensure_purge(events.ctx)


def tell_team_callback_booked(events: Events, event: CallbackBooked) -> None:
    """R-NOTE-1: the callback's number and window go to the team channel."""
    esc = events.ctx.store.escalation(event.escalation_id) or {}
    cb = events.ctx.store.callback(esc.get("callback_id", "")) or {}
    if not cb:
        return
    events.notify.team(
        event.escalation_id,
        "Escalation: callback booked",
        callback_time=f"{cb.get('requested', '')} ({cb.get('window_start', '')} to {cb.get('window_end', '')})",
    )


def email_managers_callback_booked(events: Events, event: CallbackBooked) -> None:
    """R-NOTE-2: seed 002's call-back emails (formal complaint, abusive caller)."""
    events.notify.urgent_email(event.escalation_id, "callback_booked")


def archive(events: Events, event: DomainEvent) -> None:
    """R-NOTE-3: a finished escalation's record is archived, and again when it changes later."""
    events.records.archive(event.escalation_id)


# The one table: each event, the handlers that react to it, in order. Each handler's name is its
# mark in the outbox (a handler renamed runs again for the entries waiting: they are few).
EVENT_HANDLERS: Mapping[type[DomainEvent], tuple[Handler, ...]] = {
    EscalationRaised: (tell_team_escalated, email_managers_escalated, purge_later),
    LeadAccepted: (),
    LeadLeft: (),
    CallerConnected: (),
    CallbackBooked: (tell_team_callback_booked, email_managers_callback_booked),
    EscalationFinished: (archive,),
    RecordChanged: (archive,),
}


def read_event(data: Mapping[str, str]) -> DomainEvent | None:
    """An outbox entry as an event; None for one this code does not know (written by a newer one)."""
    if data.get("event", "") not in EVENT_TYPES:
        return None
    return event_from(data)


def marks_of(data: Mapping[str, str]) -> tuple[str, ...]:
    """The marks an entry's handlers leave (each handler's name)."""
    event = read_event(data)
    return tuple(h.__name__ for h in EVENT_HANDLERS.get(type(event), ())) if event else ()


class Events:
    """The organisation's handlers and what they work with; the drain and the sweep."""

    def __init__(self, ctx: Context, notifier: Notifier, records: Records):
        self.ctx = ctx
        self.notify = notifier
        self.records = records

    def drain(self, count: int = BATCH) -> int:
        """Run the handlers of every event waiting in the outbox, oldest first; returns the
        entries finished. A handler that raises leaves its entry (and the rest of its handlers)
        for the next drain, which this one asks for by raising at the end (the timer's retry)."""
        done, failed, after = 0, 0, ""
        while entries := self.ctx.store.outbox(count, after):
            for entry_id, data in entries:
                if not self.ctx.store.claim_outbox_entry(entry_id, CLAIM_SECONDS):
                    continue  # another drain has it
                if self._handle(entry_id, data):
                    self.ctx.store.outbox_done(entry_id, marks_of(data))
                    done += 1
                else:
                    self.ctx.store.release_outbox_entry(entry_id)
                    failed += 1
            after = entries[-1][0]  # on past one that failed or another drain has: it waits, the rest do not
        if failed:
            raise RuntimeError(f"{failed} outbox entries had a handler fail; they stay for the next drain")
        return done

    def _handle(self, entry_id: str, data: Mapping[str, str]) -> bool:
        event = read_event(data)
        if event is None:
            log.warning("outbox entry %s: unknown event %r, left alone", entry_id, data.get("event"))
            return True
        for handler in EVENT_HANDLERS.get(type(event), ()):
            mark = handler.__name__
            if self.ctx.store.handled(entry_id, mark):
                continue
            try:
                handler(self, event)
            except Exception:
                log.exception("handler %s of %s (%s) failed", mark, event.name, event.escalation_id)
                return False
            self.ctx.store.mark_handled(entry_id, mark)
        return True

    def sweep(self) -> bool:
        """The scheduler's housekeeping: an entry left waiting (a process died after the change,
        before asking for its drain) is drained. True when a drain was asked for."""
        oldest = self.ctx.store.outbox_oldest()  # Redis's own time (a stream entry's id), not the service's clock
        if oldest is None or time.time() - oldest < SWEEP_AFTER_SECONDS:
            return False
        self.ask_drain()
        return True

    def ask_drain(self) -> str:
        return self.ctx.timers.now(DrainEvents(), key=DRAIN_KEY, urgent=True)

    def drain_entry(self) -> tuple[str, float, str]:
        return self.ctx.timers.entry(DrainEvents(), key=DRAIN_KEY, urgent=True)
