"""Callbacks (R-CB-8: stored before the caller hears the confirmation): the booking, one dial per
attempt claimed whichever worker gets there first, the capture in progress, and the lease of the
one sweeper that finds callbacks whose job was lost."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.store import keys
from telephony.adapters.store.base import EVENTS_KEPT, as_text, text, texts
from telephony.adapters.store.changes import ChangeStream
from telephony.lifecycle import DIALLABLE_CALLBACK_STATUSES, CallbackStatus

# CLAIM_CALLBACK's last arguments: the status a claimed attempt is in, then those it is claimed from.
CLAIM_STATUSES = tuple(status.value for status in (CallbackStatus.DIALING, *DIALLABLE_CALLBACK_STATUSES))


class CallbackStore(ChangeStream):
    def save_callback(self, cb_id: str, fields: dict[str, Any], at: float) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.k.callback(cb_id), mapping={k: as_text(v) for k, v in fields.items()})
            pipe.zadd(self.k.CALLBACKS, {cb_id: at})
            pipe.execute()
        self.replicated(f"callback {cb_id}")
        self.changed("callback", cb_id)

    def callback(self, cb_id: str) -> dict[str, str] | None:
        if not keys.safe_id(cb_id):
            return None
        return self._hash(self.k.callback(cb_id))

    def update_callback(self, cb_id: str, **fields: Any) -> None:
        self._update(self.k.callback(cb_id), "callback", cb_id, fields)

    def claim_callback(self, cb_id: str, attempt: int, at: str) -> bool:
        """One dial per attempt, whichever worker (or retried job) gets here first."""
        claimed = bool(
            self._claim_callback(
                keys=[self.k.callback(cb_id)], args=[attempt, at, "", 0, cb_id, "", "", "", *CLAIM_STATUSES]
            )
            == 1
        )
        if claimed:
            self.changed("callback", cb_id)
        return claimed

    def claim_callback_to_dial(
        self, cb_id: str, attempt: int, at: str, event: dict[str, str] | None = None
    ) -> dict[str, str] | None:
        """claim_callback for the dialler, in one round trip where six were (issue 19): the
        claim, one more attempt in this window, `event` on its escalation's timeline, the
        consoles told, and the callback as it now is returned (None: another worker or a
        retried job has it)."""
        head, tail = self.k.timeline_around()
        got = self._claim_callback(
            keys=[self.k.callback(cb_id), self.k.EVENTS],
            args=[
                attempt,
                at,
                "dial",
                EVENTS_KEPT,
                cb_id,
                head,
                tail,
                json.dumps(event) if event else "",
                *CLAIM_STATUSES,
            ],
        )
        if not isinstance(got, list):
            return None
        # A claimed callback is dialling, its escalation waiting for it: neither finished, so
        # the records archive has nothing to hear of (scripts.TELL).
        return {text(got[i]): text(got[i + 1]) for i in range(0, len(got), 2)}

    def claim_callback_lead(
        self, cb_id: str, person_id: str, default_presence: str, tried: list[str], at: str
    ) -> tuple[bool, str]:
        """Claim a person to ring for this callback (never two escalations at once) and, before
        Twilio is asked, note on the callback whom it is ringing since `at` (R-CB-8: a dial
        whose worker died is found by that person's calls) and who has been tried (`tried`, them
        included), in one round trip. (True, "busy") when claimed; (False, their presence) when
        not, and `tried` is left as it was: a busy lead has not been tried."""
        got = self._claim_callback_lead(
            keys=[self.k.presence(person_id), self.k.holder(person_id), self.k.callback(cb_id), self.k.EVENTS],
            args=[cb_id, default_presence, json.dumps(tried), at, EVENTS_KEPT, person_id],
        )
        return int(got[0]) == 1, text(got[1])

    def callback_ids(self) -> list[str]:
        return texts(self.r.zrange(self.k.CALLBACKS, 0, -1))

    def capture(self, esc_id: str) -> dict[str, str]:
        if not keys.safe_id(esc_id):
            return {}
        return self._hash(self.k.capture(esc_id)) or {}

    def update_capture(self, esc_id: str, **fields: Any) -> None:
        self.r.hset(self.k.capture(esc_id), mapping={k: as_text(v) for k, v in fields.items()})
        self.r.expire(self.k.capture(esc_id), 86400)

    def claim_sweeper(self, due: float, stale_before: float) -> bool:
        """One sweeper job at a time, whoever schedules it: taken when there is none, or when the
        one there was due before `stale_before` (its worker died with it, R-CB-8)."""
        return bool(self._claim_sweeper(keys=[self.k.SWEEPER], args=[due, stale_before]) == 1)

    def release_sweeper(self) -> None:
        self.r.delete(self.k.SWEEPER)
