"""Every Redis key the service uses, named in one place. The store, the timers, the throttle and
the virtual clock build their keys here and nowhere else, so the layout (the `esc:` prefix today;
an organisation and a hash tag tomorrow) changes in one file. Ids that come from outside (URLs,
API paths) are checked with `safe_id` before they become part of a key."""

from __future__ import annotations

import re

PREFIX = "esc:"

# Ids from outside become parts of keys: only these characters, so `esc_x:timeline` can never
# reach another key.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def safe_id(ident: str) -> bool:
    return bool(_SAFE_ID.match(ident or ""))


# -- indexes and streams (one each) --------------------------------------------------------------
EVENTS = f"{PREFIX}events"  # the change stream the consoles read, and its pub/sub channel
RECORDS = f"{PREFIX}records"  # archived records by creation time
FINISHED = f"{PREFIX}finished"  # finished escalations by when they may be purged
ESCALATIONS = f"{PREFIX}escalations"
CALLBACKS = f"{PREFIX}callbacks"
EMAILS = f"{PREFIX}emails"
TASKS = f"{PREFIX}tasks"
NOTIFICATIONS = f"{PREFIX}notifications"
WAITING_FOR_AGENT = f"{PREFIX}waiting_for_agent"
WAITING_FOR_LEAD = f"{PREFIX}waiting_for_lead"
SWEEPER = f"{PREFIX}sweeper"
TIMERS = f"{PREFIX}timers"
TIMER_CALLS = f"{PREFIX}timer-calls"
TIMERS_RELEASING = f"{PREFIX}timers-releasing"
SCHEDULER_LEASE = f"{PREFIX}scheduler-lease"
CLOCK_NOW = f"{PREFIX}clock:now"


# -- one record each ---------------------------------------------------------------------------
def call(call_sid: str) -> str:
    return f"{PREFIX}call:{call_sid}"


def call_part(call_sid: str, part: str) -> str:
    """What lives beside a call's hash: agents_tried, notes, red_flags, red_flag_order."""
    return f"{PREFIX}call:{call_sid}:{part}"


def leg(call_sid: str) -> str:
    return f"{PREFIX}leg:{call_sid}"


def conference(name: str) -> str:
    return f"{PREFIX}conference:{name}"


def seen(dedupe_key: str) -> str:
    return f"{PREFIX}seen:{dedupe_key}"


def presence(person_id: str) -> str:
    return f"{PREFIX}presence:{person_id}"


def holder(person_id: str) -> str:
    return f"{PREFIX}holder:{person_id}"


def escalation(esc_id: str) -> str:
    return f"{PREFIX}escalation:{esc_id}"


def timeline(esc_id: str) -> str:
    return f"{PREFIX}escalation:{esc_id}:timeline"


def escalation_emails(esc_id: str) -> str:
    return f"{PREFIX}escalation:{esc_id}:emails"


def open_escalation(call_sid: str) -> str:
    return f"{PREFIX}open_escalation:{call_sid}"


def state(name: str) -> str:
    """The set of escalations in one state; state("") is the prefix the transition script extends."""
    return f"{PREFIX}state:{name}"


def idempotency(key: str) -> str:
    return f"{PREFIX}idempotency:{key}"


def callback(cb_id: str) -> str:
    return f"{PREFIX}callback:{cb_id}"


def capture(esc_id: str) -> str:
    return f"{PREFIX}capture:{esc_id}"


def email(email_id: str) -> str:
    return f"{PREFIX}email:{email_id}"


def task(task_id: str) -> str:
    return f"{PREFIX}task:{task_id}"


def record(esc_id: str) -> str:
    return f"{PREFIX}record:{esc_id}"


def record_of(kind: str, ident: str) -> str:
    """An escalation's or a callback's hash, by kind ("escalation", "callback")."""
    return {"escalation": escalation, "callback": callback}[kind](ident)


def auth_failures(client: str) -> str:
    return f"{PREFIX}auth-failures:{client[:64]}"


def calls_per_second(second: int) -> str:
    return f"{PREFIX}cps:{second}"


def timers_wake() -> str:
    """The pub/sub channel a webhook publishes on when it leaves a timer due now, so the
    scheduler (listening between ticks) releases it at once instead of at its next tick."""
    return f"{PREFIX}timers-wake"
