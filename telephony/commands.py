"""What the core asks the workers to do later or elsewhere, one typed command per step, in the
procedures' words: `HoldCheckIn(escalation_id, round, n)` is R-HOLD-2's check-in, `DialCallback`
R-CB-4's attempt. The core schedules them (`ctx.timers.at(when, HoldCheckIn(...), key=...)`,
telephony/adapters/timers.py); one table in the workers (`workers/commands.py`, `HANDLERS`) runs
each. A command is stored as its `name` and its fields in order (`wire`), so a name, once used,
stays: timers wait in Redis across deploys. Imports nothing of the service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar


class UnknownCommand(LookupError):
    """A stored command no table names (a timer written by a newer deploy, or a typo)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A step for the workers. `name` is its stable wire name."""

    name: ClassVar[str]

    def wire(self) -> tuple[str, list[Any]]:
        """(name, fields in order): what a timer or an RQ job stores."""
        return self.name, [getattr(self, f.name) for f in fields(self)]


@dataclass(frozen=True, slots=True)
class HoldCheckIn(Command):
    """R-HOLD-2: the nth check-in of the caller's hold round."""

    name: ClassVar[str] = "hold_check_in"
    escalation_id: str
    round: int
    n: int


@dataclass(frozen=True, slots=True)
class HoldLimit(Command):
    """R-HOLD-3: the round's hold limit; `tries` after Twilio failed to move the caller."""

    name: ClassVar[str] = "hold_limit"
    escalation_id: str
    round: int
    tries: int = 0


@dataclass(frozen=True, slots=True)
class RingLead(Command):
    """R-ESC-7: ring the next person of the hunt again after Twilio failed."""

    name: ClassVar[str] = "ring_lead"
    escalation_id: str
    tries: int = 0


@dataclass(frozen=True, slots=True)
class OfferCallback(Command):
    """R-ESC-7: take the caller to the callback offer again after Twilio failed."""

    name: ClassVar[str] = "offer_callback"
    escalation_id: str
    leads_busy: bool
    tries: int = 0


@dataclass(frozen=True, slots=True)
class RingAgent(Command):
    """The caller waits in their conference: ring their agent (again, after Twilio failed)."""

    name: ClassVar[str] = "ring_agent"
    call_sid: str
    tries: int = 0


@dataclass(frozen=True, slots=True)
class TellLead(Command):
    """What an accepted lead is told when the call changes (`leave`: and the lead's leg ends)."""

    name: ClassVar[str] = "tell_lead"
    escalation_id: str
    notice: str
    leave: bool


@dataclass(frozen=True, slots=True)
class StopRinging(Command):
    """A leg nobody needs any more (the caller chose a callback while a lead was rung)."""

    name: ClassVar[str] = "stop_ringing"
    call_sid: str


@dataclass(frozen=True, slots=True)
class ConnectAfterNotice(Command):
    """R-WARM-5: the lead was told the agent dropped; put the caller through at the latest now."""

    name: ClassVar[str] = "connect_after_notice"
    escalation_id: str


@dataclass(frozen=True, slots=True)
class DialCallback(Command):
    """R-CB-4, R-CB-8: the callback's attempt, claimed once."""

    name: ClassVar[str] = "dial_callback"
    callback_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class CallbackDeadline(Command):
    """R-CB-7: the callback is made by now or flagged overdue."""

    name: ClassVar[str] = "callback_deadline"
    callback_id: str


@dataclass(frozen=True, slots=True)
class PurgeFinished(Command):
    """Issue 8: finished escalations leave live state after the keep time."""

    name: ClassVar[str] = "purge_finished"


@dataclass(frozen=True, slots=True)
class PruneRecords(Command):
    """Issue 30: records older than RECORDS_RETENTION_DAYS leave the history database (daily)."""

    name: ClassVar[str] = "prune_records"


@dataclass(frozen=True, slots=True)
class DrainEvents(Command):
    """Issue 29: run the handlers of the domain events waiting in the organisation's outbox
    (telephony/handlers.py)."""

    name: ClassVar[str] = "drain_events"


@dataclass(frozen=True, slots=True)
class SweepCallbacks(Command):
    """R-CB-8: recover callback attempts a dead worker took with it."""

    name: ClassVar[str] = "sweep_callbacks"


@dataclass(frozen=True, slots=True)
class Reconcile(Command):
    """Issue 34: ask Twilio about the live calls and legs, and apply what it says as their lost
    status callbacks would have (Core.reconcile)."""

    name: ClassVar[str] = "reconcile"


@dataclass(frozen=True, slots=True)
class TellManagersOfRedFlag(Command):
    """R-NOTE-5: the managers hear of a red flag at once (the webhook only recorded it)."""

    name: ClassVar[str] = "red_flag_raised"
    call_sid: str
    red_flag: str


@dataclass(frozen=True, slots=True)
class PostToChannel(Command):
    """R-NOTE-1: a note to the team channel (already kept in Redis)."""

    name: ClassVar[str] = "post_to_channel"
    note: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SendManagerEmail(Command):
    """R-NOTE-2: one SMTP try of the managers' urgent email."""

    name: ClassVar[str] = "send_manager_email"
    email_id: str
    tries: int


@dataclass(frozen=True, slots=True)
class TaskOverdue(Command):
    """R-NOTE-6: a follow-through task's due time."""

    name: ClassVar[str] = "task_overdue"
    task_id: str


@dataclass(frozen=True, slots=True)
class ReplayWhatIf(Command):
    """A manager's what-if replay (docs/what-if.md), on the what-if queue."""

    name: ClassVar[str] = "replay_what_if"
    what_if_id: str


ALL: tuple[type[Command], ...] = (
    HoldCheckIn,
    HoldLimit,
    RingLead,
    OfferCallback,
    RingAgent,
    TellLead,
    StopRinging,
    ConnectAfterNotice,
    DialCallback,
    CallbackDeadline,
    PurgeFinished,
    PruneRecords,
    SweepCallbacks,
    TellManagersOfRedFlag,
    PostToChannel,
    SendManagerEmail,
    TaskOverdue,
    ReplayWhatIf,
    DrainEvents,
    Reconcile,
)
# Commands added since the commands replaced named worker functions: no timer or job stored
# before can name them by a function.
SINCE_COMMANDS: tuple[type[Command], ...] = (DrainEvents, Reconcile, PruneRecords)
BY_NAME: dict[str, type[Command]] = {command.name: command for command in ALL}


def from_wire(name: str, args: Sequence[Any]) -> Command:
    """The command a timer or job stored; UnknownCommand for a name no command has, or
    arguments it does not take."""
    kind = BY_NAME.get(name)
    if kind is None:
        raise UnknownCommand(f"no command {name!r}")
    try:
        return kind(*args)
    except TypeError as exc:
        raise UnknownCommand(f"command {name!r} does not take {list(args)!r}: {exc}") from None
