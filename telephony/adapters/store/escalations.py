"""Escalations: created once per call (an idempotency key replays), moved between states only from
the states named (the loser of a race does nothing), their timeline, the case status, the queue
waiting for a lead, and finished escalations leaving live state (issue 8)."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.store import keys
from telephony.adapters.store.base import EVENTS_KEPT, as_text, epoch, text, texts
from telephony.adapters.store.changes import ChangeStream
from telephony.lifecycle import Escalation, Transition, Trigger, fire, moves


class EscalationStore(ChangeStream):
    def create_escalation(
        self,
        esc_id: str,
        call_sid: str,
        fields: dict[str, Any],
        idempotency_key: str | None,
        at: float,
        timeline: list[dict[str, str]] | None = None,
    ) -> tuple[str, str]:
        """('created'|'replay'|'open', escalation id), atomically: one open escalation per call.
        Created, in the same round trip: its first `timeline` entries, the consoles told, the
        call's keys kept as long as the escalation (a callback days later: they go when it is
        purged, not on the call's own clock), and EscalationRaised in the outbox (issue 29)."""
        flat: list[str] = []
        for k, v in {**fields, "id": esc_id, "call_sid": call_sid}.items():
            flat += [k, as_text(v)]
        idem = self.k.idempotency(idempotency_key) if idempotency_key else ""
        persist = [self.k.call(call_sid), *self._call_side_keys(call_sid)] if keys.safe_id(call_sid) else []
        cfg = self._outbox_cfg(
            events=self.k.EVENTS,
            kept=EVENTS_KEPT,
            entries=[json.dumps(e) for e in timeline or []],
            persist=persist,
            raised=[e.as_dict() for e in fire(None, Trigger.ESCALATE).events(esc_id)],
        )
        outcome, ident = self._create(
            keys=[
                self.k.escalation(esc_id),
                self.k.open_escalation(call_sid),
                self.k.ESCALATIONS,
                self.k.call(call_sid),
                self.k.timeline(esc_id),
            ],
            args=[idem, esc_id, self.k.state(fields["state"]), at, cfg, *flat],
        )
        if outcome == b"created":  # a replay or a call already escalated wrote nothing
            self._drain(1)
        return text(outcome), text(ident)

    def call_for_escalation(
        self, call_sid: str, idempotency_key: str | None
    ) -> tuple[dict[str, str] | None, str | None, str | None]:
        """(the call, its open escalation, the escalation this idempotency key made) in one
        round trip: a repeated escalate is answered without a write (the create decides again)."""
        if not keys.safe_id(call_sid):
            return None, None, None
        flat, open_id, replay = self._call_for_escalation(
            keys=[self.k.call(call_sid), self.k.open_escalation(call_sid)],
            args=[self.k.idempotency(idempotency_key) if idempotency_key else ""],
        )
        call = {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)} if flat else None
        return call, text(open_id) or None, text(replay) or None

    def escalation(self, esc_id: str) -> dict[str, str] | None:
        if not keys.safe_id(esc_id):
            return None
        return self._hash(self.k.escalation(esc_id))

    def read_escalation(self, esc_id: str) -> Escalation | None:
        """The escalation as the lifecycle's typed value (its flags as booleans, its state an
        enum): the one place its hash is read as a whole into a value."""
        raw = self.escalation(esc_id)
        return Escalation.from_hash(raw) if raw else None

    def escalation_fields(self, esc_id: str, *fields: str) -> dict[str, str] | None:
        """Only the fields named (those set), or None for no such escalation: the hold URL,
        fetched again and again while a caller holds, reads five of its thirty."""
        if not keys.safe_id(esc_id):
            return None
        values = self.r.hmget(self.k.escalation(esc_id), ["state", *fields])
        if values[0] is None:
            return None
        return {f: text(v) for f, v in zip(("state", *fields), values, strict=True) if v is not None}

    def open_escalation_id(self, call_sid: str) -> str | None:
        value = self.r.get(self.k.open_escalation(call_sid))
        return text(value) if value else None

    def close_escalation(self, call_sid: str, esc_id: str) -> None:
        key = self.k.open_escalation(call_sid)
        if self.r.get(key) == esc_id.encode():
            self.r.delete(key)

    def transition(
        self,
        esc_id: str,
        trigger: Trigger,
        event: dict[str, str] | None = None,
        *,
        source: str | None = None,
        **fields: Any,
    ) -> Transition | None:
        """Move an escalation as the lifecycle's table says `trigger` moves it from whichever
        state it is in when the script runs (compare-and-set: the table's legal sources are the
        script's arguments), or only from `source` (the state the fields were chosen for); the
        loser of a race (a duplicate webhook, two clicks) gets None and does nothing. Returns
        the transition made."""
        legal = moves(trigger)
        if source is not None:
            legal = {s: t for s, t in legal.items() if s == source}
        cfg = self._outbox_cfg(
            events=self.k.EVENTS, kept=EVENTS_KEPT, finished=self.k.FINISHED, at=epoch((event or {}).get("at"))
        )
        args: list[Any] = [json.dumps(event) if event else "", self.k.state(""), cfg, len(legal)]
        for source, target in legal.items():
            made_here = fire(source, trigger)
            args += [source, target, json.dumps([e.as_dict() for e in made_here.events(esc_id)])]
        for k, v in fields.items():
            args += [k, "" if v is None else as_text(v)]
        got = self._transition(keys=[self.k.escalation(esc_id), self.k.timeline(esc_id)], args=args)
        if got[0] != 1:
            return None
        self._drain(int(got[2]))
        return fire(text(got[1]), trigger)

    def mark_finished(self, esc_id: str, at: float) -> None:
        """From `at` + keep_seconds on, the escalation may be purged (its record is archived)."""
        self.r.zadd(self.k.FINISHED, {esc_id: at})

    def finished_before(self, at: float, count: int = 500) -> list[str]:
        return texts(self.r.zrangebyscore(self.k.FINISHED, "-inf", at, start=0, num=count))

    def oldest_finished(self) -> float | None:
        first: list[tuple[bytes, float]] = self.r.zrange(self.k.FINISHED, 0, 0, withscores=True)  # type: ignore[assignment]
        return float(first[0][1]) if first else None

    def unmark_finished(self, esc_id: str) -> None:
        self.r.zrem(self.k.FINISHED, esc_id)

    def purge_escalation(self, esc_id: str) -> None:
        """Delete everything live about a finished escalation: its hash, timeline, callback, the
        caller's call, and its place in the lists."""
        esc = self.escalation(esc_id) or {}
        call_sid = esc.get("call_sid", "")
        callback_id = esc.get("callback_id", "")
        with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(self.k.escalation(esc_id), self.k.timeline(esc_id), self.k.capture(esc_id))
            if esc.get("state"):
                pipe.srem(self.k.state(esc["state"]), esc_id)
            pipe.zrem(self.k.ESCALATIONS, esc_id)
            pipe.zrem(self.k.WAITING_FOR_LEAD, esc_id)
            if callback_id and keys.safe_id(callback_id):
                pipe.delete(self.k.callback(callback_id))
                pipe.zrem(self.k.CALLBACKS, callback_id)
            if call_sid and keys.safe_id(call_sid):
                pipe.delete(self.k.call(call_sid), *self._call_side_keys(call_sid))
            pipe.zrem(self.k.FINISHED, esc_id)
            pipe.execute()
        if call_sid:
            self.close_escalation(call_sid, esc_id)

    def update_escalation(self, esc_id: str, **fields: Any) -> None:
        self._update(self.k.escalation(esc_id), "escalation", esc_id, fields)

    def update_escalation_with(self, esc_id: str, entry: dict[str, str] | None, **fields: Any) -> None:
        """update_escalation and, when given, `entry` on its timeline: one round trip."""
        if entry is None:
            self.update_escalation(esc_id, **fields)
            return
        flat = [x for k, v in fields.items() if v is not None for x in (k, as_text(v))]
        done = self._update_and_tell(
            keys=[self.k.escalation(esc_id), self.k.EVENTS, self.k.timeline(esc_id)],
            args=["escalation", esc_id, EVENTS_KEPT, self._outbox_cfg(entry=json.dumps(entry)), *flat],
        )
        self._drain(max(int(done) - 1, 0))

    def note_escalation(self, esc_id: str, **fields: Any) -> None:
        """Book-keeping no console shows (when the hold message was last said): no change event."""
        self.r.hset(self.k.escalation(esc_id), mapping={k: as_text(v) for k, v in fields.items()})

    def take_check_ins(
        self, check_ins: list[tuple[str, int, str, dict[str, str]]], holding: tuple[str, ...]
    ) -> list[dict[str, str] | None]:
        """R-HOLD-2 for every (escalation, round, marker, event) of a batch in one round trip
        (scripts.TAKE_CHECK_INS, where five a check-in were): each escalation still holding in its
        round and its check-in not made before, then its timeline entry and the consoles told.
        Returns, in order, the fields each check-in needs, or None. The records archive is not
        told: an escalation still holding is not finished, so it has nothing to archive."""
        safe = [c for c in check_ins if keys.safe_id(c[0])]
        got = []
        if safe:
            args: list[str | int] = [86400, EVENTS_KEPT, len(holding), *holding]
            for esc_id, round_, _, event in safe:
                args += [round_, json.dumps(event), esc_id]
            got = self._take_check_ins(
                keys=[self.k.EVENTS]
                + [k for esc_id, _, marker, _ in safe for k in self._check_in_keys(esc_id, marker)],
                args=args,
            )
        answers = iter(got)
        names = ("state", "conference_sid", "call_sid", "caller_placement", "hold_round_started_at")
        taken: list[dict[str, str] | None] = []
        for esc_id, *_ in check_ins:
            fields = next(answers) if keys.safe_id(esc_id) else 0
            taken.append({"id": esc_id, **dict(zip(names, texts(fields), strict=True))} if fields else None)
        return taken

    def _check_in_keys(self, esc_id: str, marker: str) -> tuple[str, str, str]:
        return self.k.escalation(esc_id), self.k.timeline(esc_id), self.k.seen(marker)

    def add_event(self, esc_id: str, event: dict[str, str]) -> None:
        self.r.rpush(self.k.timeline(esc_id), json.dumps(event))
        self.changed("escalation", esc_id)

    def move_case(self, esc_id: str, status: str, event: dict[str, str], **fields: Any) -> bool:
        """R-ESC-8: move a case on only from the status it was read in (two owners clicking)."""
        key = self.k.escalation(esc_id)
        moved = self._cas(key, f"{key}:timeline", "case_status", status, event, fields)
        if moved:
            self.changed("escalation", esc_id)
        return moved

    def timeline(self, esc_id: str) -> list[dict[str, str]]:
        if not keys.safe_id(esc_id):
            return []
        return [json.loads(v) for v in self.r.lrange(self.k.timeline(esc_id), 0, -1)]

    def escalation_ids(self, state: str | None = None) -> list[str]:
        if state:
            ids = texts(self.r.smembers(self.k.state(state)))
            order = {i: self.r.zscore(self.k.ESCALATIONS, i) or 0 for i in ids}
            return sorted(ids, key=lambda i: order[i])
        return texts(self.r.zrange(self.k.ESCALATIONS, 0, -1))

    def wait_for_lead(self, esc_id: str, at: float) -> None:
        self.r.zadd(self.k.WAITING_FOR_LEAD, {esc_id: at}, nx=True)

    def stop_waiting_for_lead(self, esc_id: str) -> None:
        self.r.zrem(self.k.WAITING_FOR_LEAD, esc_id)

    def waiting_for_lead(self) -> list[str]:
        return texts(self.r.zrange(self.k.WAITING_FOR_LEAD, 0, -1))
