"""RQ jobs. Each is idempotent: the core checks state before acting, so a retried or duplicated
job does nothing the second time."""

from __future__ import annotations

import functools
import logging
from typing import Any

from rq.utils import import_attribute

from telephony.adapters import chat_webhook
from telephony.adapters.timers import DEFAULT_ORGANISATION
from telephony.logs import bound
from telephony.notify.chat import chat_payload
from telephony.records import retention
from workers.runtime import core, organisation

log = logging.getLogger(__name__)


def about(kind: str):
    """Every log line of the job names the escalation or callback it works on."""

    def wrap(job):
        @functools.wraps(job)
        def logged(first, *args, **kwargs):
            subject = first.get("escalation") if isinstance(first, dict) else first
            with bound(**{kind: subject}):
                return job(first, *args, **kwargs)

        return logged

    return wrap


def in_organisation(org: str, func: str, args: list) -> object:
    """Every step queued straight onto RQ: run `func(*args)` as this organisation's work."""
    with organisation(org):
        return import_attribute(func)(*args)


CHECK_IN = "workers.jobs.hold_check_in"  # run together when a batch has several (run_timers)


def run_timers(batch: list[dict[str, Any] | list[Any]]) -> int:
    """Timers due now, a batch to one RQ job (telephony/adapters/timers.py says why). Each runs on its
    own, in its organisation: one that raises is logged and tried again later by itself, and the
    rest still run. The batch's hold check-ins of one organisation run together, their Redis work
    in one round trip (`Hold.check_ins`). Each is a dict (key, func, args, tries, due,
    organisation, and whatever else its payload carries); a [key, func, args, tries, due] list
    from a batch queued before that is read too, as the default organisation's."""
    ran = 0
    check_ins: dict[str, list[dict[str, Any]]] = {}
    for timer in batch:
        if isinstance(timer, list):
            timer = dict(zip(("key", "func", "args", "tries", "due"), timer, strict=True))
        org = timer.get("organisation") or DEFAULT_ORGANISATION
        if timer["func"] == CHECK_IN and len(timer["args"]) == 3:
            check_ins.setdefault(org, []).append(timer)
            continue
        with organisation(org):
            ran += _run_timer(timer["key"], timer["func"], timer["args"], timer["tries"])
    for org, timers in check_ins.items():
        with organisation(org):
            ran += _run_check_ins(timers)
    return ran


def _run_check_ins(timers: list[dict[str, Any]]) -> int:
    """Check-ins together; if that fails as a whole (Redis away), each is tried again later by
    itself, as any timer that raised."""
    try:
        core().hold.check_ins([(esc_id, int(round_), int(n)) for esc_id, round_, n in (t["args"] for t in timers)])
        return len(timers)
    except Exception:
        log.exception("%d check-ins failed together; each is tried again later", len(timers))
        for timer in timers:
            core().ctx.timers.retry_failed(timer["key"], timer["func"], timer["args"], timer["tries"])
        return 0


def _run_timer(key: str, func: str, args: list, tries: int) -> int:
    try:
        import_attribute(func)(*args)
        return 1
    except Exception:
        again = core().ctx.timers.retry_failed(key, func, args, tries)
        log.exception(
            "timer %s (%s) failed on try %d; %s", key, func, tries + 1, "tried again later" if again else "given up"
        )
        return 0


@about("escalation_id")
def hold_check_in(escalation_id: str, hold_round: int, n: int) -> bool:
    """R-HOLD-2."""
    return core().hold.check_in(escalation_id, hold_round, n)


@about("escalation_id")
def hold_limit(escalation_id: str, hold_round: int, tries: int = 0) -> bool:
    """R-HOLD-3."""
    return core().hold.limit(escalation_id, hold_round, tries)


@about("escalation_id")
def hunt(escalation_id: str, tries: int = 0) -> None:
    """R-ESC-7: ring the next person again after Twilio failed."""
    core().lead_hunt.hunt(escalation_id, tries)


@about("escalation_id")
def offer_callback(escalation_id: str, leads_busy: bool, tries: int = 0) -> None:
    """R-ESC-7: take the caller to the callback offer again after Twilio failed."""
    core().lead_hunt.offer_callback(escalation_id, leads_busy, tries)


@about("call_sid")
def ring_agent(call_sid: str, tries: int = 0) -> bool:
    """The caller is in their conference hearing the wait message; ring their agent now (again,
    after Twilio failed, with `tries`)."""
    return core().intake.dial_agent(call_sid, tries)


@about("escalation_id")
def tell_lead(escalation_id: str, notice: str, leave: bool) -> None:
    core().hold.lead_notice.run(escalation_id, notice, leave)


@about("call_sid")
def stop_ringing(call_sid: str) -> None:
    core().stop_ringing(call_sid)


@about("escalation_id")
def connect_after_notice(escalation_id: str) -> None:
    """R-WARM-5: the lead was told the agent dropped; put the caller through now at the latest."""
    core().warm_transfer.connect_after_notice(escalation_id)


@about("callback_id")
def dial_callback(callback_id: str, attempt: int) -> str:
    """R-CB-4, R-CB-8: the attempt is claimed atomically inside."""
    return core().dialler.dial(callback_id, attempt)


@about("callback_id")
def callback_deadline(callback_id: str) -> bool:
    """R-CB-7."""
    return core().callbacks.deadline_passed(callback_id)


def purge_finished() -> int:
    """Issue 8: finished escalations leave live state once FINISHED_KEEP_SECONDS have passed."""
    return retention.purge(core().ctx)


def sweep_callbacks() -> list[str]:
    """R-CB-8: recover attempts claimed by a worker that died; runs again while any is open."""
    return core().dialler.sweep()


@about("call_sid")
def red_flag_raised(call_sid: str, key: str) -> bool:
    """R-NOTE-5: tell the managers of a red flag at once (the webhook only recorded it)."""
    return core().red_flags.tell_managers(call_sid, key)


@about("escalation_id")
def post_to_channel(note: dict) -> str:
    """R-NOTE-1: a Slack-style ({"text": ...}) or Teams-style (an Adaptive Card) incoming
    webhook, as CHAT_WEBHOOK_FORMAT says. A failure raises, so RQ retries it; the note itself is
    already kept in Redis."""
    settings = core().settings
    if not settings.chat_webhook_url:
        log.info("no CHAT_WEBHOOK_URL; note kept in Redis only: %s", note.get("text", "")[:80])
        return "kept"
    chat_webhook.post(settings.chat_webhook_url, chat_payload(note["text"], settings.chat_webhook_format))
    return "posted"


@about("escalation_id")
def send_manager_email(email_id: str, tries: int) -> str:
    """R-NOTE-2: one SMTP try; a failure is on the timeline and the next try is scheduled inside."""
    return core().notify.emails.send(email_id, tries)


@about("task_id")
def task_overdue(task_id: str) -> bool:
    """R-NOTE-6: the task's due time; still open, its owner's leader is told once."""
    return core().follow_through.overdue(task_id)
