"""What is kept about a call and an escalation: red flags and agents' notes on the call, the log
of channel posts (R-NOTE-1), the managers' emails until SMTP took them (R-NOTE-2), follow-through
tasks (R-NOTE-6), and the records archive that outlives live state (R-NOTE-3)."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.store import keys
from telephony.adapters.store.base import as_text, text, texts
from telephony.adapters.store.changes import ChangeStream

NOTIFICATIONS_KEPT = 10000


class RecordStore(ChangeStream):
    def raise_red_flag(self, call_sid: str, key: str, flag: dict[str, Any]) -> bool:
        """Keep a red flag on the call once per phrase: the first one wins, duplicates (the same
        words heard twice, a retried webhook) are no-ops. True if this one is new."""
        if not keys.safe_id(call_sid):
            return False
        created = bool(self.r.hsetnx(self.k.call_part(call_sid, "red_flags"), key, json.dumps(flag)))
        if created:
            self.r.rpush(self.k.call_part(call_sid, "red_flag_order"), key)
            self._as_long_as_the_call(call_sid)
            self.changed("call", call_sid)
        return created

    def red_flag(self, call_sid: str, key: str) -> dict[str, Any] | None:
        if not keys.safe_id(call_sid):
            return None
        raw = self.r.hget(self.k.call_part(call_sid, "red_flags"), key)
        return json.loads(raw) if raw else None

    def red_flag_told(self, call_sid: str, key: str, at: str) -> None:
        """The managers were told of this flag at `at` (kept on the flag, so an escalation created
        later carries the time onto its timeline for the reports)."""
        flag = self.red_flag(call_sid, key)
        if flag is not None:
            self.r.hset(self.k.call_part(call_sid, "red_flags"), key, json.dumps({**flag, "told_at": at}))

    def red_flags(self, call_sid: str) -> list[dict[str, Any]]:
        if not keys.safe_id(call_sid):
            return []
        order = self.r.lrange(self.k.call_part(call_sid, "red_flag_order"), 0, -1)
        if not order:
            return []
        return [json.loads(v) for v in self.r.hmget(self.k.call_part(call_sid, "red_flags"), order) if v]

    def add_note(self, call_sid: str, note: dict[str, Any]) -> int:
        """An agent's note on the call, appended; returns how many the call has."""
        count = int(self.r.rpush(self.k.call_part(call_sid, "notes"), json.dumps(note)))
        self._as_long_as_the_call(call_sid)
        self.changed("call", call_sid)
        return count

    def _as_long_as_the_call(self, call_sid: str) -> None:
        """A note or flag on a call that has ended (and expires) expires with it."""
        ttl = self.r.ttl(self.k.call(call_sid))
        if ttl and ttl > 0:
            for key in self._call_side_keys(call_sid)[1:]:
                self.r.expire(key, ttl)

    def notes(self, call_sid: str) -> list[dict[str, Any]]:
        if not keys.safe_id(call_sid):
            return []
        return [json.loads(v) for v in self.r.lrange(self.k.call_part(call_sid, "notes"), 0, -1)]

    def record_notification(self, note: dict[str, Any]) -> None:
        """Kept as a log of what was posted, the newest NOTIFICATIONS_KEPT."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.rpush(self.k.NOTIFICATIONS, json.dumps(note))
            pipe.ltrim(self.k.NOTIFICATIONS, -NOTIFICATIONS_KEPT, -1)
            pipe.execute()

    def notifications(self, start: int = 0) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.r.lrange(self.k.NOTIFICATIONS, start, -1)]

    def save_email(self, email_id: str, fields: dict[str, Any], at: float) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.k.email(email_id), mapping={k: as_text(v) for k, v in fields.items()})
            pipe.zadd(self.k.EMAILS, {email_id: at})
            if fields.get("escalation"):
                pipe.rpush(self.k.escalation_emails(fields["escalation"]), email_id)
            pipe.execute()

    def email(self, email_id: str) -> dict[str, str] | None:
        if not keys.safe_id(email_id):
            return None
        return self._hash(self.k.email(email_id))

    def update_email(self, email_id: str, **fields: Any) -> None:
        self.r.hset(self.k.email(email_id), mapping={k: as_text(v) for k, v in fields.items()})

    def claim_email_try(self, email_id: str, tries: int, at: str) -> bool:
        """One SMTP try per try number, whichever job (or retried duplicate) gets here first."""
        key = self.k.email(email_id)
        return self._cas(key, "", "tries", str(tries), None, {"tries": tries + 1, "try_started_at": at})

    def escalation_emails(self, esc_id: str) -> list[str]:
        if not keys.safe_id(esc_id):
            return []
        return texts(self.r.lrange(self.k.escalation_emails(esc_id), 0, -1))

    def email_ids(self) -> list[str]:
        return texts(self.r.zrange(self.k.EMAILS, 0, -1))

    def save_task(self, task_id: str, fields: dict[str, Any], at: float) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.k.task(task_id), mapping={k: as_text(v) for k, v in fields.items()})
            pipe.zadd(self.k.TASKS, {task_id: at})
            pipe.execute()
        self.changed("task", task_id)

    def task(self, task_id: str) -> dict[str, str] | None:
        if not keys.safe_id(task_id):
            return None
        return self._hash(self.k.task(task_id))

    def task_ids(self) -> list[str]:
        return texts(self.r.zrange(self.k.TASKS, 0, -1))

    def finish_task(self, task_id: str, **fields: Any) -> bool:
        """Open to done once; a second click finds it done."""
        done = self._cas(self.k.task(task_id), "", "status", "open", None, {"status": "done", **fields})
        if done:
            self.changed("task", task_id)
        return done

    def flag_task_overdue(self, task_id: str, at: str) -> bool:
        """R-NOTE-6: an overdue task is flagged to the leader once, however often its timer runs."""
        flagged = self._cas(self.k.task(task_id), "", "overdue_flagged_at", "", None, {"overdue_flagged_at": at})
        if flagged:
            self.changed("task", task_id)
        return flagged

    def save_record(self, esc_id: str, record: dict[str, Any], created: float, keep_seconds: int, now: float) -> None:
        """Write (or rewrite) an escalation's record, indexed by when it was created; kept
        keep_seconds from this write, and index entries older than that are dropped."""
        with self.r.pipeline(transaction=True) as pipe:
            pipe.set(self.k.record(esc_id), json.dumps(record), ex=keep_seconds)
            pipe.zadd(self.k.RECORDS, {esc_id: created})
            pipe.zremrangebyscore(self.k.RECORDS, "-inf", f"({now - keep_seconds}")
            pipe.execute()

    def record(self, esc_id: str) -> dict[str, Any] | None:
        if not keys.safe_id(esc_id):
            return None
        raw = self.r.get(self.k.record(esc_id))
        return json.loads(raw) if raw else None

    def record_ids_between(self, start: float, end: float) -> list[str]:
        """Every escalation created in [start, end), archived or still live, oldest first."""
        ids: dict[str, float] = {}
        for index in (self.k.RECORDS, self.k.ESCALATIONS):
            scored: list[tuple[bytes, float]] = self.r.zrangebyscore(index, start, f"({end}", withscores=True)  # type: ignore[assignment]
            for member, score in scored:
                ids[text(member)] = float(score)
        return sorted(ids, key=lambda i: (ids[i], i))

    def live_ids_between(self, start: float, end: float) -> list[str]:
        """Escalations created in [start, end) whose live state Redis still holds, oldest first."""
        return texts(self.r.zrangebyscore(self.k.ESCALATIONS, start, f"({end}"))

    def archived_ids_between(self, start: float, end: float) -> list[tuple[str, float]]:
        """(id, created) of the records the old Redis archive still holds in [start, end) (issue
        30: an archive not yet copied into the history database)."""
        scored: list[tuple[bytes, float]] = self.r.zrangebyscore(self.k.RECORDS, start, f"({end}", withscores=True)  # type: ignore[assignment]
        return [(text(member), float(score)) for member, score in scored]

    def archived_record_count(self) -> int:
        return int(self.r.zcard(self.k.RECORDS))

    def archived_id_page(self, after: float, count: int) -> list[tuple[str, float]]:
        """The next `count` (id, created) of the old archive from `after` on, oldest first."""
        scored: list[tuple[bytes, float]] = self.r.zrangebyscore(  # type: ignore[assignment]
            self.k.RECORDS, after, "+inf", start=0, num=count, withscores=True
        )
        return [(text(member), float(score)) for member, score in scored]

    def drop_record(self, esc_id: str) -> None:
        """The record is safely in the history database: Redis keeps no copy (issue 30)."""
        with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(self.k.record(esc_id))
            pipe.zrem(self.k.RECORDS, esc_id)
            pipe.execute()

    def archived_records(self, esc_ids: list[str]) -> list[dict[str, Any] | None]:
        if not esc_ids:
            return []
        return [json.loads(raw) if raw else None for raw in self.r.mget([self.k.record(i) for i in esc_ids])]
