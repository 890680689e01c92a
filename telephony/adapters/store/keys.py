"""Every Redis key the service uses, named in one place. The store, the timers, the throttle and
the virtual clock build their keys here and nowhere else. Ids that come from outside (URLs, API
paths) are checked with `safe_id` before they become part of a key.

The slot rule (Redis Cluster, issue 17): every key of an organisation's live state is
`esc:{<organisation>}:...`, the organisation in braces as the hash tag, so all of one
organisation's keys share one hash slot and every Lua script and transaction the store runs
touches one slot. The timers, the scheduler's lease and the virtual clock are the deployment's,
not an organisation's: they live beside RQ's queues (QUEUE_REDIS_URL, one node), and each timer
names its organisation in its payload. The Twilio throttle and the auth-failure counters are
single keys, each in its own slot."""

from __future__ import annotations

import re

PREFIX = "esc:"

# Ids from outside become parts of keys: only these characters, so `esc_x:timeline` can never
# reach another key.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# An organisation's id is the hash tag: short, lower case, never a brace.
ORGANISATION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def safe_id(ident: str) -> bool:
    return bool(_SAFE_ID.match(ident or ""))


# -- the deployment's, beside RQ's queues (one node) ---------------------------------------------
TIMERS = f"{PREFIX}timers"
TIMER_CALLS = f"{PREFIX}timer-calls"
TIMERS_RELEASING = f"{PREFIX}timers-releasing"
SCHEDULER_LEASE = f"{PREFIX}scheduler-lease"
CLOCK_NOW = f"{PREFIX}clock:now"
# Bumped by a manager's reload: every other process reads the policies again when it moves.
POLICIES_GENERATION = f"{PREFIX}policies-generation"
# Which organisation each reload was of (organisation -> its reloads): the others read that
# organisation's file again, and no other (issue 35).
POLICIES_RELOADED = f"{PREFIX}policies-reloaded"


def auth_failures(client: str) -> str:
    return f"{PREFIX}auth-failures:{client[:64]}"


def calls_per_second(second: int) -> str:
    """Twilio's calls-per-second limit is the account's, shared by every organisation."""
    return f"{PREFIX}cps:{second}"


def timers_wake() -> str:
    """The pub/sub channel a webhook publishes on when it leaves a timer due now, so the
    scheduler (listening between ticks) releases it at once instead of at its next tick."""
    return f"{PREFIX}timers-wake"


class Keys:
    """One organisation's keys, all on one Redis Cluster hash slot (the slot rule above)."""

    def __init__(self, organisation: str):
        if not ORGANISATION_ID.match(organisation):
            raise ValueError(f"organisation id {organisation!r} must be 1-40 of a-z, 0-9 and -")
        self.organisation = organisation
        self.prefix = p = f"{PREFIX}{{{organisation}}}:"
        # indexes and streams (one each per organisation)
        self.EVENTS = f"{p}events"  # the change stream the consoles read, and its pub/sub channel
        self.RECORDS = f"{p}records"  # archived records by creation time
        self.FINISHED = f"{p}finished"  # finished escalations by when they may be purged
        self.ESCALATIONS = f"{p}escalations"
        self.CALLBACKS = f"{p}callbacks"
        self.EMAILS = f"{p}emails"
        self.TASKS = f"{p}tasks"
        self.NOTIFICATIONS = f"{p}notifications"
        self.WAITING_FOR_AGENT = f"{p}waiting_for_agent"
        self.WAITING_FOR_LEAD = f"{p}waiting_for_lead"
        self.SWEEPER = f"{p}sweeper"
        # Domain events written with the change that caused them, until the workers drain them (issue 29).
        self.OUTBOX = f"{p}outbox"

    # -- one record each ------------------------------------------------------------
    def call(self, call_sid: str) -> str:
        return f"{self.prefix}call:{call_sid}"

    def call_part(self, call_sid: str, part: str) -> str:
        """What lives beside a call's hash: agents_tried, notes, red_flags, red_flag_order."""
        return f"{self.prefix}call:{call_sid}:{part}"

    def leg(self, call_sid: str) -> str:
        return f"{self.prefix}leg:{call_sid}"

    def conference(self, name: str) -> str:
        return f"{self.prefix}conference:{name}"

    def seen(self, dedupe_key: str) -> str:
        return f"{self.prefix}seen:{dedupe_key}"

    def presence(self, person_id: str) -> str:
        return f"{self.prefix}presence:{person_id}"

    def holder(self, person_id: str) -> str:
        return f"{self.prefix}holder:{person_id}"

    def escalation(self, esc_id: str) -> str:
        return f"{self.prefix}escalation:{esc_id}"

    def timeline(self, esc_id: str) -> str:
        head, tail = self.timeline_around()
        return f"{head}{esc_id}{tail}"

    def timeline_around(self) -> tuple[str, str]:
        """What goes before and after an escalation's id in its timeline's key: for a script that
        reads the id from a record it was handed (the callback's claim)."""
        return f"{self.prefix}escalation:", ":timeline"

    def escalation_emails(self, esc_id: str) -> str:
        return f"{self.prefix}escalation:{esc_id}:emails"

    def open_escalation(self, call_sid: str) -> str:
        return f"{self.prefix}open_escalation:{call_sid}"

    def state(self, name: str) -> str:
        """The set of escalations in one state; state("") is the prefix the transition script extends."""
        return f"{self.prefix}state:{name}"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}idempotency:{key}"

    def callback(self, cb_id: str) -> str:
        return f"{self.prefix}callback:{cb_id}"

    def capture(self, esc_id: str) -> str:
        return f"{self.prefix}capture:{esc_id}"

    def email(self, email_id: str) -> str:
        return f"{self.prefix}email:{email_id}"

    def task(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    def record(self, esc_id: str) -> str:
        return f"{self.prefix}record:{esc_id}"

    def what_if(self, ident: str) -> str:
        """A manager's what-if replay from the console: its request, status and result (with a TTL)."""
        return f"{self.prefix}what-if:{ident}"

    def record_of(self, kind: str, ident: str) -> str:
        """An escalation's or a callback's hash, by kind ("escalation", "callback")."""
        return {"escalation": self.escalation, "callback": self.callback}[kind](ident)
