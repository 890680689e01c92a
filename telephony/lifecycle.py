"""The life of one escalation in one place: its states, what moves it (triggers), the one
transition table, and the domain events each move causes. Pure: it imports nothing of the
service, so the rules can be read, drawn (docs/how-it-works.md is generated from TABLE) and tested
without Redis or Twilio. Everything else asks `fire` whether a move is legal and what it causes;
the store's compare-and-set applies the transition it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import ClassVar


class EscalationState(StrEnum):
    """Where an escalation is (the wire values of the API and the store)."""

    DIALING_LEAD = "dialing_lead"  # the caller holds while a lead is rung
    BRIEFING = "briefing"  # a lead accepted; the agent briefs them, the caller still holds
    CONNECTED = "connected"  # the caller is with the lead
    CALLBACK_SCHEDULED = "callback_scheduled"  # the caller chose a callback (R-CB-1)
    RESOLVED = "resolved"  # the call with the lead ended
    ABANDONED = "abandoned"  # the caller hung up before a lead took them
    FAILED = "failed"  # could not be held, or refused a callback nobody could take


class CallbackStatus(StrEnum):
    """Where a booked callback is (R-CB-2..8)."""

    SCHEDULED = "scheduled"
    DIALING = "dialing"
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    RESCHEDULED = "rescheduled"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


class CaseStatus(StrEnum):
    """The case an escalation becomes (R-ESC-8), moved on by its owner."""

    ESCALATED = "escalated"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


S = EscalationState
# The caller is on hold: check-ins and the hold limit apply (R-HOLD-1..3).
HOLDING_STATES: tuple[EscalationState, ...] = (S.DIALING_LEAD, S.BRIEFING)
# A call is still going on with this escalation.
OPEN_STATES: tuple[EscalationState, ...] = (S.DIALING_LEAD, S.BRIEFING, S.CONNECTED)
# Nothing moves it any more: its record is final (R-NOTE-3).
FINAL_STATES: tuple[EscalationState, ...] = (S.RESOLVED, S.ABANDONED, S.FAILED)

C = CallbackStatus
# Waiting for its window or its next attempt: the dialler may claim it.
DIALLABLE_CALLBACK_STATUSES: tuple[CallbackStatus, ...] = (C.SCHEDULED, C.RESCHEDULED, C.OVERDUE)
# Not over: what a lead's list of callbacks and the sweeper look at.
OPEN_CALLBACK_STATUSES: tuple[CallbackStatus, ...] = (*DIALLABLE_CALLBACK_STATUSES, C.DIALING)
# What a lead may still cancel or move to another window.
CHANGEABLE_CALLBACK_STATUSES: tuple[CallbackStatus, ...] = (*DIALLABLE_CALLBACK_STATUSES, C.NO_ANSWER)
# Over without reaching the caller: the escalation it came from is then finished.
GIVEN_UP_CALLBACK_STATUSES: tuple[CallbackStatus, ...] = (C.CANCELLED, C.NO_ANSWER)
FINAL_CALLBACK_STATUSES: tuple[CallbackStatus, ...] = (C.COMPLETED, *GIVEN_UP_CALLBACK_STATUSES)


class Trigger(StrEnum):
    """What happens to an escalation, in the procedure's words."""

    ESCALATE = "escalate"  # the agent presses escalate: the escalation begins
    HOLD_FAILED = "hold_failed"  # Twilio could not put the caller on hold
    LEAD_ACCEPTED = "lead_accepted"  # a lead pressed 1
    CONNECT = "connect"  # the caller is put through to the lead (R-WARM-4)
    CONNECT_FAILED = "connect_failed"  # Twilio could not take the caller off hold
    LEAD_LEFT = "lead_left"  # the lead's leg ended
    CALLER_LEFT = "caller_left"  # the caller hung up
    CALLBACK_BOOKED = "callback_booked"  # the caller chose a callback (R-CB-1)
    CALLBACK_REFUSED = "callback_refused"  # nobody free, and the caller refused a callback (R-CB-6)
    CALLBACK_CONNECTED = "callback_connected"  # the callback reached the caller, a lead on the line
    CALLBACK_ENDED = "callback_ended"  # the callback's call ended


T = Trigger
# The one transition table: (state, trigger) -> the state it moves to. A pair not here is illegal.
# None is "not yet an escalation": ESCALATE creates it.
TABLE: Mapping[tuple[EscalationState | None, Trigger], EscalationState] = {
    (None, T.ESCALATE): S.DIALING_LEAD,
    (S.DIALING_LEAD, T.HOLD_FAILED): S.FAILED,
    (S.DIALING_LEAD, T.LEAD_ACCEPTED): S.BRIEFING,
    (S.DIALING_LEAD, T.CALLER_LEFT): S.ABANDONED,
    (S.DIALING_LEAD, T.CALLBACK_BOOKED): S.CALLBACK_SCHEDULED,
    (S.DIALING_LEAD, T.CALLBACK_REFUSED): S.FAILED,
    (S.BRIEFING, T.CONNECT): S.CONNECTED,
    (S.BRIEFING, T.LEAD_LEFT): S.DIALING_LEAD,
    (S.BRIEFING, T.CALLER_LEFT): S.ABANDONED,
    (S.BRIEFING, T.CALLBACK_BOOKED): S.CALLBACK_SCHEDULED,
    (S.BRIEFING, T.CALLBACK_REFUSED): S.FAILED,
    (S.CONNECTED, T.CONNECT_FAILED): S.BRIEFING,
    (S.CONNECTED, T.LEAD_LEFT): S.RESOLVED,
    (S.CONNECTED, T.CALLER_LEFT): S.RESOLVED,
    (S.CONNECTED, T.CALLBACK_ENDED): S.RESOLVED,
    (S.CALLBACK_SCHEDULED, T.CALLBACK_CONNECTED): S.CONNECTED,
}


class IllegalTransition(ValueError):
    """The table has no move for this trigger from this state (a late or repeated webhook, two
    clicks): the caller of `fire` decides whether that is a no-op or a 409."""

    def __init__(self, state: EscalationState | None, trigger: Trigger):
        self.state, self.trigger = state, trigger
        legal = ", ".join(sorted(str(s) for s in sources(trigger))) or "nowhere"
        super().__init__(f"An escalation that is {state or 'not yet raised'} cannot {trigger} (only from {legal}).")


# -- domain events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to an escalation, for the rest of the core to react to. Written
    with the state change that caused it (the outbox), so nothing is lost if a process dies."""

    escalation_id: str
    name: ClassVar[str] = ""

    def as_dict(self) -> dict[str, str]:
        return {"event": self.name, **{f.name: str(getattr(self, f.name)) for f in fields(self)}}


@dataclass(frozen=True)
class EscalationRaised(DomainEvent):
    name: ClassVar[str] = "escalation_raised"


@dataclass(frozen=True)
class LeadAccepted(DomainEvent):
    name: ClassVar[str] = "lead_accepted"


@dataclass(frozen=True)
class LeadLeft(DomainEvent):
    name: ClassVar[str] = "lead_left"


@dataclass(frozen=True)
class CallerConnected(DomainEvent):
    name: ClassVar[str] = "caller_connected"


@dataclass(frozen=True)
class CallbackBooked(DomainEvent):
    name: ClassVar[str] = "callback_booked"


@dataclass(frozen=True)
class EscalationFinished(DomainEvent):
    """The escalation reached a final state (its record is final: R-NOTE-3)."""

    state: EscalationState = S.RESOLVED
    name: ClassVar[str] = "escalation_finished"


@dataclass(frozen=True)
class RecordChanged(DomainEvent):
    """A finished escalation (or one whose callback finished) changed after it finished: its
    record is archived again (R-NOTE-3). Not a move of the table: the store's change scripts
    write it, whichever write made the change."""

    name: ClassVar[str] = "record_changed"


EVENT_TYPES: Mapping[str, type[DomainEvent]] = {
    e.name: e
    for e in (
        EscalationRaised,
        LeadAccepted,
        LeadLeft,
        CallerConnected,
        CallbackBooked,
        EscalationFinished,
        RecordChanged,
    )
}


def event_from(data: Mapping[str, str]) -> DomainEvent:
    """An event as written to the outbox, read back."""
    kind = EVENT_TYPES[data["event"]]
    args = {f.name: data[f.name] for f in fields(kind) if f.name in data}
    if kind is EscalationFinished and "state" in args:
        return EscalationFinished(args["escalation_id"], EscalationState(args["state"]))
    return kind(**args)


# Events by trigger; reaching a final state adds EscalationFinished.
_EVENTS_OF: Mapping[Trigger, tuple[type[DomainEvent], ...]] = {
    T.ESCALATE: (EscalationRaised,),
    T.LEAD_ACCEPTED: (LeadAccepted,),
    T.LEAD_LEFT: (LeadLeft,),
    T.CONNECT: (CallerConnected,),
    T.CALLBACK_CONNECTED: (CallerConnected,),
    T.CALLBACK_BOOKED: (CallbackBooked,),
}


@dataclass(frozen=True)
class Transition:
    """One legal move, as the table has it."""

    source: EscalationState | None
    trigger: Trigger
    target: EscalationState

    @property
    def finishes(self) -> bool:
        return self.target in FINAL_STATES

    def events(self, escalation_id: str) -> tuple[DomainEvent, ...]:
        made: list[DomainEvent] = [kind(escalation_id) for kind in _EVENTS_OF.get(self.trigger, ())]
        if self.finishes:
            made.append(EscalationFinished(escalation_id, self.target))
        return tuple(made)


def fire(escalation: Escalation | EscalationState | str | None, trigger: Trigger) -> Transition:
    """The transition `trigger` causes from where the escalation is, or IllegalTransition."""
    state = escalation.state if isinstance(escalation, Escalation) else escalation
    source = EscalationState(state) if state else None
    target = TABLE.get((source, trigger))
    if target is None:
        raise IllegalTransition(source, trigger)
    return Transition(source, trigger, target)


def sources(trigger: Trigger) -> tuple[EscalationState, ...]:
    """Every state `trigger` may move an escalation from (the store's compare-and-set takes these,
    so whichever of them the escalation is in when the script runs, it moves by the table)."""
    return tuple(s for (s, t) in TABLE if t is trigger and s is not None)


def moves(trigger: Trigger) -> dict[EscalationState, EscalationState]:
    """source -> target for every legal move of `trigger`."""
    return {s: target for (s, t), target in TABLE.items() if t is trigger and s is not None}


# -- the escalation as a value --------------------------------------------------------------------
def _flag(raw: Mapping[str, str], name: str) -> bool:
    return raw.get(name) == "true"


@dataclass(frozen=True)
class Escalation:
    """An escalation's fields as the store keeps them (one Redis hash of text), typed once here.
    `raw` keeps every field, for what this value does not name."""

    id: str
    call_sid: str
    state: EscalationState
    kind: str = ""
    agent_id: str = ""
    assignee: str = ""
    assignee_call_sid: str = ""
    attempt_call_sid: str = ""
    conference_sid: str = ""
    caller_placement: str = "conference"
    callback_id: str = ""
    agent_present: bool = False
    lead_in_conference: bool = False
    lead_told_agent_gone: bool = False
    connect_after_notice: bool = False
    caller_agreed_to_hold: bool = False
    raw: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> Escalation:
        return cls(
            id=raw.get("id", ""),
            call_sid=raw.get("call_sid", ""),
            state=EscalationState(raw["state"]),
            kind=raw.get("kind", ""),
            agent_id=raw.get("agent_id", ""),
            assignee=raw.get("assignee", ""),
            assignee_call_sid=raw.get("assignee_call_sid", ""),
            attempt_call_sid=raw.get("attempt_call_sid", ""),
            conference_sid=raw.get("conference_sid", ""),
            caller_placement=raw.get("caller_placement") or "conference",
            callback_id=raw.get("callback_id", ""),
            agent_present=_flag(raw, "agent_present"),
            lead_in_conference=_flag(raw, "lead_in_conference"),
            lead_told_agent_gone=_flag(raw, "lead_told_agent_gone"),
            connect_after_notice=_flag(raw, "connect_after_notice"),
            caller_agreed_to_hold=_flag(raw, "caller_agreed_to_hold"),
            raw=dict(raw),
        )

    @property
    def holding(self) -> bool:
        return self.state in HOLDING_STATES

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def get(self, name: str, default: str = "") -> str:
        return self.raw.get(name, default)


@dataclass(frozen=True)
class Callback:
    """A booked callback's fields, typed once here (the store keeps text)."""

    id: str
    escalation_id: str
    status: CallbackStatus
    number: str = ""
    window_start: str = ""
    window_end: str = ""
    deadline: str = ""
    lead: str = ""
    lead_call_sid: str = ""
    caller_call_sid: str = ""
    attempts: int = 0
    overdue: bool = False
    raw: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> Callback:
        return cls(
            id=raw.get("id", ""),
            escalation_id=raw.get("escalation_id", ""),
            status=CallbackStatus(raw["status"]),
            number=raw.get("number", ""),
            window_start=raw.get("window_start", ""),
            window_end=raw.get("window_end", ""),
            deadline=raw.get("deadline", ""),
            lead=raw.get("lead", ""),
            lead_call_sid=raw.get("lead_call_sid", ""),
            caller_call_sid=raw.get("caller_call_sid", ""),
            attempts=int(raw.get("attempts") or 0),
            overdue=_flag(raw, "overdue"),
            raw=dict(raw),
        )

    @property
    def open(self) -> bool:
        return self.status in OPEN_CALLBACK_STATUSES

    @property
    def finished(self) -> bool:
        return self.status in FINAL_CALLBACK_STATUSES


def finished(state: str, callback_status: str) -> bool:
    """Final: resolved, abandoned or failed; or its callback completed, cancelled or given up."""
    return state in FINAL_STATES or callback_status in FINAL_CALLBACK_STATUSES


def diagram() -> str:
    """The state diagram as Mermaid text, from TABLE (docs/how-it-works.md holds a copy a test
    compares)."""
    lines = ["stateDiagram-v2"]
    for (source, trigger), target in TABLE.items():
        lines.append(f"    {source or '[*]'} --> {target}: {trigger}")
    for state in FINAL_STATES:
        lines.append(f"    {state} --> [*]")
    return "\n".join(lines) + "\n"
