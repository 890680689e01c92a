"""The one table from the core's commands (telephony/commands.py) to the workers' handlers
(workers/handlers.py), and the two RQ entry points that dispatch through it: `run_timers`, a batch of
due timers, and `in_organisation`, a step queued straight onto RQ (telephony/adapters/timers.py
names both). Timers and jobs stored before the commands name a worker function instead;
OLD_FUNCS maps each to its command, so nothing waiting at a deploy is lost."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telephony.adapters.timers import DEFAULT_ORGANISATION
from telephony.commands import (
    CallbackDeadline,
    Command,
    ConnectAfterNotice,
    DialCallback,
    DrainEvents,
    HoldCheckIn,
    HoldLimit,
    OfferCallback,
    PostToChannel,
    PruneRecords,
    PurgeFinished,
    Reconcile,
    ReplayWhatIf,
    RingAgent,
    RingLead,
    SendManagerEmail,
    StopRinging,
    SweepCallbacks,
    TaskOverdue,
    TellLead,
    TellManagersOfRedFlag,
    UnknownCommand,
    from_wire,
)
from workers import handlers
from workers.runtime import core, organisation

log = logging.getLogger(__name__)


def replay_what_if(command: ReplayWhatIf) -> str:
    """The what-if replay imports the simulator: only the what-if queue's work-horse does
    (workers/worker.py), not every worker."""
    from workers.what_if import replay_what_if as replay

    return replay(command.what_if_id)


HANDLERS: dict[type[Command], Callable[[Any], object]] = {
    HoldCheckIn: handlers.hold_check_in,
    HoldLimit: handlers.hold_limit,
    RingLead: handlers.ring_lead,
    OfferCallback: handlers.offer_callback,
    RingAgent: handlers.ring_agent,
    TellLead: handlers.tell_lead,
    StopRinging: handlers.stop_ringing,
    ConnectAfterNotice: handlers.connect_after_notice,
    DialCallback: handlers.dial_callback,
    CallbackDeadline: handlers.callback_deadline,
    PurgeFinished: handlers.purge_finished,
    PruneRecords: handlers.prune_records,
    SweepCallbacks: handlers.sweep_callbacks,
    TellManagersOfRedFlag: handlers.red_flag_raised,
    PostToChannel: handlers.post_to_channel,
    SendManagerEmail: handlers.send_manager_email,
    TaskOverdue: handlers.task_overdue,
    ReplayWhatIf: replay_what_if,
    DrainEvents: handlers.drain_events,
    Reconcile: handlers.reconcile,
}

# The worker functions timers and RQ jobs named before the commands, each with its command (the
# same arguments in the same order).
OLD_FUNCS: dict[str, type[Command]] = {
    "workers.jobs.hold_check_in": HoldCheckIn,
    "workers.jobs.hold_limit": HoldLimit,
    "workers.jobs.hunt": RingLead,
    "workers.jobs.offer_callback": OfferCallback,
    "workers.jobs.ring_agent": RingAgent,
    "workers.jobs.tell_lead": TellLead,
    "workers.jobs.stop_ringing": StopRinging,
    "workers.jobs.connect_after_notice": ConnectAfterNotice,
    "workers.jobs.dial_callback": DialCallback,
    "workers.jobs.callback_deadline": CallbackDeadline,
    "workers.jobs.purge_finished": PurgeFinished,
    "workers.jobs.sweep_callbacks": SweepCallbacks,
    "workers.jobs.red_flag_raised": TellManagersOfRedFlag,
    "workers.jobs.post_to_channel": PostToChannel,
    "workers.jobs.send_manager_email": SendManagerEmail,
    "workers.jobs.task_overdue": TaskOverdue,
    "workers.what_if.replay_what_if": ReplayWhatIf,
}


def command_of(name: str, args: list[Any]) -> Command:
    """The command a timer or job stored under its name, or under the worker function it named
    before the commands; UnknownCommand if no handler runs it."""
    old = OLD_FUNCS.get(name)
    command = from_wire(old.name if old is not None else name, args)
    if type(command) not in HANDLERS:
        raise UnknownCommand(f"no handler for command {command.name!r}")
    return command


def run(command: Command) -> object:
    return HANDLERS[type(command)](command)


def in_organisation(org: str, name: str, args: list[Any]) -> object:
    """Every step queued straight onto RQ: run the command named, as this organisation's work. One
    no handler runs is logged and dropped (retrying it would not help)."""
    try:
        command = command_of(name, args)
    except UnknownCommand as exc:
        log.error("job dropped: %s", exc)
        return None
    with organisation(org):
        return run(command)


def run_timers(batch: list[dict[str, Any] | list[Any]]) -> int:
    """Timers due now, a batch to one RQ job (telephony/adapters/timers.py says why). Each runs on its
    own, in its organisation: one that raises is logged and tried again later by itself, one whose
    command no handler runs is logged and dropped, and the rest still run. The batch's hold
    check-ins of one organisation run together, their Redis work in one round trip
    (`Hold.check_ins`). Each is a dict (key, command, args, tries, due, organisation, and whatever
    else its payload carries); one stored before the commands names `func` instead, and a [key,
    func, args, tries, due] list from a batch queued before issue 17 is read too, as the default
    organisation's."""
    ran = 0
    check_ins: dict[str, list[tuple[dict[str, Any], HoldCheckIn]]] = {}
    for timer in batch:
        if isinstance(timer, list):
            timer = dict(zip(("key", "func", "args", "tries", "due"), timer, strict=True))
        org = timer.get("organisation") or DEFAULT_ORGANISATION
        try:
            command = command_of(timer.get("command") or timer.get("func") or "", timer.get("args") or [])
        except UnknownCommand as exc:
            log.error("timer %s (%s) dropped: %s", timer.get("key"), org, exc)
            continue
        if isinstance(command, HoldCheckIn):
            check_ins.setdefault(org, []).append((timer, command))
            continue
        with organisation(org):
            ran += _run_timer(timer["key"], command, int(timer.get("tries") or 0))
    for org, timers in check_ins.items():
        with organisation(org):
            ran += _run_check_ins(timers)
    return ran


def _run_check_ins(timers: list[tuple[dict[str, Any], HoldCheckIn]]) -> int:
    """Check-ins together; if that fails as a whole (Redis away), each is tried again later by
    itself, as any timer that raised."""
    try:
        core().hold.check_ins([(c.escalation_id, int(c.round), int(c.n)) for _, c in timers])
        return len(timers)
    except Exception:
        log.exception("%d check-ins failed together; each is tried again later", len(timers))
        for timer, command in timers:
            _retry_later(timer["key"], command, int(timer.get("tries") or 0))
        return 0


def _run_timer(key: str, command: Command, tries: int) -> int:
    try:
        run(command)
        return 1
    except Exception:
        again = _retry_later(key, command, tries)
        log.exception(
            "timer %s (%s) failed on try %d; %s",
            key,
            command.name,
            tries + 1,
            "tried again later" if again else "given up",
        )
        return 0


def _retry_later(key: str, command: Command, tries: int) -> bool:
    """A failed timer tried again later by itself. Whatever goes wrong here (the organisation no
    longer served in this process, Redis away) stays with this timer: the rest of the batch, other
    organisations' timers among them, still runs (issue 34). A timer whose retry could not be
    stored is logged as such (a callback's dial is found again by the callbacks' sweep)."""
    try:
        return core().ctx.timers.retry_failed(key, command, tries)
    except Exception as exc:
        log.error("timer %s (%s): its retry could not be stored: %s", key, command.name, exc)
        return False
