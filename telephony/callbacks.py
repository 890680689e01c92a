"""Callbacks (R-CB-1..8): captured from the caller, stored before they hear the confirmation,
dialled lead first inside the window, retried, rescheduled, flagged overdue, never lost or
dialled twice."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from telephony import business_hours as bh
from telephony.config import ApiToken
from telephony.context import Context, new_id, ring_person
from telephony.errors import Conflict, Forbidden, InvalidRequest, NotFound, TelephonyFailure
from telephony.hold import CALLBACK_WORDS, HOLDING_STATES, Hold
from telephony.notify import Notifier
from telephony.numbers import callable_e164, caller_time_zone, spoken_digits
from telephony.store import TERMINAL_CALL_STATUSES
from telephony.timers import job_id

log = logging.getLogger(__name__)

OPEN_STATUSES = ("scheduled", "rescheduled", "overdue", "dialing")
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
LEAD_ROLES = ("lead", "supervisor", "manager")
SWEEP_SECONDS = 300
ASAP_DELAY_SECONDS = 60  # the caller has heard the confirmation and hung up before we ring back


@dataclass(frozen=True)
class WindowChoice:
    digit: str
    spoken: str
    start: str
    end: str
    asap: bool


class Callbacks:
    def __init__(self, ctx: Context, hold: Hold, notifier: Notifier, warm_transfer):
        self.ctx = ctx
        self.hold = hold
        self.notify = notifier
        self.warm_transfer = warm_transfer

    # -- the offer (R-CB-1, R-ESC-7) --------------------------------------------------
    def offer_choice(self, esc_id: str, digits: str, speech: str, leads_busy: bool = False) -> str:
        """'callback', 'hold' (leads busy: keep holding for the next, R-HOURS-2), 'refused',
        'unclear' or 'gone'. Refusing tells the agent's direct leader (R-CB-6) and the caller
        goes back to their agent."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc["state"] not in HOLDING_STATES:
            return "gone"
        words = speech.lower()
        if digits == "1" or (not digits and any(w in words for w in CALLBACK_WORDS)):
            detail = "leads busy: by end of business day" if leads_busy else "nobody was available"
            if leads_busy:
                self.ctx.store.update_capture(esc_id, deadline_rule="end_of_business_day")
                self.ctx.store.stop_waiting_for_lead(esc_id)
            self.ctx.store.add_event(esc_id, self.ctx.event("callback_chosen", detail))
            return "callback"
        if digits == "2" or (not digits and any(w in words for w in ("hold", "wait", "no"))):
            if leads_busy:
                self.ctx.store.update_escalation(esc_id, caller_placement="outside")
                self.ctx.store.add_event(esc_id, self.ctx.event("keep_holding", "for the next free lead"))
                return "hold"
            self.refused(esc_id)
            return "refused"
        return "unclear"

    def refused(self, esc_id: str) -> None:
        esc = self.ctx.store.escalation(esc_id) or {}
        agent = self.ctx.policy.person(esc.get("agent_id", ""))
        leader = agent.leader if agent and agent.leader else ""
        if not self.ctx.store.transition(
            esc_id,
            HOLDING_STATES,
            "failed",
            self.ctx.event("callback_refused", f"direct leader {leader or 'unknown'} told"),
        ):
            return
        self.ctx.store.close_escalation(esc["call_sid"], esc_id)
        self.hold.stop(esc_id)
        client = json.loads(esc.get("client") or "{}")
        text = f"{client.get('name') or 'A caller'} refused a callback after escalating ({esc.get('reason', '')}); nobody was available. Please reach out (R-CB-6)."
        if leader:
            self.notify.person(leader, esc_id, text)
        else:
            self.notify.team(esc_id, text)

    def voicemail_left(self, esc_id: str, recording_url: str) -> None:
        """After the last hold limit (policy: voicemail) the message goes to the team, and a
        callback as soon as someone is available is booked to the caller's own number."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or not self.ctx.store.first_time(f"voicemail:{esc_id}"):
            return
        self.ctx.store.update_escalation(esc_id, voicemail=recording_url)
        self.ctx.store.add_event(esc_id, self.ctx.event("voicemail_left", recording_url))
        number = self.caller_id(esc_id)
        if number and esc["state"] in HOLDING_STATES:
            choice = self.window_choices(esc_id)[0]
            self.book(
                esc_id,
                number,
                datetime.fromisoformat(choice.start),
                datetime.fromisoformat(choice.end),
                choice.spoken,
                asap=True,
            )
        else:
            self.notify.team(esc_id, f"Voicemail left, no callable caller ID: {recording_url}")

    # -- the number (R-CB-2) -------------------------------------------------------------
    def caller_id(self, esc_id: str) -> str | None:
        """The caller's own number, if it is one we may call back."""
        esc = self.ctx.store.escalation(esc_id) or {}
        call = self.ctx.store.call(esc.get("call_sid", "")) or {}
        try:
            return callable_e164(call.get("from", ""), self.ctx.policy.number_region)
        except ValueError:
            return None

    def number_entered(self, esc_id: str, digits: str) -> str | None:
        """A typed number, parsed to E.164; None (re-prompt, nothing stored) when it is not one
        we may call."""
        try:
            number = callable_e164(digits, self.ctx.policy.number_region)
        except ValueError:
            return None
        self.ctx.store.update_capture(esc_id, number=number)
        return number

    def use_caller_id(self, esc_id: str) -> str | None:
        number = self.caller_id(esc_id)
        if number:
            self.ctx.store.update_capture(esc_id, number=number)
        return number

    def pending_number(self, esc_id: str) -> str:
        return self.ctx.store.capture(esc_id).get("number", "")

    # -- the window (R-CB-2, R-CB-3) ------------------------------------------------------
    def window_choices(self, esc_id: str) -> list[WindowChoice]:
        """'As soon as someone is available', then the next 2-hour windows inside business
        hours, spoken in the organisation's time zone; kept so the key maps to what was said."""
        kept = self.ctx.store.capture(esc_id).get("windows")
        if kept:
            return [WindowChoice(**w) for w in json.loads(kept)]
        hours = self.ctx.policy.business_hours
        cb = self.ctx.policy.callbacks
        now = self.ctx.clock.now()
        asap = bh.asap_window(hours, now, length_minutes=cb.window_length_minutes)
        choices = [
            WindowChoice("1", "as soon as someone is available", asap.start.isoformat(), asap.end.isoformat(), True)
        ]
        slots = bh.callback_slots(
            hours,
            now,
            length_minutes=cb.window_length_minutes,
            count=cb.slots_offered,
            earliest_minutes=cb.earliest_minutes,
        )
        zone = caller_time_zone(self.pending_number(esc_id), hours.zone)
        for i, slot in enumerate(slots, start=2):
            choices.append(
                WindowChoice(
                    str(i), bh.speak_window(slot, zone, now), slot.start.isoformat(), slot.end.isoformat(), False
                )
            )
        self.ctx.store.update_capture(esc_id, windows=[c.__dict__ for c in choices])
        return choices

    def window_chosen(self, esc_id: str, digits: str) -> dict | None:
        choice = next((c for c in self.window_choices(esc_id) if c.digit == digits), None)
        number = self.pending_number(esc_id)
        if choice is None or not number:
            return None
        return self.book(
            esc_id,
            number,
            datetime.fromisoformat(choice.start),
            datetime.fromisoformat(choice.end),
            choice.spoken,
            asap=choice.asap,
        )

    def book(self, esc_id: str, number: str, start: datetime, end: datetime, spoken: str, asap: bool) -> dict:
        """Store the callback, then schedule its dial and its deadline, then tell the team; the
        caller hears the confirmation only after this returns (R-CB-8)."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            raise NotFound(f"No escalation {esc_id}.")
        existing = esc.get("callback_id")
        if existing:
            return self.view(existing)
        now = self.ctx.clock.now()
        cb = self.ctx.policy.callbacks
        rule = self.ctx.store.capture(esc_id).get("deadline_rule") or cb.deadline
        due = bh.deadline(self.ctx.policy.business_hours, now, rule)
        cb_id = new_id("cb")
        fields = {
            "id": cb_id,
            "escalation_id": esc_id,
            "number": number,
            "window_start": start.isoformat(timespec="seconds"),
            "window_end": end.isoformat(timespec="seconds"),
            "requested": spoken,
            "asap": asap,
            "status": "scheduled",
            "attempts": 0,
            "window_attempts": 0,
            "reschedules": 0,
            "deadline": due.isoformat(timespec="seconds"),
            "created_at": now.isoformat(timespec="seconds"),
            "kind": esc["kind"],
            "client": esc.get("client", "{}"),
            "reason": esc.get("reason", ""),
        }
        self.ctx.store.save_callback(cb_id, fields, start.timestamp())
        moved = self.ctx.store.transition(
            esc_id,
            HOLDING_STATES,
            "callback_scheduled",
            self.ctx.event("callback_scheduled", f"{number}, {spoken}"),
            callback_id=cb_id,
            callback=self._summary(fields),
        )
        if not moved:
            self.ctx.store.update_callback(cb_id, status="cancelled")
            raise Conflict(f"The escalation is {esc['state']}; no callback was booked.", code="not_holding")
        self.hold.stop(esc_id)
        self._stop_ringing(esc)
        first_dial = max(start, now + timedelta(seconds=ASAP_DELAY_SECONDS))
        self.ctx.timers.at(first_dial, "workers.jobs.dial_callback", cb_id, 1, key=job_id("dial", cb_id, 1))
        self.ctx.timers.at(due, "workers.jobs.callback_deadline", cb_id, key=job_id("deadline", cb_id))
        self.ensure_sweeper()
        self.notify.team(
            esc_id,
            "Escalation: callback booked",
            callback_time=f"{spoken} ({fields['window_start']} to {fields['window_end']})",
        )
        return self.view(cb_id)

    def _stop_ringing(self, esc: dict[str, str]) -> None:
        attempt = esc.get("attempt_call_sid")
        if esc["state"] == "dialing_lead" and attempt and self.ctx.store.settle_leg(attempt, "callback_chosen"):
            leg = self.ctx.store.leg(attempt) or {}
            self.ctx.store.release_person(leg.get("person", ""), esc["id"])
            try:
                self.ctx.twilio.cancel(attempt)
            except TelephonyFailure as exc:
                log.warning("could not stop ringing %s: %s", attempt, exc.message)

    # -- dialling (R-CB-4, R-CB-5) ---------------------------------------------------------
    def dial(self, cb_id: str, attempt: int) -> str:
        """Claim this attempt atomically, then ring a lead; the caller is rung only once the
        lead has heard the announcement and accepted (agent-first)."""
        if not self.ctx.store.claim_callback(cb_id, attempt, self.ctx.now_iso()):
            return "skipped"
        cb = self.ctx.store.callback(cb_id) or {}
        self.ctx.store.update_callback(cb_id, window_attempts=int(cb.get("window_attempts") or 0) + 1)
        self._event(cb, "callback_attempt", f"attempt {attempt}")
        return "dialing" if self._ring_next_lead(cb_id) else "failed"

    def _ring_next_lead(self, cb_id: str) -> bool:
        cb = self.ctx.store.callback(cb_id) or {}
        tried = set(json.loads(cb.get("tried") or "[]"))
        client = json.loads(cb.get("client") or "{}")
        for tier in self.ctx.policy.kinds[cb["kind"]].tiers:
            for person in self.ctx.policy.tier_people(cb["kind"], tier, client.get("segment"), client.get("region")):
                if person.id in tried:
                    continue
                tried.add(person.id)
                self.ctx.store.update_callback(cb_id, tried=sorted(tried))
                sid, why = ring_person(
                    self.ctx,
                    person,
                    cb_id,
                    url=self.ctx.urls.callback_lead_answer(cb_id),
                    status_callback=self.ctx.urls.callback_lead_status(cb_id),
                )
                if sid is None:
                    log.info("callback %s: %s not rung (%s)", cb_id, person.id, why)
                    continue
                self.ctx.store.save_leg(sid, {"role": "callback_lead", "person": person.id, "callback": cb_id})
                self.ctx.store.update_callback(cb_id, lead_call_sid=sid, lead=person.id)
                self._event(cb, "callback_dialing_lead", person.name)
                return True
        self.attempt_failed(cb_id, "no lead answered or was available")
        return False

    def lead_answered(self, cb_id: str, call_sid: str) -> tuple[str, ...] | None:
        """R-WARM-2 for a callback: the lead hears what it is about before the caller is rung."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("status") != "dialing" or cb.get("lead_call_sid") != call_sid:
            return None
        self.ctx.store.update_leg(call_sid, answered="true")
        client = json.loads(cb.get("client") or "{}")
        lines = [self.ctx.policy.callbacks.lead_intro, self.ctx.policy.announcement.intro]
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
        if cb is None or cb.get("status") != "dialing" or cb.get("lead_call_sid") != call_sid:
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
                self._event(cb, "callback_lead_declined", leg.get("person", ""))
                self._ring_next_lead(cb_id)
            return "declined"
        if not self.ctx.store.settle_leg(call_sid, "accepted"):
            return "gone"
        try:
            sid = self.ctx.twilio.call(
                cb["number"],
                url=self.ctx.urls.callback_caller_answer(cb_id),
                status_callback=self.ctx.urls.callback_caller_status(cb_id),
                timeout=self.ctx.policy.callbacks.caller_ring_timeout_seconds,
                machine_detection="DetectMessageEnd",
            )
        except TelephonyFailure as exc:
            self.attempt_failed(cb_id, f"could not ring the caller: {exc.message}")
            return "gone"
        self.ctx.store.save_leg(sid, {"role": "callback_caller", "callback": cb_id})
        self.ctx.store.update_callback(cb_id, caller_call_sid=sid)
        self._event(cb, "callback_dialing_caller", cb["number"])
        return "accepted"

    def caller_answered(self, cb_id: str, call_sid: str, answered_by: str) -> str:
        """'human' (joins the lead), 'machine' (hears the message; retried later) or 'gone'."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("caller_call_sid") != call_sid or cb.get("status") != "dialing":
            return "gone"
        self.ctx.store.update_leg(call_sid, answered="true")
        if answered_by in MACHINE:
            self.ctx.store.settle_leg(call_sid, "machine")
            self._event(cb, "callback_machine", "message left; will retry")
            self._hang_up_lead(cb)
            self.attempt_failed(cb_id, "answering machine")
            return "machine"
        self.ctx.store.settle_leg(call_sid, "answered")
        self.ctx.store.update_callback(cb_id, status="completed", completed_at=self.ctx.now_iso())
        self.ctx.store.transition(
            cb["escalation_id"],
            ("callback_scheduled",),
            "connected",
            self.ctx.event("callback_connected", f"caller reached at {cb['number']}"),
            assignee=cb.get("lead", ""),
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
            self.ctx.store.transition(cb["escalation_id"], ("connected",), "resolved", self.ctx.event("callback_ended"))
            self.ctx.store.release_person(cb.get("lead", ""), cb_id)

    def lead_status(self, cb_id: str, call_sid: str, status: str) -> None:
        leg = self.ctx.store.leg(call_sid)
        if leg is None or leg.get("callback") != cb_id or not self.ctx.store.advance_call_status_leg(call_sid, status):
            return
        if status not in TERMINAL_CALL_STATUSES:
            return
        if self.ctx.store.settle_leg(call_sid, status):
            self.ctx.store.release_person(leg["person"], cb_id)
            cb = self.ctx.store.callback(cb_id) or {}
            if cb.get("status") == "dialing" and cb.get("lead_call_sid") == call_sid:
                self._event(cb, "callback_lead_no_answer", f"{leg['person']}: {status}")
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
        if cb is None or cb.get("status") != "dialing":
            return "ignored"
        policy = self.ctx.policy.callbacks
        now = self.ctx.clock.now()
        attempts = int(cb.get("attempts") or 0)
        next_at = now + timedelta(seconds=policy.retry_spacing_seconds)
        window_end = datetime.fromisoformat(cb["window_end"])
        if int(cb.get("window_attempts") or 0) < policy.attempts_per_window and next_at < window_end:
            self.ctx.store.update_callback(
                cb_id, status="scheduled", next_attempt_at=next_at.isoformat(timespec="seconds")
            )
            self.ctx.timers.at(
                next_at, "workers.jobs.dial_callback", cb_id, attempts + 1, key=job_id("dial", cb_id, attempts + 1)
            )
            self._event(cb, "callback_retry", f"{why}; next try at {next_at.isoformat(timespec='seconds')}")
            return "retry"
        reschedules = int(cb.get("reschedules") or 0)
        if reschedules >= policy.max_reschedules:
            self.ctx.store.update_callback(cb_id, status="no_answer")
            self._event(cb, "callback_gave_up", why)
            self.notify.team(
                cb["escalation_id"],
                f"Callback to {cb['number']} failed after {attempts} attempts ({why}); please follow up by hand.",
            )
            return "no_answer"
        start, end = self._next_window(cb, now)
        self.ctx.store.update_callback(
            cb_id,
            status="rescheduled",
            window_start=start.isoformat(timespec="seconds"),
            window_end=end.isoformat(timespec="seconds"),
            window_attempts=0,
            reschedules=reschedules + 1,
        )
        self.ctx.timers.at(
            start, "workers.jobs.dial_callback", cb_id, attempts + 1, key=job_id("dial", cb_id, attempts + 1)
        )
        spoken = bh.speak_window(
            bh.Window(start, end), caller_time_zone(cb["number"], self.ctx.policy.business_hours.zone), now
        )
        self._event(cb, "callback_rescheduled", f"{why}; new window {spoken}")
        self.notify.team(
            cb["escalation_id"],
            f"No answer again on the callback to {cb['number']} ({why}); rescheduled {spoken} (R-CB-5).",
            callback_time=spoken,
        )
        return "rescheduled"

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

    def deadline_passed(self, cb_id: str) -> bool:
        """R-CB-7: not completed by the deadline: overdue, and the managers are told."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("status") not in ("scheduled", "rescheduled", "dialing", "no_answer"):
            return False
        if cb["status"] != "dialing":
            self.ctx.store.update_callback(cb_id, status="overdue")
        self.ctx.store.update_callback(cb_id, overdue="true")
        self._event(cb, "callback_overdue", f"deadline {cb['deadline']} passed")
        self.notify.managers(
            cb["escalation_id"], f"Callback to {cb['number']} is overdue: it was due by {cb['deadline']} (R-CB-7)."
        )
        return True

    def ensure_sweeper(self) -> None:
        """The sweeper runs while any callback is open; one job, whatever calls this."""
        if not self.ctx.store.claim_sweeper(SWEEP_SECONDS * 2):
            return
        self.ctx.timers.at(
            self.ctx.clock.now() + timedelta(seconds=SWEEP_SECONDS),
            "workers.jobs.sweep_callbacks",
            key="sweep-callbacks",
        )

    def sweep(self, grace_seconds: int = SWEEP_SECONDS) -> list[str]:
        """R-CB-8: a worker that died after claiming an attempt but before ringing anyone leaves
        the callback in `dialing` with no leg: give the attempt back and dial it again."""
        recovered = []
        now = self.ctx.clock.now()
        for cb_id in self.ctx.store.callback_ids():
            cb = self.ctx.store.callback(cb_id) or {}
            if cb.get("status") != "dialing" or cb.get("lead_call_sid"):
                continue
            claimed = datetime.fromisoformat(cb.get("claimed_at") or now.isoformat())
            if (now - claimed).total_seconds() < grace_seconds:
                continue
            attempt = int(cb.get("attempts") or 1)
            self.ctx.store.update_callback(cb_id, status="scheduled", attempts=attempt - 1)
            self.ctx.timers.soon(
                "workers.jobs.dial_callback", cb_id, attempt, key=job_id("dial", cb_id, attempt, "recovered")
            )
            self._event(cb, "callback_recovered", f"attempt {attempt} was claimed by a worker that stopped")
            recovered.append(cb_id)
        self.ctx.store.release_sweeper()
        if any(
            (self.ctx.store.callback(i) or {}).get("status") in OPEN_STATUSES for i in self.ctx.store.callback_ids()
        ):
            self.ensure_sweeper()
        return recovered

    # -- the lead's controls and reading ----------------------------------------------------
    def cancel(self, actor: ApiToken, cb_id: str) -> dict:
        self._lead_only(actor)
        cb = self._get(cb_id)
        if cb["status"] not in ("scheduled", "rescheduled", "overdue", "no_answer"):
            raise Conflict(f"A callback that is {cb['status']} cannot be cancelled.", code="not_cancellable")
        self.ctx.store.update_callback(cb_id, status="cancelled")
        self._event(cb, "callback_cancelled", f"by {actor.person_id}")
        return self.view(cb_id)

    def reschedule(self, actor: ApiToken, cb_id: str, body) -> dict:
        self._lead_only(actor)
        cb = self._get(cb_id)
        if cb["status"] not in ("scheduled", "rescheduled", "overdue", "no_answer"):
            raise Conflict(f"A callback that is {cb['status']} cannot be rescheduled.", code="not_reschedulable")
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.", code="invalid_body")
        try:
            start = datetime.fromisoformat(str(body.get("window_start", "")))
            end = datetime.fromisoformat(str(body.get("window_end", "")))
        except ValueError:
            raise InvalidRequest(
                "'window_start' and 'window_end' must be ISO 8601 times with an offset.",
                code="invalid_field",
                field="window_start",
            ) from None
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidRequest(
                "Give the window with a UTC offset, e.g. 2026-11-25T14:00:00-06:00.",
                code="invalid_field",
                field="window_start",
            )
        if end <= start or end <= self.ctx.clock.now():
            raise InvalidRequest(
                "The window must end after it starts, and in the future.", code="invalid_field", field="window_end"
            )
        attempt = int(cb.get("attempts") or 0) + 1
        self.ctx.store.update_callback(
            cb_id, status="rescheduled", window_start=start.isoformat(), window_end=end.isoformat(), window_attempts=0
        )
        self.ctx.timers.at(
            max(start, self.ctx.clock.now()),
            "workers.jobs.dial_callback",
            cb_id,
            attempt,
            key=job_id("dial", cb_id, attempt),
        )
        self._event(cb, "callback_rescheduled", f"by {actor.person_id} to {start.isoformat()}")
        return self.view(cb_id)

    def list(self, status: str | None) -> list[dict]:
        views = [self.view(i) for i in self.ctx.store.callback_ids()]
        return [v for v in views if status is None or v["status"] == status]

    def view(self, cb_id: str) -> dict:
        cb = self._get(cb_id)
        return {
            "id": cb["id"],
            "escalation_id": cb["escalation_id"],
            "number": cb["number"],
            "window_start": cb["window_start"],
            "window_end": cb["window_end"],
            "requested": cb.get("requested", ""),
            "status": cb["status"],
            "attempts": int(cb.get("attempts") or 0),
            "deadline": cb.get("deadline"),
            "overdue": cb.get("overdue") == "true",
        }

    def _get(self, cb_id: str) -> dict[str, str]:
        cb = self.ctx.store.callback(cb_id)
        if cb is None:
            raise NotFound(f"No callback {cb_id}.", code="callback_not_found")
        return cb

    def _lead_only(self, actor: ApiToken) -> None:
        if actor.role not in LEAD_ROLES:
            raise Forbidden("Only leads, supervisors and managers manage callbacks.", code="role_not_allowed")

    def _summary(self, fields: dict) -> dict:
        return {k: fields[k] for k in ("id", "number", "window_start", "window_end", "requested", "status")}

    def _event(self, cb: dict[str, str], name: str, detail: str) -> None:
        if cb.get("escalation_id"):
            self.ctx.store.add_event(cb["escalation_id"], self.ctx.event(name, detail))
