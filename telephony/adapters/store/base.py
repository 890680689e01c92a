"""What every part of the store shares: one Redis connection, the registered Lua scripts and the
generic record helpers. The aggregates (calls, escalations, callbacks, people, records) are
mixins over it, composed into one `Store` in `__init__`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from telephony.adapters.store import keys, scripts

log = logging.getLogger(__name__)

EVENTS_KEPT = 1000
# Under the web's 1 s socket timeout (connection.WEB_SOCKET_TIMEOUT_SECONDS), inside a webhook's budget.
WAIT_MS = 500
# How long live state is kept once it is over (FINISHED_KEEP_SECONDS). A call's own records (the
# call, its legs, its conference name) are needed only while it lasts, and Twilio ends every call
# within 24 hours, so they expire on their own: a call whose last status callback was lost too.
DEFAULT_KEEP_SECONDS = 3 * 86400
# A store built without an organisation (tools, a single-organisation test) works on this one's keys.
DEFAULT_ORGANISATION = "default"
LEG_TTL_SECONDS = 2 * 86400


class StoreBase:
    def __init__(
        self,
        conn: redis.Redis,
        keep_seconds: int = DEFAULT_KEEP_SECONDS,
        wait_replicas: int = 0,
        organisation: str = DEFAULT_ORGANISATION,
    ):
        self.r = conn
        # Every key of this organisation's state, on one Redis Cluster slot (self.k.py: the slot rule).
        self.k = keys.Keys(organisation)
        self.organisation = organisation
        # The timers' sorted set is on this same Redis (one node for all): a store script may
        # leave a timer in the same round trip as the state change (build_core says otherwise).
        self.timers_beside = True
        self.keep_seconds = keep_seconds
        self.wait_replicas = wait_replicas
        self._count_failure = conn.register_script(scripts.COUNT_FAILURE)
        self._changed = conn.register_script(scripts.CHANGED)
        self._claim_outbox = conn.register_script(scripts.CLAIM_OUTBOX_ENTRY)
        self._save_call = conn.register_script(scripts.SAVE_CALL)
        self._reach_agent = conn.register_script(scripts.REACH_AGENT)
        self._take_check_ins = conn.register_script(scripts.TAKE_CHECK_INS)
        self._update_and_tell = conn.register_script(scripts.UPDATE_AND_TELL)
        self._advance = conn.register_script(scripts.ADVANCE_CALL_STATUS)
        self._transition = conn.register_script(scripts.TRANSITION)
        self._create = conn.register_script(scripts.CREATE_ESCALATION)
        self._call_for_escalation = conn.register_script(scripts.CALL_FOR_ESCALATION)
        self._claim = conn.register_script(scripts.CLAIM_PERSON)
        self._release = conn.register_script(scripts.RELEASE_PERSON)
        self._claim_callback = conn.register_script(scripts.CLAIM_CALLBACK)
        self._claim_callback_lead = conn.register_script(scripts.CLAIM_CALLBACK_LEAD)
        self._link_leg = conn.register_script(scripts.LINK_LEG)
        self._compare_and_set = conn.register_script(scripts.COMPARE_AND_SET)
        # How the outbox (issue 29: the domain events a script writes with its change) is
        # drained, both set by build_core: the timer due now (member, due, payload) a script
        # leaves in the same round trip when the timers are beside the state, or the call that
        # asks for a drain after the script when they are not (a cluster).
        self.drain_entry: Callable[[], tuple[str, float, str]] | None = None
        self.ask_drain: Callable[[], object] | None = None
        self._claim_sweeper = conn.register_script(scripts.CLAIM_SWEEPER)

    def _outbox_cfg(self, **more: Any) -> str:
        """What a script needs to write to the outbox (scripts.OUTBOX), as its JSON argument."""
        cfg: dict[str, Any] = {"outbox": self.k.OUTBOX, **more}
        if self.timers_beside and self.drain_entry is not None:
            member, due, payload = self.drain_entry()
            cfg["timer"] = {
                "zset": keys.TIMERS,
                "calls": keys.TIMER_CALLS,
                "wake": keys.timers_wake(),
                "member": member,
                "due": due,
                "payload": payload,
            }
        return json.dumps(cfg)

    def _drain(self, written: int) -> None:
        """A script wrote `written` events to the outbox: ask for a drain, unless the script
        left its timer itself (timers beside). Dying before this loses nothing: the workers'
        sweep drains what is left (Events.sweep)."""
        if written and not (self.timers_beside and self.drain_entry is not None) and self.ask_drain is not None:
            self.ask_drain()

    def _hash(self, key: str) -> dict[str, str] | None:
        raw = self.r.hgetall(key)
        if not raw:
            return None
        return {text(k): text(v) for k, v in raw.items()}

    def ping(self) -> bool:
        return bool(self.r.ping())

    def first_time(self, dedupe_key: str, ttl: int = 86400) -> bool:
        """True the first time a webhook with this identity is seen: duplicates are no-ops."""
        return bool(self.r.set(self.k.seen(dedupe_key), 1, nx=True, ex=ttl))

    def forget_seen(self, dedupe_key: str) -> None:
        """Undo first_time: the step it guarded did not happen, so its retry must run."""
        self.r.delete(self.k.seen(dedupe_key))

    def _cas(
        self, key: str, events: str, field: str, expected: str, event: dict[str, str] | None, fields: dict[str, Any]
    ) -> bool:
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, as_text(v)]
        args = [field, expected, json.dumps(event) if event else "", *flat]
        return bool(self._compare_and_set(keys=[key, events or key], args=args) == 1)

    def replicated(self, what: str) -> bool:
        """Behind Sentinel, a write the master acknowledged but has not yet sent to a replica is
        lost when that master dies and the replica takes over. REDIS_WAIT_REPLICAS > 0: wait (up
        to WAIT_MS) for that many replicas to have it before the caller is told it is booked."""
        if not self.wait_replicas:
            return True
        have = self.r.wait(self.wait_replicas, WAIT_MS)
        if have < self.wait_replicas:
            log.warning("%s: %d of %d replicas acknowledged within %d ms", what, have, self.wait_replicas, WAIT_MS)
        return have >= self.wait_replicas

    def _call_side_keys(self, call_sid: str) -> tuple[str, ...]:
        """What lives beside a call's hash and goes when it goes (issue 8: finished calls leave)."""
        return tuple(
            self.k.call_part(call_sid, part) for part in ("agents_tried", "notes", "red_flags", "red_flag_order")
        )


def epoch(iso_time: str | None) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso_time).timestamp() if iso_time else time.time()
    except ValueError:
        return time.time()


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def text(raw: Any) -> str:
    """One value as Redis returned it (bytes: the connection does not decode), as text."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def texts(raws: Any) -> list[str]:
    return [text(v) for v in raws]
