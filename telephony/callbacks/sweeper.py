"""The callbacks' sweeper (R-CB-8): while any callback is open, every SWEEP_SECONDS it finds an
attempt a dead worker took with it (due long ago and never claimed, or claimed with no lead leg)
and makes it once: the call Twilio placed after all is adopted, or the attempt is dialled again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.adapters.timers import job_id
from telephony.callbacks.booked import callback_event
from telephony.callbacks.dialler import CallbackDialler
from telephony.commands import DialCallback, SweepCallbacks
from telephony.context import Context
from telephony.errors import TelephonyFailure
from telephony.lifecycle import DIALLABLE_CALLBACK_STATUSES, OPEN_CALLBACK_STATUSES, CallbackStatus

log = logging.getLogger(__name__)

SWEEP_SECONDS = 300


class CallbackSweeper:
    def __init__(self, ctx: Context, dialler: CallbackDialler):
        self.ctx = ctx
        self.dialler = dialler

    def ensure(self) -> None:
        """The sweeper runs while any callback is open; one job, whatever calls this. The
        scheduler calls it too (workers/scheduler.py): a sweep whose worker was killed with it
        is replaced once it is a sweep late, so the sweeping never stops (found by tests/chaos)."""
        now = self.ctx.clock.now()
        due = now + timedelta(seconds=SWEEP_SECONDS)
        if not self.ctx.store.claim_sweeper(due.timestamp(), now.timestamp() - SWEEP_SECONDS):
            return
        self.ctx.timers.at(due, SweepCallbacks(), key="sweep-callbacks")

    def sweep(self, grace_seconds: int = SWEEP_SECONDS) -> list[str]:
        """R-CB-8: a worker that died after claiming an attempt leaves the callback `dialing`
        with no lead leg. If it got as far as ringing someone, Twilio's call list says whether
        that call was placed: if so it becomes the attempt's leg; if not, the person is freed and
        the attempt dialled again. Either way it is dialled once."""
        recovered = []
        now = self.ctx.clock.now()
        for cb_id in self.ctx.store.callback_ids():
            cb = self.ctx.store.callback(cb_id) or {}
            if cb.get("status") in DIALLABLE_CALLBACK_STATUSES:
                if self._dial_lost(cb, now, grace_seconds):
                    recovered.append(cb_id)
                continue
            if cb.get("status") != CallbackStatus.DIALING or cb.get("lead_call_sid"):
                continue
            claimed = datetime.fromisoformat(cb.get("claimed_at") or now.isoformat())
            if (now - claimed).total_seconds() < grace_seconds:
                continue
            try:
                placed = self._placed_call(cb)
            except TelephonyFailure as exc:
                log.warning("callback %s: cannot ask Twilio about its lost dial yet: %s", cb_id, exc.message)
                continue
            recovered.append(cb_id)
            if placed is not None:
                sid, status = placed
                self.dialler.adopt(cb_id, sid, cb.get("attempts", ""))
                if status in TERMINAL_CALL_STATUSES:
                    self.dialler.lead_status(cb_id, sid, status)
                continue
            if cb.get("ringing"):
                self.ctx.store.release_person(cb["ringing"], cb_id)
            attempt = int(cb.get("attempts") or 1)
            self.ctx.store.update_callback(cb_id, status=CallbackStatus.SCHEDULED, attempts=attempt - 1, ringing="")
            self.ctx.timers.soon(DialCallback(cb_id, attempt), key=job_id("dial", cb_id, attempt, "recovered"))
            callback_event(
                self.ctx, cb, "callback_recovered", f"attempt {attempt} was claimed by a worker that stopped"
            )
        self.ctx.store.release_sweeper()
        if any(
            (self.ctx.store.callback(i) or {}).get("status") in OPEN_CALLBACK_STATUSES
            for i in self.ctx.store.callback_ids()
        ):
            self.ensure()
        return recovered

    def _dial_lost(self, cb: dict[str, str], now: datetime, grace_seconds: int) -> bool:
        """R-CB-8: a worker killed after taking a dial job but before claiming its attempt takes
        the job with it (RQ retries an abandoned job only after minutes, at its next maintenance),
        and the callback stays `scheduled` with its time long past. Queue the attempt again:
        the claim is atomic, so if the first job does run after all it finds the attempt taken."""
        due = max(datetime.fromisoformat(cb[k]) for k in ("window_start", "next_attempt_at") if cb.get(k))
        if (now - due).total_seconds() < grace_seconds:
            return False
        attempt = int(cb.get("attempts") or 0) + 1
        self.ctx.timers.soon(
            DialCallback(cb["id"], attempt),
            key=job_id("dial", cb["id"], attempt, "swept", int(now.timestamp())),
        )
        callback_event(
            self.ctx, cb, "callback_recovered", f"attempt {attempt} was due at {due.isoformat()} and had not started"
        )
        return True

    def _placed_call(self, cb: dict[str, str]) -> tuple[str, str] | None:
        """The call this attempt placed to its lead, if Twilio has one: (SID, status). A call
        the service already knows (another escalation's, an earlier attempt's) is not it."""
        person = self.ctx.policy.person(cb.get("ringing", ""))
        if person is None:
            return None
        since = datetime.fromisoformat(cb.get("ringing_since") or cb["claimed_at"]) - timedelta(minutes=1)
        placed = [
            (sid, status)
            for sid, status in self.ctx.twilio.calls_placed(person.endpoint, since)
            if self.ctx.store.leg(sid) is None
        ]
        return placed[0] if placed else None
