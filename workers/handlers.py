"""The workers' side of every command (telephony/commands.py): one handler each, routed by the
table in workers/commands.py. Each is idempotent: the core checks state before acting, so a retried
or duplicated command does nothing the second time."""

from __future__ import annotations

import functools
import logging

from telephony.adapters import chat_webhook
from telephony.commands import (
    CallbackDeadline,
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
    RingAgent,
    RingLead,
    SendManagerEmail,
    StopRinging,
    SweepCallbacks,
    TaskOverdue,
    TellLead,
    TellManagersOfRedFlag,
)
from telephony.logs import bound
from telephony.notify.chat import chat_payload
from telephony.records import retention
from workers.runtime import core

log = logging.getLogger(__name__)


def about(kind: str, field: str | None = None):
    """Every log line of the handler names the escalation, call or callback its command is about
    (the command's `field`, by default the one named `kind`)."""

    def wrap(handler):
        @functools.wraps(handler)
        def logged(command):
            subject = getattr(command, field or kind)
            if isinstance(subject, dict):
                subject = subject.get("escalation")
            with bound(**{kind: subject}):
                return handler(command)

        return logged

    return wrap


@about("escalation_id")
def hold_check_in(command: HoldCheckIn) -> bool:
    """R-HOLD-2 (several of one batch run together: workers.commands.run_timers)."""
    return core().hold.check_in(command.escalation_id, command.round, command.n)


@about("escalation_id")
def hold_limit(command: HoldLimit) -> bool:
    """R-HOLD-3."""
    return core().hold.limit(command.escalation_id, command.round, command.tries)


@about("escalation_id")
def ring_lead(command: RingLead) -> None:
    """R-ESC-7: ring the next person again after Twilio failed."""
    core().lead_hunt.hunt(command.escalation_id, command.tries)


@about("escalation_id")
def offer_callback(command: OfferCallback) -> None:
    """R-ESC-7: take the caller to the callback offer again after Twilio failed."""
    core().lead_hunt.offer_callback(command.escalation_id, command.leads_busy, command.tries)


@about("call_sid")
def ring_agent(command: RingAgent) -> bool:
    """The caller is in their conference hearing the wait message; ring their agent now (again,
    after Twilio failed, with `tries`)."""
    return core().intake.dial_agent(command.call_sid, command.tries)


@about("escalation_id")
def tell_lead(command: TellLead) -> None:
    core().hold.lead_notice.run(command.escalation_id, command.notice, command.leave)


@about("call_sid")
def stop_ringing(command: StopRinging) -> None:
    core().stop_ringing(command.call_sid)


@about("escalation_id")
def connect_after_notice(command: ConnectAfterNotice) -> None:
    """R-WARM-5: the lead was told the agent dropped; put the caller through now at the latest."""
    core().warm_transfer.connect_after_notice(command.escalation_id)


@about("callback_id")
def dial_callback(command: DialCallback) -> str:
    """R-CB-4, R-CB-8: the attempt is claimed atomically inside."""
    return core().dialler.dial(command.callback_id, command.attempt)


@about("callback_id")
def callback_deadline(command: CallbackDeadline) -> bool:
    """R-CB-7."""
    return core().callbacks.deadline_passed(command.callback_id)


def purge_finished(_: PurgeFinished) -> int:
    """Issue 8: finished escalations leave live state once FINISHED_KEEP_SECONDS have passed."""
    return retention.purge(core().ctx)


def reconcile(_: Reconcile) -> dict[str, int]:
    """Issue 34: the live calls and legs made to agree with Twilio (Core.reconcile)."""
    return core().reconcile()


def prune_records(_: PruneRecords) -> int:
    """Issue 30: records past RECORDS_RETENTION_DAYS leave the history database; again tomorrow."""
    return core().records.prune()


def sweep_callbacks(_: SweepCallbacks) -> list[str]:
    """R-CB-8: recover attempts claimed by a worker that died; runs again while any is open."""
    return core().callback_sweeper.sweep()


@about("call_sid")
def red_flag_raised(command: TellManagersOfRedFlag) -> bool:
    """R-NOTE-5: tell the managers of a red flag at once (the webhook only recorded it)."""
    return core().red_flags.tell_managers(command.call_sid, command.red_flag)


def drain_events(_: DrainEvents) -> int:
    """Issue 29: run the handlers of the domain events waiting in the organisation's outbox
    (telephony/handlers.py); safe to run twice, and any number at once."""
    return core().events.drain()


@about("escalation_id", "note")
def post_to_channel(command: PostToChannel) -> str:
    """R-NOTE-1: a Slack-style ({"text": ...}) or Teams-style (an Adaptive Card) incoming
    webhook, as CHAT_WEBHOOK_FORMAT says. A failure raises, so RQ retries it; the note itself is
    already kept in Redis."""
    note = command.note
    settings = core().settings
    if not settings.chat_webhook_url:
        log.info("no CHAT_WEBHOOK_URL; note kept in Redis only: %s", note.get("text", "")[:80])
        return "kept"
    chat_webhook.post(settings.chat_webhook_url, chat_payload(note["text"], settings.chat_webhook_format))
    return "posted"


@about("escalation_id", "email_id")
def send_manager_email(command: SendManagerEmail) -> str:
    """R-NOTE-2: one SMTP try; a failure is on the timeline and the next try is scheduled inside."""
    return core().notify.emails.send(command.email_id, command.tries)


@about("task_id")
def task_overdue(command: TaskOverdue) -> bool:
    """R-NOTE-6: the task's due time; still open, its owner's leader is told once."""
    return core().follow_through.overdue(command.task_id)
