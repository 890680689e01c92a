"""Calls: the caller's leg and every leg the service dials (agents, leads, callbacks), their
status moving only forward, the conference a caller waits in, the queue of callers waiting for an
agent, and what the agent did on the call (warnings given, a listener, the early warning).
`link_leg` saves a leg and points its escalation or callback at it in one transaction."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.store import keys
from telephony.adapters.store.base import EVENTS_KEPT, LEG_TTL_SECONDS, as_text, text, texts
from telephony.adapters.store.changes import ChangeStream

# Call progress only moves forward: a late "ringing" never undoes "completed" (Twilio sends
# status callbacks with no ordering guarantee).
CALL_STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
TERMINAL_CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")


class CallStore(ChangeStream):
    def save_call(self, call_sid: str, fields: dict[str, Any]) -> bool:
        """Create the call record once (a retried webhook finds it already there); it expires
        after LEG_TTL_SECONDS."""
        flat = [x for k, v in fields.items() for x in (k, as_text(v))]
        return bool(
            self._save_call(
                keys=[self.k.call(call_sid), self.k.EVENTS], args=[call_sid, LEG_TTL_SECONDS, EVENTS_KEPT, *flat]
            )
        )

    def reach_agent(
        self,
        call_sid: str,
        account: str,
        new_call: dict[str, Any],
        agents: list[tuple[str, str]],
        ring: tuple[str, float, str],
    ) -> bool:
        """The caller is through the account step: their record (made if missing), the account,
        whether an agent is free (returned, and kept as agent_coming), the consoles told, and
        `ring` (a timer's key, due time and payload, from Timers.entry) left for the workers, all
        in one script (scripts.REACH_AGENT): no RQ round trips in the caller's webhook."""
        key, due, payload = ring
        timer_keys = [keys.TIMERS, keys.TIMER_CALLS, keys.timers_wake()]
        if not self.timers_beside:
            # The timers are on another Redis (a cluster's state, RQ on one node): the caller
            # leaves the ring there itself, after this script; the slots named are the call's.
            key, timer_keys = "", [self.k.call(call_sid)] * 3
        flat = [x for k, v in new_call.items() for x in (k, as_text(v))]
        return bool(
            self._reach_agent(
                keys=[
                    self.k.call(call_sid),
                    self.k.EVENTS,
                    *timer_keys,
                    *[self.k.presence(person_id) for person_id, _ in agents],
                ],
                args=[
                    call_sid,
                    LEG_TTL_SECONDS,
                    EVENTS_KEPT,
                    account,
                    key,
                    due,
                    payload,
                    *flat,
                    "--",
                    *[default for _, default in agents],
                ],
            )
        )

    def call(self, call_sid: str) -> dict[str, str] | None:
        if not keys.safe_id(call_sid):
            return None
        return self._hash(self.k.call(call_sid))

    def update_call(self, call_sid: str, **fields: Any) -> None:
        self._update(self.k.call(call_sid), "call", call_sid, fields)

    def advance_call_status(self, call_sid: str, status: str) -> bool:
        """Record a call status only if it moves the call forward; True if it did."""
        rank = CALL_STATUS_RANK.get(status)
        if rank is None:
            return False
        moved = bool(self._advance(keys=[self.k.call(call_sid)], args=[status, rank]) == 1)
        if moved:
            self.changed("call", call_sid)
        return moved

    def set_conference(self, name: str, conference_sid: str) -> None:
        self.r.set(self.k.conference(name), conference_sid, ex=LEG_TTL_SECONDS)

    def conference_sid(self, name: str) -> str | None:
        value = self.r.get(self.k.conference(name))
        return text(value) if value else None

    def wait_for_agent(self, call_sid: str, at: float) -> None:
        self.r.zadd(self.k.WAITING_FOR_AGENT, {call_sid: at}, nx=True)

    def stop_waiting_for_agent(self, call_sid: str) -> bool:
        return bool(self.r.zrem(self.k.WAITING_FOR_AGENT, call_sid))

    def longest_waiting(self) -> list[str]:
        return texts(self.r.zrange(self.k.WAITING_FOR_AGENT, 0, -1))

    def agent_tried(self, call_sid: str, person_id: str) -> None:
        key = self.k.call_part(call_sid, "agents_tried")
        self.r.sadd(key, person_id)
        self.r.expire(key, 86400)

    def agents_tried(self, call_sid: str) -> set[str]:
        return set(texts(self.r.smembers(self.k.call_part(call_sid, "agents_tried"))))

    def forget_agents_tried(self, call_sid: str) -> None:
        self.r.delete(self.k.call_part(call_sid, "agents_tried"))

    def save_leg(self, call_sid: str, fields: dict[str, Any]) -> None:
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hset(self.k.leg(call_sid), mapping={k: as_text(v) for k, v in fields.items()})
            pipe.expire(self.k.leg(call_sid), LEG_TTL_SECONDS)
            pipe.execute()

    def link_leg(
        self,
        call_sid: str,
        leg: dict[str, Any],
        kind: str,
        ident: str,
        entry: tuple[str, dict[str, str]] | None = None,
        **fields: Any,
    ) -> None:
        """Save a leg we dialled and point its escalation or callback (`kind`) at it in one
        step: its answer webhook never finds the one without the other. Two writes let a lead
        who answered in between hear "the caller is no longer on the line", and the next lead
        be rung (found by tests/chaos under load). `entry`: (escalation id, event) for that
        escalation's timeline, in the same round trip (issue 19)."""
        leg_flat = [x for k, v in leg.items() for x in (k, as_text(v))]
        record_flat = [x for k, v in fields.items() for x in (k, as_text(v))]
        esc_id, event = entry if entry else ("", None)
        record = self.k.record_of(kind, ident)
        written = self._link_leg(
            keys=[self.k.leg(call_sid), record, self.k.EVENTS, self.k.timeline(esc_id) if event else record],
            args=[
                kind,
                ident,
                EVENTS_KEPT,
                len(leg),
                json.dumps(event) if event else "",
                esc_id,
                self._outbox_cfg(),
                *leg_flat,
                *record_flat,
            ],
        )
        self._drain(int(written))

    def leg(self, call_sid: str) -> dict[str, str] | None:
        if not keys.safe_id(call_sid):
            return None
        return self._hash(self.k.leg(call_sid))

    def update_leg(self, call_sid: str, **fields: Any) -> None:
        self.r.hset(self.k.leg(call_sid), mapping={k: as_text(v) for k, v in fields.items()})

    def advance_call_status_leg(self, call_sid: str, status: str) -> bool:
        rank = CALL_STATUS_RANK.get(status)
        if rank is None:
            return False
        key = self.k.leg(call_sid)
        return bool(self._advance(keys=[key], args=[status, rank]) == 1)

    def settle_leg(self, call_sid: str, outcome: str) -> bool:
        """Record how a leg ended the first time only: accept, decline and hang-up race."""
        return bool(self.r.hsetnx(self.k.leg(call_sid), "outcome", outcome))

    def call_sids(self) -> list[str]:
        """Every call this service knows of (the caller legs and the legs it dialled)."""
        sids = []
        for key in self.r.scan_iter(match=self.k.call("CA*"), count=200):
            rest = text(key)[len(self.k.call("")) :]
            if ":" not in rest:
                sids.append(rest)
        return sids

    def leg_sids(self) -> list[str]:
        """Every leg this service dialled that it still keeps (a lead's, an agent's, a callback's)."""
        prefix = self.k.leg("")
        return [text(key)[len(prefix) :] for key in self.r.scan_iter(match=self.k.leg("CA*"), count=200)]

    def record_warning(self, call_sid: str, given: int, **fields: Any) -> bool:
        """R-ABUSE-1: the next step of the warning protocol, only after the `given` before it."""
        return self._call_cas(call_sid, "warnings_given", str(given or ""), fields)

    def claim_listener(self, call_sid: str, person_id: str, **fields: Any) -> bool:
        """R-WARM-7: one listener per call; two leads pressing listen at once, one wins."""
        return self._call_cas(call_sid, "listener_person", "", {"listener_person": person_id, **fields})

    def release_listener(self, call_sid: str, person_id: str) -> bool:
        cleared = {"listener_person": "", "listener_mode": "", "listener_call_sid": "", "listener_since": ""}
        return self._call_cas(call_sid, "listener_person", person_id, cleared)

    def flag_early_warning(self, call_sid: str, **fields: Any) -> bool:
        """Once per call: two clicks, one flag."""
        return self._call_cas(call_sid, "early_warning_at", "", fields)
