"""Taking a callback from the caller (R-CB-1..3): the offer, the number, the window, and the
booking, stored before the caller hears the confirmation (R-CB-8)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telephony.adapters.timers import job_id
from telephony.callbacks.booked import Callbacks, summary
from telephony.callbacks.sweeper import CallbackSweeper
from telephony.commands import CallbackDeadline, DialCallback, StopRinging
from telephony.context import Context, new_id
from telephony.errors import Conflict, NotFound
from telephony.hold.limits import CALLBACK_WORDS, Hold
from telephony.lifecycle import HOLDING_STATES, CallbackStatus, EscalationState, Trigger
from telephony.notify.notifier import Notifier
from telephony.numbers import callable_e164, caller_time_zone
from telephony.policy import business_hours as bh

log = logging.getLogger(__name__)

ASAP_DELAY_SECONDS = 60  # the caller has heard the confirmation and hung up before we ring back


@dataclass(frozen=True)
class WindowChoice:
    digit: str
    spoken: str
    start: str
    end: str
    asap: bool


class CallbackCapture:
    def __init__(self, ctx: Context, hold: Hold, notifier: Notifier, sweeper: CallbackSweeper, callbacks: Callbacks):
        self.ctx = ctx
        self.hold = hold
        self.notify = notifier
        self.sweeper = sweeper
        self.callbacks = callbacks

    # -- the offer (R-CB-1, R-ESC-7) --------------------------------------------------
    def offer_choice(self, esc_id: str, digits: str, speech: str, leads_busy: bool = False) -> str:
        """'callback', 'hold' (leads busy: keep holding for the next, R-HOURS-2), 'refused',
        'unclear' or 'gone'. Refusing tells the agent's direct leader (R-CB-6) and the caller
        goes back to their agent."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc["state"] not in HOLDING_STATES:
            return "gone"
        self.hold.heard(esc, speech)
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
            Trigger.CALLBACK_REFUSED,
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

    def window_chosen(self, esc_id: str, digits: str) -> dict[str, Any] | None:
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

    def book(self, esc_id: str, number: str, start: datetime, end: datetime, spoken: str, asap: bool) -> dict[str, Any]:
        """Store the callback, then schedule its dial and its deadline, then tell the team; the
        caller hears the confirmation only after this returns (R-CB-8)."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            raise NotFound(f"No escalation {esc_id}.")
        existing = esc.get("callback_id")
        if existing:
            return self.callbacks.view(existing)
        now = self.ctx.clock.now()
        cb = self.ctx.policy.callbacks
        rule = self.ctx.store.capture(esc_id).get("deadline_rule") or cb.deadline
        due = bh.deadline(self.ctx.policy.business_hours, now, rule)
        cb_id = new_id("cb")
        first_dial = max(start, now + timedelta(seconds=ASAP_DELAY_SECONDS))
        fields = {
            "id": cb_id,
            "escalation_id": esc_id,
            "number": number,
            "window_start": start.isoformat(timespec="seconds"),
            "window_end": end.isoformat(timespec="seconds"),
            "next_attempt_at": first_dial.isoformat(timespec="seconds"),
            "requested": spoken,
            "asap": asap,
            "status": CallbackStatus.SCHEDULED,
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
            Trigger.CALLBACK_BOOKED,
            self.ctx.event(EscalationState.CALLBACK_SCHEDULED, f"{number}, {spoken}"),
            callback_id=cb_id,
            callback=summary(fields),
        )
        if not moved:
            self.ctx.store.update_callback(cb_id, status=CallbackStatus.CANCELLED)
            raise Conflict(f"The escalation is {esc['state']}; no callback was booked.", code="not_holding")
        self.hold.stop(esc_id)
        self._stop_ringing(esc)
        if esc["state"] == EscalationState.BRIEFING and esc.get("assignee"):
            self.ctx.store.update_callback(cb_id, not_again=[esc["assignee"]])
            self.hold.lead_notice.dismiss_soon(esc_id, "callback_chosen")
        self.ctx.timers.at(first_dial, DialCallback(cb_id, 1), key=job_id("dial", cb_id, 1))
        self.ctx.timers.at(due, CallbackDeadline(cb_id), key=job_id("deadline", cb_id))
        self.sweeper.ensure()
        # The channel post and the managers' email follow from CallbackBooked, in the workers
        # (telephony/handlers.py).
        return self.callbacks.view(cb_id)

    def _stop_ringing(self, esc: dict[str, str]) -> None:
        attempt = esc.get("attempt_call_sid")
        if (
            esc["state"] == EscalationState.DIALING_LEAD
            and attempt
            and self.ctx.store.settle_leg(attempt, "callback_chosen")
        ):
            leg = self.ctx.store.leg(attempt) or {}
            self.ctx.store.release_person(leg.get("person", ""), esc["id"])
            self.ctx.timers.right_away(StopRinging(attempt))
