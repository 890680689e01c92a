"""The one module that talks to Redis. Live call state lives here under `esc:` keys; every change
that must not race (a state transition, claiming a lead, creating an escalation) is one Lua script."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.sentinel import Sentinel

log = logging.getLogger(__name__)

P = "esc:"
EVENTS = f"{P}events"
EVENTS_KEPT = 1000
RECORDS = f"{P}records"
WAIT_MS = 1000
# Ids that come from outside (URLs, API paths) become parts of keys: only these characters, so
# `esc_x:timeline` can never reach another key.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def safe_id(ident: str) -> bool:
    return bool(_SAFE_ID.match(ident or ""))


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
FINAL_STATES = ("resolved", "abandoned", "failed")
FINISHED = f"{P}finished"
# How long live state is kept once it is over (FINISHED_KEEP_SECONDS). A call's own records (the
# call, its legs, its conference name) are needed only while it lasts, and Twilio ends every call
# within 24 hours, so they expire on their own: a call whose last status callback was lost too.
DEFAULT_KEEP_SECONDS = 3 * 86400
LEG_TTL_SECONDS = 2 * 86400
NOTIFICATIONS_KEPT = 10000

_ADVANCE_CALL_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'status_rank') or '-1')
if tonumber(ARGV[2]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_rank', ARGV[2])
return 1
"""

_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0, ''} end
local ok = false
for i = 5, 4 + tonumber(ARGV[4]) do
  if ARGV[i] == state then ok = true end
end
if not ok then return {0, state} end
if ARGV[1] ~= state then
  redis.call('HSET', KEYS[1], 'state', ARGV[1])
  redis.call('SREM', ARGV[3] .. state, KEYS[3])
  redis.call('SADD', ARGV[3] .. ARGV[1], KEYS[3])
end
local n = 5 + tonumber(ARGV[4])
while n + 1 <= #ARGV do
  if ARGV[n + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[n])
  else redis.call('HSET', KEYS[1], ARGV[n], ARGV[n + 1]) end
  n = n + 2
end
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
return {1, state}
"""

_CREATE_ESCALATION = """
if ARGV[1] ~= '' then
  local existing = redis.call('GET', ARGV[1])
  if existing then return {'replay', existing} end
end
local open = redis.call('GET', KEYS[2])
if open then return {'open', open} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[4], 'escalation', ARGV[2])
if ARGV[1] ~= '' then redis.call('SET', ARGV[1], ARGV[2], 'EX', 86400) end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return {'created', ARGV[2]}
"""

_CLAIM_PERSON = """
local cur = redis.call('GET', KEYS[1]) or ARGV[2]
if cur ~= 'available' then return 0 end
redis.call('SET', KEYS[1], 'busy')
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""

_RELEASE_PERSON = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if redis.call('GET', KEYS[1]) == 'busy' then redis.call('SET', KEYS[1], 'available') end
return 1
"""


_CLAIM_CALLBACK = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if status ~= 'scheduled' and status ~= 'rescheduled' and status ~= 'overdue' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') ~= tonumber(ARGV[1]) - 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'dialing', 'attempts', ARGV[1], 'claimed_at', ARGV[2], 'lead_call_sid', '', 'caller_call_sid', '', 'tried', '[]', 'ringing', '')
return 1
"""


_CLAIM_SWEEPER = """
local due = redis.call('GET', KEYS[1])
if due and tonumber(due) and tonumber(due) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
return 1
"""


_COMPARE_AND_SET = """
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[3]) end
return 1
"""


# Create the call record once (a retried webhook finds it there) and tell the consoles, in one
# command: /voice/incoming is the busiest webhook (bench/RESULTS.md).
_SAVE_CALL = """
local created = redis.call('HSETNX', KEYS[1], 'call_sid', ARGV[1])
for i = 4, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSETNX', KEYS[1], 'status_rank', '-1')
if created == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'call', 'id', ARGV[1])
redis.call('PUBLISH', KEYS[2], id)
return created
"""

# Set fields of a record that exists, and tell the consoles, in one command.
_UPDATE_AND_TELL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[1], 'id', ARGV[2])
redis.call('PUBLISH', KEYS[2], id)
return 1
"""

_FINISH_FIELDS = """
local esc_id = ARGV[2]
if ARGV[1] == 'callback' then
  esc_id = redis.call('HGET', ARGV[3] .. 'callback:' .. ARGV[2], 'escalation_id') or ''
end
if esc_id == '' then return {'', '', ''} end
local got = redis.call('HMGET', ARGV[3] .. 'escalation:' .. esc_id, 'state', 'callback_id')
local status = ''
if got[2] then status = redis.call('HGET', ARGV[3] .. 'callback:' .. got[2], 'status') or '' end
return {esc_id, got[1] or '', status}
"""

_CHANGED = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[1], 'id', ARGV[2])
redis.call('PUBLISH', KEYS[1], id)
return id
"""


_COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class Store:
    def __init__(self, conn: redis.Redis, keep_seconds: int = DEFAULT_KEEP_SECONDS, wait_replicas: int = 0):
        self.r = conn
        self.keep_seconds = keep_seconds
        self.wait_replicas = wait_replicas
        self._count_failure = conn.register_script(_COUNT_FAILURE)
        self._changed = conn.register_script(_CHANGED)
        self._finish_fields = conn.register_script(_FINISH_FIELDS)
        self._save_call = conn.register_script(_SAVE_CALL)
        self._update_and_tell = conn.register_script(_UPDATE_AND_TELL)
        self._advance = conn.register_script(_ADVANCE_CALL_STATUS)
        self._transition = conn.register_script(_TRANSITION)
        self._create = conn.register_script(_CREATE_ESCALATION)
        self._claim = conn.register_script(_CLAIM_PERSON)
        self._release = conn.register_script(_RELEASE_PERSON)
        self._claim_callback = conn.register_script(_CLAIM_CALLBACK)
        self._compare_and_set = conn.register_script(_COMPARE_AND_SET)
        # Told of every change to an escalation or a callback, after it is made (R-NOTE-3: the
        # records archive); set once by build_core.
        self.on_change: Callable[[str, str], None] | None = None
        self._claim_sweeper = conn.register_script(_CLAIM_SWEEPER)

    # -- generic helpers -------------------------------------------------
    def _hash(self, key: str) -> dict[str, str] | None:
        raw = self.r.hgetall(key)
        if not raw:
            return None
        return {k.decode(): v.decode() for k, v in raw.items()}

    def ping(self) -> bool:
        return bool(self.r.ping())

    def first_time(self, dedupe_key: str, ttl: int = 86400) -> bool:
        """True the first time a webhook with this identity is seen: duplicates are no-ops."""
        return bool(self.r.set(f"{P}seen:{dedupe_key}", 1, nx=True, ex=ttl))

    def forget_seen(self, dedupe_key: str) -> None:
        """Undo first_time: the step it guarded did not happen, so its retry must run."""
        self.r.delete(f"{P}seen:{dedupe_key}")

    # -- calls (the caller's leg and every leg we dial) -----------------
    def save_call(self, call_sid: str, fields: dict[str, Any]) -> bool:
        """Create the call record once (a retried webhook finds it already there); it expires
        after LEG_TTL_SECONDS."""
        flat = [x for k, v in fields.items() for x in (k, _text(v))]
        return bool(
            self._save_call(keys=[f"{P}call:{call_sid}", EVENTS], args=[call_sid, LEG_TTL_SECONDS, EVENTS_KEPT, *flat])
        )

    def call(self, call_sid: str) -> dict[str, str] | None:
        if not safe_id(call_sid):
            return None
        return self._hash(f"{P}call:{call_sid}")

    def update_call(self, call_sid: str, **fields: Any) -> None:
        self._update(f"{P}call:{call_sid}", "call", call_sid, fields)

    def _update(self, key: str, kind: str, ident: str, fields: dict[str, Any]) -> bool:
        """Set the fields (None: left alone) of a record that exists, and tell the consoles."""
        flat = [x for k, v in fields.items() if v is not None for x in (k, _text(v))]
        if not flat:
            return False
        done = self._update_and_tell(keys=[key, EVENTS], args=[kind, ident, EVENTS_KEPT, *flat]) == 1
        if done:
            self._tell_on_change(kind, ident)
        return done

    def advance_call_status(self, call_sid: str, status: str) -> bool:
        """Record a call status only if it moves the call forward; True if it did."""
        rank = CALL_STATUS_RANK.get(status)
        if rank is None:
            return False
        moved = self._advance(keys=[f"{P}call:{call_sid}"], args=[status, rank]) == 1
        if moved:
            self.changed("call", call_sid)
        return moved

    def set_conference(self, name: str, conference_sid: str) -> None:
        self.r.set(f"{P}conference:{name}", conference_sid, ex=LEG_TTL_SECONDS)

    def conference_sid(self, name: str) -> str | None:
        value = self.r.get(f"{P}conference:{name}")
        return value.decode() if value else None

    # -- waiting for an agent -------------------------------------------
    def wait_for_agent(self, call_sid: str, at: float) -> None:
        self.r.zadd(f"{P}waiting_for_agent", {call_sid: at}, nx=True)

    def stop_waiting_for_agent(self, call_sid: str) -> bool:
        return bool(self.r.zrem(f"{P}waiting_for_agent", call_sid))

    def longest_waiting(self) -> list[str]:
        return [v.decode() for v in self.r.zrange(f"{P}waiting_for_agent", 0, -1)]

    def agent_tried(self, call_sid: str, person_id: str) -> None:
        key = f"{P}call:{call_sid}:agents_tried"
        self.r.sadd(key, person_id)
        self.r.expire(key, 86400)

    def agents_tried(self, call_sid: str) -> set[str]:
        return {v.decode() for v in self.r.smembers(f"{P}call:{call_sid}:agents_tried")}

    def forget_agents_tried(self, call_sid: str) -> None:
        self.r.delete(f"{P}call:{call_sid}:agents_tried")

    def wait_for_lead(self, esc_id: str, at: float) -> None:
        self.r.zadd(f"{P}waiting_for_lead", {esc_id: at}, nx=True)

    def stop_waiting_for_lead(self, esc_id: str) -> None:
        self.r.zrem(f"{P}waiting_for_lead", esc_id)

    def waiting_for_lead(self) -> list[str]:
        return [v.decode() for v in self.r.zrange(f"{P}waiting_for_lead", 0, -1)]

    # -- presence ------------------------------------------------------
    def presence(self, person_id: str, default: str) -> str:
        value = self.r.get(f"{P}presence:{person_id}")
        return value.decode() if value else default

    def set_presence(self, person_id: str, presence: str) -> None:
        self.r.set(f"{P}presence:{person_id}", presence)
        self.changed("presence", person_id)

    def claim_person(self, person_id: str, default_presence: str, holder: str) -> bool:
        """Atomically take an available person for one leg, so two escalations never ring the
        same lead at once."""
        keys = [f"{P}presence:{person_id}", f"{P}holder:{person_id}"]
        claimed = self._claim(keys=keys, args=[holder, default_presence]) == 1
        if claimed:
            self.changed("presence", person_id)
        return claimed

    def release_person(self, person_id: str, holder: str) -> bool:
        keys = [f"{P}presence:{person_id}", f"{P}holder:{person_id}"]
        released = self._release(keys=keys, args=[holder]) == 1
        if released:
            self.changed("presence", person_id)
        return released

    # -- escalations ---------------------------------------------------
    def create_escalation(
        self, esc_id: str, call_sid: str, fields: dict[str, Any], idempotency_key: str | None, at: float
    ) -> tuple[str, str]:
        """('created'|'replay'|'open', escalation id), atomically: one open escalation per call."""
        flat: list[str] = []
        for k, v in {**fields, "id": esc_id, "call_sid": call_sid}.items():
            flat += [k, _text(v)]
        idem = f"{P}idempotency:{idempotency_key}" if idempotency_key else ""
        outcome, ident = self._create(
            keys=[
                f"{P}escalation:{esc_id}",
                f"{P}open_escalation:{call_sid}",
                f"{P}escalations",
                f"{P}call:{call_sid}",
            ],
            args=[idem, esc_id, f"{P}state:{fields['state']}", at, *flat],
        )
        if outcome == b"created" and safe_id(call_sid):
            # The escalation may outlive the call (a callback days later): its call, notes and
            # flags now go when the escalation is purged, not on the call's own clock.
            with self.r.pipeline(transaction=False) as pipe:
                for key in (f"{P}call:{call_sid}", *self._call_side_keys(call_sid)):
                    pipe.persist(key)
                pipe.execute()
        self.changed("escalation", ident.decode())
        return outcome.decode(), ident.decode()

    def escalation(self, esc_id: str) -> dict[str, str] | None:
        if not safe_id(esc_id):
            return None
        return self._hash(f"{P}escalation:{esc_id}")

    def open_escalation_id(self, call_sid: str) -> str | None:
        value = self.r.get(f"{P}open_escalation:{call_sid}")
        return value.decode() if value else None

    def close_escalation(self, call_sid: str, esc_id: str) -> None:
        key = f"{P}open_escalation:{call_sid}"
        if self.r.get(key) == esc_id.encode():
            self.r.delete(key)

    def transition(
        self,
        esc_id: str,
        from_states: tuple[str, ...],
        to_state: str,
        event: dict[str, str] | None = None,
        **fields: Any,
    ) -> bool:
        """Move an escalation between states only from the states named; the loser of a race
        (a duplicate webhook, two clicks) gets False and does nothing."""
        args: list[Any] = [
            to_state,
            json.dumps(event) if event else "",
            f"{P}state:",
            len(from_states),
            *from_states,
        ]
        for k, v in fields.items():
            args += [k, "" if v is None else _text(v)]
        ok, _ = self._transition(
            keys=[f"{P}escalation:{esc_id}", f"{P}escalation:{esc_id}:timeline", esc_id],
            args=args,
        )
        if ok == 1:
            if to_state in FINAL_STATES:
                self.mark_finished(esc_id, _epoch((event or {}).get("at")))
            self.changed("escalation", esc_id)
        return ok == 1

    # -- finished escalations leave live state (issue 8: Redis does not grow without bound) -----
    def mark_finished(self, esc_id: str, at: float) -> None:
        """From `at` + keep_seconds on, the escalation may be purged (its record is archived)."""
        self.r.zadd(FINISHED, {esc_id: at})

    def finished_before(self, at: float, count: int = 500) -> list[str]:
        return [v.decode() for v in self.r.zrangebyscore(FINISHED, "-inf", at, start=0, num=count)]

    def oldest_finished(self) -> float | None:
        first = self.r.zrange(FINISHED, 0, 0, withscores=True)
        return first[0][1] if first else None

    def unmark_finished(self, esc_id: str) -> None:
        self.r.zrem(FINISHED, esc_id)

    def purge_escalation(self, esc_id: str) -> None:
        """Delete everything live about a finished escalation: its hash, timeline, callback, the
        caller's call, and its place in the lists."""
        esc = self.escalation(esc_id) or {}
        call_sid = esc.get("call_sid", "")
        callback_id = esc.get("callback_id", "")
        with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(f"{P}escalation:{esc_id}", f"{P}escalation:{esc_id}:timeline", f"{P}capture:{esc_id}")
            if esc.get("state"):
                pipe.srem(f"{P}state:{esc['state']}", esc_id)
            pipe.zrem(f"{P}escalations", esc_id)
            pipe.zrem(f"{P}waiting_for_lead", esc_id)
            if callback_id and safe_id(callback_id):
                pipe.delete(f"{P}callback:{callback_id}")
                pipe.zrem(f"{P}callbacks", callback_id)
            if call_sid and safe_id(call_sid):
                pipe.delete(f"{P}call:{call_sid}", *self._call_side_keys(call_sid))
            pipe.zrem(FINISHED, esc_id)
            pipe.execute()
        if call_sid:
            self.close_escalation(call_sid, esc_id)

    def update_escalation(self, esc_id: str, **fields: Any) -> None:
        self._update(f"{P}escalation:{esc_id}", "escalation", esc_id, fields)

    def note_escalation(self, esc_id: str, **fields: Any) -> None:
        """Book-keeping no console shows (when the hold message was last said): no change event."""
        self.r.hset(f"{P}escalation:{esc_id}", mapping={k: _text(v) for k, v in fields.items()})

    def add_event(self, esc_id: str, event: dict[str, str]) -> None:
        self.r.rpush(f"{P}escalation:{esc_id}:timeline", json.dumps(event))
        self.changed("escalation", esc_id)

    def move_case(self, esc_id: str, status: str, event: dict[str, str], **fields: Any) -> bool:
        """R-ESC-8: move a case on only from the status it was read in (two owners clicking)."""
        key = f"{P}escalation:{esc_id}"
        moved = self._cas(key, f"{key}:timeline", "case_status", status, event, fields)
        if moved:
            self.changed("escalation", esc_id)
        return moved

    def record_warning(self, call_sid: str, given: int, **fields: Any) -> bool:
        """R-ABUSE-1: the next step of the warning protocol, only after the `given` before it."""
        return self._call_cas(call_sid, "warnings_given", str(given or ""), fields)

    def claim_listener(self, call_sid: str, person_id: str, **fields: Any) -> bool:
        """R-WARM-7: one listener per call; two leads pressing listen at once, one wins."""
        return self._call_cas(call_sid, "listener_person", "", {"listener_person": person_id, **fields})

    def release_listener(self, call_sid: str, person_id: str) -> bool:
        cleared = {"listener_person": "", "listener_mode": "", "listener_call_sid": "", "listener_since": ""}
        return self._call_cas(call_sid, "listener_person", person_id, cleared)

    def _call_cas(self, call_sid: str, field: str, expected: str, fields: dict[str, Any]) -> bool:
        done = self._cas(f"{P}call:{call_sid}", "", field, expected, None, fields)
        if done:
            self.changed("call", call_sid)
        return done

    def _cas(
        self, key: str, events: str, field: str, expected: str, event: dict[str, str] | None, fields: dict[str, Any]
    ) -> bool:
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, _text(v)]
        args = [field, expected, json.dumps(event) if event else "", *flat]
        return self._compare_and_set(keys=[key, events or key], args=args) == 1

    def timeline(self, esc_id: str) -> list[dict[str, str]]:
        if not safe_id(esc_id):
            return []
        return [json.loads(v) for v in self.r.lrange(f"{P}escalation:{esc_id}:timeline", 0, -1)]

    def escalation_ids(self, state: str | None = None) -> list[str]:
        if state:
            ids = [v.decode() for v in self.r.smembers(f"{P}state:{state}")]
            order = {i: self.r.zscore(f"{P}escalations", i) or 0 for i in ids}
            return sorted(ids, key=lambda i: order[i])
        return [v.decode() for v in self.r.zrange(f"{P}escalations", 0, -1)]

    # -- legs we dial (agents and leads) ----------------------------------
    def save_leg(self, call_sid: str, fields: dict[str, Any]) -> None:
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hset(f"{P}leg:{call_sid}", mapping={k: _text(v) for k, v in fields.items()})
            pipe.expire(f"{P}leg:{call_sid}", LEG_TTL_SECONDS)
            pipe.execute()

    def link_leg(self, call_sid: str, leg: dict[str, Any], kind: str, ident: str, **fields: Any) -> None:
        """Save a leg we dialled and point its escalation or callback (`kind`) at it in one
        transaction: its answer webhook never finds the one without the other. Two writes let a
        lead who answered in between hear "the caller is no longer on the line", and the next
        lead be rung (found by tests/chaos under load)."""
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}leg:{call_sid}", mapping={k: _text(v) for k, v in leg.items()})
            pipe.hset(f"{P}{kind}:{ident}", mapping={k: _text(v) for k, v in fields.items()})
            pipe.execute()
        self.changed(kind, ident)

    def leg(self, call_sid: str) -> dict[str, str] | None:
        if not safe_id(call_sid):
            return None
        return self._hash(f"{P}leg:{call_sid}")

    def update_leg(self, call_sid: str, **fields: Any) -> None:
        self.r.hset(f"{P}leg:{call_sid}", mapping={k: _text(v) for k, v in fields.items()})

    def advance_call_status_leg(self, call_sid: str, status: str) -> bool:
        rank = CALL_STATUS_RANK.get(status)
        if rank is None:
            return False
        key = f"{P}leg:{call_sid}"
        return self._advance(keys=[key], args=[status, rank]) == 1

    def settle_leg(self, call_sid: str, outcome: str) -> bool:
        """Record how a leg ended the first time only: accept, decline and hang-up race."""
        return bool(self.r.hsetnx(f"{P}leg:{call_sid}", "outcome", outcome))

    # -- callbacks (R-CB-8: stored before the caller hears the confirmation) ---------
    def save_callback(self, cb_id: str, fields: dict[str, Any], at: float) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}callback:{cb_id}", mapping={k: _text(v) for k, v in fields.items()})
            pipe.zadd(f"{P}callbacks", {cb_id: at})
            pipe.execute()
        self.replicated(f"callback {cb_id}")
        self.changed("callback", cb_id)

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

    # -- failed sign-ins and tokens, per client address --------------------------------
    def count_auth_failure(self, client: str, window_seconds: int) -> int:
        """One more failed sign-in or bearer token from this address in the current window."""
        return int(self._count_failure(keys=[f"{P}auth-failures:{client[:64]}"], args=[window_seconds]))

    def auth_failures(self, client: str) -> tuple[int, int]:
        """(failures in the current window, seconds until it ends)."""
        key = f"{P}auth-failures:{client[:64]}"
        with self.r.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
        return int(count or 0), max(int(ttl), 1)

    def callback(self, cb_id: str) -> dict[str, str] | None:
        if not safe_id(cb_id):
            return None
        return self._hash(f"{P}callback:{cb_id}")

    def update_callback(self, cb_id: str, **fields: Any) -> None:
        self._update(f"{P}callback:{cb_id}", "callback", cb_id, fields)

    def claim_callback(self, cb_id: str, attempt: int, at: str) -> bool:
        """One dial per attempt, whichever worker (or retried job) gets here first."""
        claimed = self._claim_callback(keys=[f"{P}callback:{cb_id}"], args=[attempt, at]) == 1
        if claimed:
            self.changed("callback", cb_id)
        return claimed

    def callback_ids(self) -> list[str]:
        return [v.decode() for v in self.r.zrange(f"{P}callbacks", 0, -1)]

    def capture(self, esc_id: str) -> dict[str, str]:
        if not safe_id(esc_id):
            return {}
        return self._hash(f"{P}capture:{esc_id}") or {}

    def update_capture(self, esc_id: str, **fields: Any) -> None:
        self.r.hset(f"{P}capture:{esc_id}", mapping={k: _text(v) for k, v in fields.items()})
        self.r.expire(f"{P}capture:{esc_id}", 86400)

    def claim_sweeper(self, due: float, stale_before: float) -> bool:
        """One sweeper job at a time, whoever schedules it: taken when there is none, or when the
        one there was due before `stale_before` (its worker died with it, R-CB-8)."""
        return self._claim_sweeper(keys=[f"{P}sweeper"], args=[due, stale_before]) == 1

    def release_sweeper(self) -> None:
        self.r.delete(f"{P}sweeper")

    def call_sids(self) -> list[str]:
        """Every call this service knows of (the caller legs and the legs it dialled)."""
        sids = []
        for key in self.r.scan_iter(match=f"{P}call:CA*", count=200):
            rest = key.decode()[len(f"{P}call:") :]
            if ":" not in rest:
                sids.append(rest)
        return sids

    # -- red flags and agent notes (R-NOTE-5): kept on the call, so none is lost ---------------
    def raise_red_flag(self, call_sid: str, key: str, flag: dict[str, Any]) -> bool:
        """Keep a red flag on the call once per phrase: the first one wins, duplicates (the same
        words heard twice, a retried webhook) are no-ops. True if this one is new."""
        if not safe_id(call_sid):
            return False
        created = bool(self.r.hsetnx(f"{P}call:{call_sid}:red_flags", key, json.dumps(flag)))
        if created:
            self.r.rpush(f"{P}call:{call_sid}:red_flag_order", key)
            self._as_long_as_the_call(call_sid)
            self.changed("call", call_sid)
        return created

    def red_flag(self, call_sid: str, key: str) -> dict[str, Any] | None:
        if not safe_id(call_sid):
            return None
        raw = self.r.hget(f"{P}call:{call_sid}:red_flags", key)
        return json.loads(raw) if raw else None

    def red_flags(self, call_sid: str) -> list[dict[str, Any]]:
        if not safe_id(call_sid):
            return []
        order = self.r.lrange(f"{P}call:{call_sid}:red_flag_order", 0, -1)
        if not order:
            return []
        return [json.loads(v) for v in self.r.hmget(f"{P}call:{call_sid}:red_flags", order) if v]

    def add_note(self, call_sid: str, note: dict[str, Any]) -> int:
        """An agent's note on the call, appended; returns how many the call has."""
        count = int(self.r.rpush(f"{P}call:{call_sid}:notes", json.dumps(note)))
        self._as_long_as_the_call(call_sid)
        self.changed("call", call_sid)
        return count

    @staticmethod
    def _call_side_keys(call_sid: str) -> tuple[str, ...]:
        """What lives beside a call's hash and goes when it goes (issue 8: finished calls leave)."""
        return tuple(f"{P}call:{call_sid}:{part}" for part in ("agents_tried", "notes", "red_flags", "red_flag_order"))

    def _as_long_as_the_call(self, call_sid: str) -> None:
        """A note or flag on a call that has ended (and expires) expires with it."""
        ttl = self.r.ttl(f"{P}call:{call_sid}")
        if ttl and ttl > 0:
            for key in self._call_side_keys(call_sid)[1:]:
                self.r.expire(key, ttl)

    def notes(self, call_sid: str) -> list[dict[str, Any]]:
        if not safe_id(call_sid):
            return []
        return [json.loads(v) for v in self.r.lrange(f"{P}call:{call_sid}:notes", 0, -1)]

    # -- notifications (R-NOTE-1): every post is kept, whether or not a webhook is set ---
    def record_notification(self, note: dict[str, Any]) -> None:
        """Kept as a log of what was posted, the newest NOTIFICATIONS_KEPT."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.rpush(f"{P}notifications", json.dumps(note))
            pipe.ltrim(f"{P}notifications", -NOTIFICATIONS_KEPT, -1)
            pipe.execute()

    def notifications(self, start: int = 0) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.r.lrange(f"{P}notifications", start, -1)]

    # -- urgent emails to managers (R-NOTE-2): kept until the SMTP server took them ---------------
    def save_email(self, email_id: str, fields: dict[str, Any], at: float) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}email:{email_id}", mapping={k: _text(v) for k, v in fields.items()})
            pipe.zadd(f"{P}emails", {email_id: at})
            if fields.get("escalation"):
                pipe.rpush(f"{P}escalation:{fields['escalation']}:emails", email_id)
            pipe.execute()

    def email(self, email_id: str) -> dict[str, str] | None:
        if not safe_id(email_id):
            return None
        return self._hash(f"{P}email:{email_id}")

    def update_email(self, email_id: str, **fields: Any) -> None:
        self.r.hset(f"{P}email:{email_id}", mapping={k: _text(v) for k, v in fields.items()})

    def claim_email_try(self, email_id: str, tries: int, at: str) -> bool:
        """One SMTP try per try number, whichever job (or retried duplicate) gets here first."""
        key = f"{P}email:{email_id}"
        return self._cas(key, "", "tries", str(tries), None, {"tries": tries + 1, "try_started_at": at})

    def escalation_emails(self, esc_id: str) -> list[str]:
        if not safe_id(esc_id):
            return []
        return [v.decode() for v in self.r.lrange(f"{P}escalation:{esc_id}:emails", 0, -1)]

    def email_ids(self) -> list[str]:
        return [v.decode() for v in self.r.zrange(f"{P}emails", 0, -1)]

    # -- the early warning (R-NOTE-4) and follow-through tasks (R-NOTE-6) -------------------------
    def flag_early_warning(self, call_sid: str, **fields: Any) -> bool:
        """Once per call: two clicks, one flag."""
        return self._call_cas(call_sid, "early_warning_at", "", fields)

    def save_task(self, task_id: str, fields: dict[str, Any], at: float) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}task:{task_id}", mapping={k: _text(v) for k, v in fields.items()})
            pipe.zadd(f"{P}tasks", {task_id: at})
            pipe.execute()
        self.changed("task", task_id)

    def task(self, task_id: str) -> dict[str, str] | None:
        if not safe_id(task_id):
            return None
        return self._hash(f"{P}task:{task_id}")

    def task_ids(self) -> list[str]:
        return [v.decode() for v in self.r.zrange(f"{P}tasks", 0, -1)]

    def finish_task(self, task_id: str, **fields: Any) -> bool:
        """Open to done once; a second click finds it done."""
        done = self._cas(f"{P}task:{task_id}", "", "status", "open", None, {"status": "done", **fields})
        if done:
            self.changed("task", task_id)
        return done

    def flag_task_overdue(self, task_id: str, at: str) -> bool:
        """R-NOTE-6: an overdue task is flagged to the leader once, however often its timer runs."""
        flagged = self._cas(f"{P}task:{task_id}", "", "overdue_flagged_at", "", None, {"overdue_flagged_at": at})
        if flagged:
            self.changed("task", task_id)
        return flagged

    # -- the records archive (R-NOTE-3): outlives the live keys of a finished escalation ---------
    def finish_fields(self, kind: str, ident: str) -> tuple[str, str, str]:
        """(escalation id, its state, its callback's status) for a changed escalation or callback,
        in one round trip: it runs on every change (R-NOTE-3, the records archive)."""
        esc_id, state, status = self._finish_fields(args=[kind, ident, P])
        return esc_id.decode(), state.decode(), status.decode()

    def save_record(self, esc_id: str, record: dict[str, Any], created: float, keep_seconds: int, now: float) -> None:
        """Write (or rewrite) an escalation's record, indexed by when it was created; kept
        keep_seconds from this write, and index entries older than that are dropped."""
        with self.r.pipeline(transaction=True) as pipe:
            pipe.set(f"{P}record:{esc_id}", json.dumps(record), ex=keep_seconds)
            pipe.zadd(RECORDS, {esc_id: created})
            pipe.zremrangebyscore(RECORDS, "-inf", f"({now - keep_seconds}")
            pipe.execute()

    def record(self, esc_id: str) -> dict[str, Any] | None:
        if not safe_id(esc_id):
            return None
        raw = self.r.get(f"{P}record:{esc_id}")
        return json.loads(raw) if raw else None

    def record_ids_between(self, start: float, end: float) -> list[str]:
        """Every escalation created in [start, end), archived or still live, oldest first."""
        ids: dict[str, float] = {}
        for index in (RECORDS, f"{P}escalations"):
            for member, score in self.r.zrangebyscore(index, start, f"({end}", withscores=True):
                ids[member.decode()] = score
        return sorted(ids, key=lambda i: (ids[i], i))

    def archived_records(self, esc_ids: list[str]) -> list[dict[str, Any] | None]:
        if not esc_ids:
            return []
        return [json.loads(raw) if raw else None for raw in self.r.mget([f"{P}record:{i}" for i in esc_ids])]

    # -- what changed, for the consoles (server-sent events) -------------------------------------
    def changed(self, kind: str, ident: str) -> str:
        """Tell every console what changed: a capped stream, so a console that reconnects with
        Last-Event-ID replays what it missed, and a pub/sub nudge that wakes every web worker."""
        event_id = self._changed(keys=[EVENTS], args=[kind, ident, EVENTS_KEPT]).decode()
        self._tell_on_change(kind, ident)
        return event_id

    def _tell_on_change(self, kind: str, ident: str) -> None:
        """Every change the consoles hear of, whichever script made it, reaches on_change too."""
        if self.on_change is not None and kind in ("escalation", "callback"):
            self.on_change(kind, ident)

    def last_event_id(self) -> str:
        entries = self.r.xrevrange(EVENTS, count=1)
        return entries[0][0].decode() if entries else "0-0"

    def events_after(self, last_id: str, count: int = 200) -> list[tuple[str, dict[str, str]]]:
        """Events newer than last_id (oldest first); an id the stream no longer holds replays all kept."""
        entries = self.r.xrange(EVENTS, min=f"({last_id}", count=count)
        return [(i.decode(), {k.decode(): v.decode() for k, v in f.items()}) for i, f in entries]

    def listen(self) -> redis.client.PubSub:
        """A subscription to the nudges: whoever calls get_message must close it."""
        pubsub = self.r.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(EVENTS)
        return pubsub


def _epoch(iso_time: str | None) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso_time).timestamp() if iso_time else time.time()
    except ValueError:
        return time.time()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def persistence_problem(conn: redis.Redis) -> tuple[str, bool]:
    """What this Redis would lose on a restart: ("", False) when it writes an append-only file;
    (why, fatal) otherwise. A booked callback has been confirmed to the caller (R-CB-8), so a
    Redis that keeps nothing is refused; snapshots only, or a Redis that will not say, is warned."""
    try:
        config = conn.config_get("appendonly")
        config.update(conn.config_get("save"))
    except redis.ResponseError as exc:
        return f"cannot read Redis's persistence settings ({exc}); make sure it has appendonly yes", False
    aof = str(config.get("appendonly", "")).lower() == "yes"
    snapshots = bool(str(config.get("save", "")).strip())
    if aof:
        return "", False
    if snapshots:
        return (
            "Redis keeps snapshots only (appendonly no): changes since the last one are lost on a crash; set appendonly yes",
            False,
        )
    return (
        "Redis has no persistence (appendonly no, no save points): a restart would lose booked callbacks; set appendonly yes",
        True,
    )


def connect(settings) -> redis.Redis:
    """The one way every process (web, RQ worker, scheduler) reaches Redis: REDIS_URL, or through
    Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER), whose client finds the current master
    again after a fail-over. Raises ConnectionError with one line when nothing answers."""
    if settings.redis_sentinels:
        return sentinel_master(settings.redis_sentinels, settings.redis_sentinel_master)
    return redis.Redis.from_url(settings.redis_url)


def sentinel_master(sentinels, master: str, **kwargs: Any) -> redis.Redis:
    sentinel = Sentinel(
        list(sentinels),
        socket_timeout=2,
        sentinel_kwargs={"socket_timeout": 1, "socket_connect_timeout": 1},
        socket_connect_timeout=2,
        **kwargs,
    )
    return sentinel.master_for(master, socket_timeout=5, socket_connect_timeout=2)
