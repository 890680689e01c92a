"""Making the callback (R-CB-4, R-CB-5, R-CB-8): each attempt claimed once, a lead rung and
briefed first, then the caller; retried inside the window, then moved to the next business day."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.adapters.timers import job_id
from telephony.callbacks.booked import callback_event
from telephony.commands import DialCallback
from telephony.context import Context, ring_claimed
from telephony.errors import TelephonyFailure
from telephony.lifecycle import CallbackStatus, Trigger
from telephony.metrics import CALLBACKS_DIALLED
from telephony.notify.notifier import Notifier
from telephony.numbers import caller_time_zone, spoken_digits
from telephony.policy import business_hours as bh
from telephony.policy.models import Person
from telephony.records import retention

log = logging.getLogger(__name__)

MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


class CallbackDialler:
    def __init__(self, ctx: Context, notifier: Notifier):
        self.ctx = ctx
        self.notify = notifier

    # -- dialling (R-CB-4, R-CB-5) ---------------------------------------------------------
    def dial(self, cb_id: str, attempt: int) -> str:
        """Claim this attempt atomically, then ring a lead; the caller is rung only once the
        lead has heard the announcement and accepted (agent-first)."""
        cb = self.ctx.store.claim_callback_to_dial(
            cb_id, attempt, self.ctx.now_iso(), self.ctx.event("callback_attempt", f"attempt {attempt}")
        )
        if cb is None:
            return "skipped"
        return CallbackStatus.DIALING.value if self._ring_next_lead(cb_id, cb) else "failed"

    def _ring_next_lead(self, cb_id: str, claimed: dict[str, str] | None = None) -> bool:
        """Ring the next lead not yet tried; `claimed`: the callback as the claim just left it
        (no second read). Each lead is claimed and noted on the callback as the one being rung
        in one round trip, before Twilio is asked (R-CB-8); the leg saved with its timeline
        entry in another (issue 19)."""
        cb = claimed or self.ctx.store.callback(cb_id) or {}
        tried = set(json.loads(cb.get("tried") or "[]")) | set(json.loads(cb.get("not_again") or "[]"))
        client = json.loads(cb.get("client") or "{}")
        for tier in self.ctx.policy.kinds[cb["kind"]].tiers:
            for person in self.ctx.policy.tier_people(cb["kind"], tier, client.get("segment"), client.get("region")):
                if person.id in tried:
                    continue
                rung = self._ring(cb_id, cb, person, tier, tried)
                if rung is not None:
                    return rung
        self.attempt_failed(cb_id, "no lead answered or was available")
        return False

    def _ring(self, cb_id: str, cb: dict[str, str], person: Person, tier: str, tried: set[str]) -> bool | None:
        """Ring one lead for the callback: True (rung), False (Twilio is down: the attempt has
        failed) or None (not rung: the next one). `tried` (who this attempt has rung) gains the
        lead once claimed; a lead who was busy is not tried, and is rung if free when the lead
        before declines or does not answer."""
        attempt = int(cb.get("attempts") or 0)
        claimed, presence = self.ctx.store.claim_callback_lead(
            cb_id, person.id, person.presence, sorted(tried | {person.id}), self.ctx.now_iso()
        )
        if not claimed:
            log.info("callback %s: %s not rung (%s)", cb_id, person.id, presence)
            return None
        tried.add(person.id)
        asked_at = self.ctx.clock.now()
        try:
            sid, why = ring_claimed(
                self.ctx,
                person,
                cb_id,
                url=self.ctx.urls.callback_lead_answer(cb_id, attempt),
                status_callback=self.ctx.urls.callback_lead_status(cb_id, attempt),
                keep_if_unsure=True,
            )
        except TelephonyFailure as exc:
            if self._lead_call_placed_after_all(cb_id, cb, person, asked_at, exc):
                CALLBACKS_DIALLED.inc()
                return True
            self.ctx.store.release_person(person.id, cb_id)
            self.ctx.store.update_callback(cb_id, ringing="")
            self.attempt_failed(cb_id, f"Twilio unavailable: {exc.message}")
            return False
        if sid is None:
            self.ctx.store.update_callback(cb_id, ringing="")
            log.info("callback %s: %s not rung (%s)", cb_id, person.id, why)
            return None
        self._lead_leg(cb_id, person.id, sid, (cb, "callback_dialing_lead", person.name), lead_tier=tier)
        CALLBACKS_DIALLED.inc()
        return True

    def _lead_call_placed_after_all(
        self, cb_id: str, cb: dict[str, str], person: Person, asked_at: datetime, exc: TelephonyFailure
    ) -> bool:
        """Issue 34, probe 5: a request to place a call that timed out (or failed on Twilio's
        side) may have placed it all the same, and the lead's phone rings. So before the attempt
        is called failed, Twilio is asked: a call placed to this lead since we asked, that no leg
        of ours is, becomes the attempt's lead leg. The lead's answer may even have come first
        (`adopt`): then it is already linked. False when Twilio has no such call, or cannot say."""
        now = self.ctx.store.callback(cb_id) or {}
        if now.get("lead_call_sid"):
            log.info("callback %s: %s answered a call whose request failed (%s)", cb_id, person.id, exc.message)
            return True
        try:
            sid = self._placed_to(person.endpoint, asked_at)
        except TelephonyFailure as lookup:
            log.warning("callback %s: cannot ask Twilio whether %s was rung: %s", cb_id, person.id, lookup.message)
            return False
        if sid is None:
            return False
        self._lead_leg(
            cb_id,
            person.id,
            sid,
            (cb, "callback_lead_found", f"{person.name}: placed, though Twilio's answer was lost ({exc.message})"),
        )
        return True

    def _placed_to(self, to: str, since: datetime) -> str | None:
        """The newest call placed from our number to `to` since `since` that no leg of ours is."""
        placed = [
            sid
            for sid, _status in self.ctx.twilio.calls_placed(to, since - timedelta(minutes=1))
            if self.ctx.store.leg(sid) is None
        ]
        return placed[0] if placed else None

    def _lead_leg(
        self, cb_id: str, person_id: str, call_sid: str, told: tuple[dict[str, str], str, str], **also: str
    ) -> None:
        """The lead's leg saved and the callback pointed at it, with `told` (the callback, the
        event's name and detail) on its escalation's timeline, in one round trip."""
        cb, name, detail = told
        esc_id = cb.get("escalation_id", "")
        self.ctx.store.link_leg(
            call_sid,
            {"role": "callback_lead", "person": person_id, "callback": cb_id},
            "callback",
            cb_id,
            (esc_id, self.ctx.event(name, detail)) if esc_id else None,
            lead_call_sid=call_sid,
            lead=person_id,
            ringing="",
            **also,
        )

    def adopt(self, cb_id: str, call_sid: str, attempt: str) -> bool:
        """R-CB-8: Twilio placed this lead's call but its SID was never saved (the worker died
        waiting for the answer). Its webhooks name the attempt, so it becomes that attempt's lead
        leg instead of being dialled again."""
        cb = self.ctx.store.callback(cb_id)
        if (
            cb is None
            or cb.get("status") != CallbackStatus.DIALING
            or cb.get("lead_call_sid")
            or not cb.get("ringing")
            or not attempt
            or attempt != cb.get("attempts")
            or self.ctx.store.leg(call_sid) is not None
        ):
            return False
        self._lead_leg(
            cb_id,
            cb["ringing"],
            call_sid,
            (cb, "callback_lead_found", f"{self.ctx.name(cb['ringing'])}: placed, but its answer was lost"),
        )
        return True

    def lead_answered(self, cb_id: str, call_sid: str, attempt: str = "") -> tuple[str, ...] | None:
        """R-WARM-2 for a callback: the lead hears what it is about before the caller is rung."""
        self.adopt(cb_id, call_sid, attempt)
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("status") != CallbackStatus.DIALING or cb.get("lead_call_sid") != call_sid:
            return None
        self.ctx.store.update_leg(call_sid, answered="true")
        client = json.loads(cb.get("client") or "{}")
        # The callback's own words, not the warm transfer's ("I have an escalation in transfer"):
        # nobody is being transferred; the lead is about to call the caller.
        lines = [self.ctx.policy.callbacks.lead_intro]
        if client.get("name"):
            lines.append(f"The caller is {client['name']}.")
        if client.get("account"):
            lines.append(f"Account {spoken_digits(client['account'])}.")
        lines.append(f"The issue: {cb.get('reason', '')}.")
        lines.append("Press 1 to call them now, or 2 to decline.")
        return tuple(lines)

    def lead_decided(self, cb_id: str, call_sid: str, digits: str) -> str:
        """'accepted' (the caller is being rung), 'declined', 'ask_again' or 'gone'. A lead who
        stays silent after hearing the prompt twice has declined: the next lead is rung."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("status") != CallbackStatus.DIALING or cb.get("lead_call_sid") != call_sid:
            return "gone"
        leg = self.ctx.store.leg(call_sid) or {}
        if digits not in ("1", "2"):
            asked = int(leg.get("asked") or 0) + 1
            self.ctx.store.update_leg(call_sid, asked=asked)
            if asked <= 1 or digits:
                return "ask_again"
            digits = "2"
        if digits == "2":
            if self.ctx.store.settle_leg(call_sid, "declined"):
                self.ctx.store.release_person(leg.get("person", ""), cb_id)
                callback_event(self.ctx, cb, "callback_lead_declined", leg.get("person", ""))
                self._ring_next_lead(cb_id)
            return "declined"
        if not self.ctx.store.settle_leg(call_sid, "accepted"):
            return "gone"
        asked_at = self.ctx.clock.now()
        try:
            sid = self.ctx.twilio.call(
                cb["number"],
                url=self.ctx.urls.callback_caller_answer(cb_id),
                status_callback=self.ctx.urls.callback_caller_status(cb_id),
                timeout=self.ctx.policy.callbacks.caller_ring_timeout_seconds,
                machine_detection="DetectMessageEnd",
            )
        except TelephonyFailure as exc:
            found = self._caller_call_placed_after_all(cb_id, cb["number"], asked_at, exc)
            if found is None:
                self.attempt_failed(cb_id, f"could not ring the caller: {exc.message}")
                return "gone"
            sid = found
        esc_id = cb.get("escalation_id", "")
        self.ctx.store.link_leg(
            sid,
            {"role": "callback_caller", "callback": cb_id},
            "callback",
            cb_id,
            (esc_id, self.ctx.event("callback_dialing_caller", cb["number"])) if esc_id else None,
            caller_call_sid=sid,
        )
        return "accepted"

    def _caller_call_placed_after_all(
        self, cb_id: str, number: str, asked_at: datetime, exc: TelephonyFailure
    ) -> str | None:
        """As for the lead (issue 34): the caller's call may have been placed though the request
        failed; Twilio is asked before the lead is told the caller cannot be reached."""
        if not exc.transient:
            return None
        try:
            sid = self._placed_to(number, asked_at)
        except TelephonyFailure as lookup:
            log.warning("callback %s: cannot ask Twilio whether the caller was rung: %s", cb_id, lookup.message)
            return None
        if sid is not None:
            log.info("callback %s: the caller's call was placed, though Twilio's answer was lost", cb_id)
        return sid

    def caller_answered(self, cb_id: str, call_sid: str, answered_by: str) -> str:
        """'human' (joins the lead), 'machine' (hears the message; retried later) or 'gone'."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("caller_call_sid") != call_sid or cb.get("status") != CallbackStatus.DIALING:
            return "gone"
        self.ctx.store.update_leg(call_sid, answered="true")
        if answered_by in MACHINE:
            self.ctx.store.settle_leg(call_sid, "machine")
            callback_event(self.ctx, cb, "callback_machine", "message left; will retry")
            self._hang_up_lead(cb)
            self.attempt_failed(cb_id, "answering machine")
            return "machine"
        self.ctx.store.settle_leg(call_sid, "answered")
        self.ctx.store.update_callback(cb_id, status=CallbackStatus.COMPLETED, completed_at=self.ctx.now_iso())
        self.ctx.store.transition(
            cb["escalation_id"],
            Trigger.CALLBACK_CONNECTED,
            self.ctx.event("callback_connected", f"caller reached at {cb['number']}"),
            assignee=cb.get("lead", ""),
            tier=cb.get("lead_tier") or None,
        )
        return "human"

    def caller_status(self, cb_id: str, call_sid: str, status: str) -> None:
        leg = self.ctx.store.leg(call_sid)
        if leg is None or leg.get("callback") != cb_id or not self.ctx.store.advance_call_status_leg(call_sid, status):
            return
        if status not in TERMINAL_CALL_STATUSES:
            return
        cb = self.ctx.store.callback(cb_id) or {}
        if self.ctx.store.settle_leg(call_sid, status):
            self._hang_up_lead(cb)
            self.attempt_failed(cb_id, f"caller {status}")
        elif leg.get("outcome") == "answered" or (self.ctx.store.leg(call_sid) or {}).get("outcome") == "answered":
            self.ctx.store.transition(cb["escalation_id"], Trigger.CALLBACK_ENDED, self.ctx.event("callback_ended"))
            self.ctx.store.release_person(cb.get("lead", ""), cb_id)

    def lead_status(self, cb_id: str, call_sid: str, status: str, attempt: str = "") -> None:
        self.adopt(cb_id, call_sid, attempt)
        leg = self.ctx.store.leg(call_sid)
        if leg is None or leg.get("callback") != cb_id or not self.ctx.store.advance_call_status_leg(call_sid, status):
            return
        if status not in TERMINAL_CALL_STATUSES:
            return
        if self.ctx.store.settle_leg(call_sid, status):
            self.ctx.store.release_person(leg["person"], cb_id)
            cb = self.ctx.store.callback(cb_id) or {}
            if cb.get("status") == CallbackStatus.DIALING and cb.get("lead_call_sid") == call_sid:
                callback_event(self.ctx, cb, "callback_lead_no_answer", f"{leg['person']}: {status}")
                self._ring_next_lead(cb_id)
            return
        self.ctx.store.release_person(leg["person"], cb_id)

    def _hang_up_lead(self, cb: dict[str, str]) -> None:
        lead_sid = cb.get("lead_call_sid")
        if lead_sid:
            try:
                self.ctx.twilio.hang_up(lead_sid)
            except TelephonyFailure as exc:
                log.warning("could not hang up lead %s: %s", lead_sid, exc.message)
            self.ctx.store.release_person(cb.get("lead", ""), cb["id"])

    def attempt_failed(self, cb_id: str, why: str) -> str:
        """R-CB-5: retry inside the window; when it is used up, the next window at the same time
        of day on the next business day, and the team is told."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("status") != CallbackStatus.DIALING:
            return "ignored"
        policy = self.ctx.policy.callbacks
        now = self.ctx.clock.now()
        attempts = int(cb.get("attempts") or 0)
        next_at = now + timedelta(seconds=policy.retry_spacing_seconds)
        window_end = datetime.fromisoformat(cb["window_end"])
        if int(cb.get("window_attempts") or 0) < policy.attempts_per_window and next_at < window_end:
            self.ctx.store.update_callback(
                cb_id, status=CallbackStatus.SCHEDULED, next_attempt_at=next_at.isoformat(timespec="seconds")
            )
            self.ctx.timers.at(next_at, DialCallback(cb_id, attempts + 1), key=job_id("dial", cb_id, attempts + 1))
            callback_event(
                self.ctx, cb, "callback_retry", f"{why}; next try at {next_at.isoformat(timespec='seconds')}"
            )
            return "retry"
        reschedules = int(cb.get("reschedules") or 0)
        if reschedules >= policy.max_reschedules:
            self.ctx.store.update_callback(cb_id, status=CallbackStatus.NO_ANSWER)
            callback_event(self.ctx, cb, "callback_gave_up", why)
            retention.callback_over(self.ctx, cb["escalation_id"])
            self.notify.team(
                cb["escalation_id"],
                f"Callback to {cb['number']} failed after {attempts} attempts ({why}); please follow up by hand.",
            )
            return CallbackStatus.NO_ANSWER
        start, end = self._next_window(cb, now)
        self.ctx.store.update_callback(
            cb_id,
            status=CallbackStatus.RESCHEDULED,
            window_start=start.isoformat(timespec="seconds"),
            window_end=end.isoformat(timespec="seconds"),
            window_attempts=0,
            reschedules=reschedules + 1,
            next_attempt_at=start.isoformat(timespec="seconds"),
        )
        self.ctx.timers.at(start, DialCallback(cb_id, attempts + 1), key=job_id("dial", cb_id, attempts + 1))
        spoken = bh.speak_window(
            bh.Window(start, end), caller_time_zone(cb["number"], self.ctx.policy.business_hours.zone), now
        )
        callback_event(self.ctx, cb, "callback_rescheduled", f"{why}; new window {spoken}")
        self.notify.team(
            cb["escalation_id"],
            f"No answer again on the callback to {cb['number']} ({why}); rescheduled {spoken} (R-CB-5).",
            callback_time=spoken,
        )
        return CallbackStatus.RESCHEDULED

    def _next_window(self, cb: dict[str, str], now: datetime) -> tuple[datetime, datetime]:
        start = datetime.fromisoformat(cb["window_start"])
        length = datetime.fromisoformat(cb["window_end"]) - start
        hours = self.ctx.policy.business_hours
        candidate = start + timedelta(days=1)
        while candidate < now:
            candidate += timedelta(days=1)
        start = hours.next_opening(candidate)
        end = min(start + length, hours.close_of_business(start))
        return start, end
