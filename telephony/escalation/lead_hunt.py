"""The hunt for a lead (R-ESC-6, R-ESC-7) and the lead's own leg: rung with an announcement,
briefed, accepting or declining (R-WARM-2). Never connects anyone: that is the warm transfer's."""

from __future__ import annotations

import json
import logging

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.adapters.timers import job_id
from telephony.commands import OfferCallback, RingLead
from telephony.context import Context, end_conference, ring_person
from telephony.errors import TelephonyFailure
from telephony.escalation.briefing import Briefing
from telephony.hold.limits import Hold
from telephony.lifecycle import TABLE, Escalation, EscalationState, Transition, Trigger
from telephony.notify.notifier import Notifier
from telephony.numbers import spoken_digits
from telephony.policy.models import Person

log = logging.getLogger(__name__)


class LeadHunt:
    def __init__(self, ctx: Context, hold: Hold, notifier: Notifier):
        self.ctx = ctx
        self.hold = hold
        self.notify = notifier

    # -- the hunt (R-ESC-7) ------------------------------------------------
    def hunt(self, esc_id: str, tries: int = 0) -> None:
        """Ring the next available person of the tier; when a tier is exhausted move to the
        next; when every tier is, the caller is not left on hold (R-ESC-7). After hours only
        the on-call people are rung (R-HOURS-1). One person rings at a time. If Twilio itself
        fails, the same person is rung again later (the caller holds meanwhile, timers running)."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc["state"] != EscalationState.DIALING_LEAD or self._ringing(esc):
            return
        routing = self.ctx.policy.kinds[esc["kind"]]
        client = json.loads(esc.get("client") or "{}")
        tried = set(json.loads(esc.get("tried") or "[]"))
        after_hours = not self.ctx.policy.business_hours.is_open(self.ctx.clock.now())
        busy = False
        for index in range(int(esc.get("tier_index", 0)), len(routing.tiers)):
            tier = routing.tiers[index]
            if str(index) != esc.get("tier_index"):
                self.ctx.store.update_escalation(esc_id, tier_index=index)
                self.ctx.store.add_event(esc_id, self.ctx.event("next_tier", tier))
            people = self.ctx.policy.tier_people(
                esc["kind"], tier, client.get("segment"), client.get("region"), on_call_only=after_hours
            )
            for person in people:
                if person.id in tried:
                    continue
                tried.add(person.id)
                self.ctx.store.update_escalation(esc_id, tried=sorted(tried))
                try:
                    outcome = self._ring(esc_id, person, tier)
                except TelephonyFailure as exc:
                    self.ctx.store.update_escalation(esc_id, tried=sorted(tried - {person.id}))
                    self.notify.step_failed(esc_id, "ring_lead", exc, tries)
                    self.ctx.timers.again(RingLead(esc_id, tries + 1), key=job_id("hunt", esc_id))
                    return
                if outcome == "ringing":
                    return
                busy = busy or outcome == "busy"
        self._tiers_exhausted(esc_id, leads_busy=busy and not after_hours)

    def _ringing(self, esc: dict[str, str]) -> bool:
        """Someone is being rung for this escalation and has not answered, declined or gone."""
        attempt = esc.get("attempt_call_sid")
        return bool(attempt) and not (self.ctx.store.leg(attempt or "") or {}).get("outcome")

    def lead_freed(self) -> None:
        """R-HOURS-2: a lead came free; callers holding for one are hunted for again."""
        for esc_id in self.ctx.store.waiting_for_lead():
            esc = self.ctx.store.escalation(esc_id)
            if esc is None or esc["state"] != EscalationState.DIALING_LEAD:
                self.ctx.store.stop_waiting_for_lead(esc_id)
                continue
            if self._ringing(esc):
                continue
            self.ctx.store.stop_waiting_for_lead(esc_id)
            self.ctx.store.update_escalation(esc_id, tried=[], tier_index=0)
            self.ctx.store.add_event(esc_id, self.ctx.event("lead_free", "hunting again"))
            self.hunt(esc_id)

    def _ring(self, esc_id: str, person: Person, tier: str) -> str:
        """'ringing', 'busy' (taken by another call, or marked busy) or 'failed'."""
        call_sid, why = ring_person(
            self.ctx,
            person,
            esc_id,
            url=self.ctx.urls.lead_answer(esc_id),
            status_callback=self.ctx.urls.lead_status(esc_id),
        )
        if call_sid is None:
            self.ctx.store.add_event(esc_id, self.ctx.event("lead_unavailable", f"{person.name} ({tier}): {why}"))
            return "busy" if why == "busy" else "failed"
        self.ctx.store.link_leg(
            call_sid,
            {"role": "lead", "person": person.id, "escalation": esc_id, "tier": tier},
            "escalation",
            esc_id,
            (esc_id, self.ctx.event(EscalationState.DIALING_LEAD, f"{person.name} ({tier})")),
            attempt_call_sid=call_sid,
            attempt_person=person.id,
            tier=tier,
        )
        return "ringing"

    def _tiers_exhausted(self, esc_id: str, leads_busy: bool = False, tries: int = 0) -> None:
        """R-ESC-7: nobody could take the call, so the caller is not left on hold: they are
        taken to the callback offer (a held caller cannot press keys, so the call is redirected).
        When the leads are only busy (R-HOURS-2) the caller may also keep holding for the next.
        Until the redirect has worked the hold timers keep running and it is tried again."""
        esc = self.ctx.store.escalation(esc_id)
        if (
            esc is None
            or esc["state"] != EscalationState.DIALING_LEAD
            or esc.get("caller_placement", "conference") != "conference"
            or not self.ctx.store.first_time(
                f"exhausted:{esc_id}:{esc.get('hold_round')}:{len(self.ctx.store.timeline(esc_id))}"
            )
        ):
            return
        try:
            self.ctx.twilio.redirect(esc["call_sid"], self.ctx.urls.callback_offer(esc_id, busy=leads_busy))
        except TelephonyFailure as exc:
            self.notify.step_failed(esc_id, "callback_offer", exc, tries)
            self.ctx.timers.again(OfferCallback(esc_id, leads_busy, tries + 1), key=job_id("offer_callback", esc_id))
            return
        self.ctx.store.update_escalation(esc_id, caller_placement="menu")
        if leads_busy:
            self.ctx.store.wait_for_lead(esc_id, self.ctx.clock.now().timestamp())
            self.ctx.store.add_event(
                esc_id,
                self.ctx.event("leads_busy", "caller offered to keep holding or a callback by end of business day"),
            )
        else:
            self.hold.stop(esc_id)
            self.ctx.store.add_event(
                esc_id, self.ctx.event("tiers_exhausted", "nobody in the tiers answered or accepted; callback offered")
            )

    def offer_callback(self, esc_id: str, leads_busy: bool, tries: int) -> None:
        """Another try at taking the caller to the callback offer (R-ESC-7)."""
        self._tiers_exhausted(esc_id, leads_busy=leads_busy, tries=tries)

    # -- the lead's leg ---------------------------------------------------
    def lead_answered(self, esc_id: str, call_sid: str) -> Briefing:
        esc = self.ctx.store.escalation(esc_id)
        leg = self.ctx.store.leg(call_sid)
        if esc is None or leg is None or leg.get("escalation") != esc_id:
            return Briefing(live=False)
        self.ctx.store.update_leg(call_sid, answered="true")
        if esc["state"] != EscalationState.DIALING_LEAD or esc.get("attempt_call_sid") != call_sid:
            return Briefing(live=False)
        self.ctx.store.add_event(esc_id, self.ctx.event("lead_answered", self.ctx.name(leg["person"])))
        ann = self.ctx.policy.announcement
        client = json.loads(esc.get("client") or "{}")
        details = []
        if client.get("name"):
            details.append(f"The caller is {client['name']}.")
        if client.get("account"):
            details.append(f"Account {spoken_digits(client['account']) or client['account']}.")
        if client.get("contact_name") and client.get("contact_name") != client.get("name"):
            details.append(f"Contact name {client['contact_name']}.")
        details.append(f"The issue: {esc['reason']}.")
        if esc.get("resolution_offered"):
            details.append(f"Resolution already offered: {esc['resolution_offered']}.")
        details.append(f"Escalation type: {esc['kind'].replace('_', ' ')}.")
        return Briefing(live=True, intro=ann.intro, details=tuple(details), prompt=ann.accept_prompt)

    def lead_decided(self, esc_id: str, call_sid: str, digits: str, replay: int, replays: int) -> str:
        """'accepted', 'declined', 'replay' (silence: hear it again), 'ask_again' (a wrong key)
        or 'gone' (the caller left meanwhile). Silence after the last replay is a decline."""
        esc = self.ctx.store.escalation(esc_id)
        leg = self.ctx.store.leg(call_sid)
        if esc is None or leg is None or leg.get("escalation") != esc_id:
            return "gone"
        if esc["state"] != EscalationState.DIALING_LEAD or esc.get("attempt_call_sid") != call_sid:
            return "gone"
        if not digits and replay < replays:
            return "replay"
        if digits and digits not in ("1", "2"):
            return "ask_again"
        person = leg["person"]
        if digits != "1":
            if self.ctx.store.settle_leg(call_sid, "declined"):
                self.ctx.store.release_person(person, esc_id)
                self.ctx.store.add_event(esc_id, self.ctx.event("lead_declined", self.ctx.name(person)))
                self.hunt(esc_id)
            return "declined"
        if not self.ctx.store.settle_leg(call_sid, "accepted"):
            return "gone"
        moved = self.ctx.store.transition(
            esc_id,
            Trigger.LEAD_ACCEPTED,
            self.ctx.event("lead_accepted", self.ctx.name(person)),
            assignee=person,
            assignee_call_sid=call_sid,
            tier=leg.get("tier", ""),
        )
        if not moved:
            return "gone"
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or not Escalation.from_hash(esc).agent_present:
            self.ctx.store.update_escalation(esc_id, lead_told_agent_gone="true")
            return "accepted_agent_gone"
        return "accepted"

    def lead_leg_status(self, esc_id: str, call_sid: str, status: str) -> None:
        leg = self.ctx.store.leg(call_sid)
        if leg is None or leg.get("escalation") != esc_id:
            return
        if not self.ctx.store.advance_call_status_leg(call_sid, status) or status not in TERMINAL_CALL_STATUSES:
            return
        person = leg["person"]
        if self.ctx.store.settle_leg(call_sid, status if leg.get("answered") != "true" else "hung_up"):
            self.ctx.store.release_person(person, esc_id)
            esc = self.ctx.store.escalation(esc_id)
            if esc and esc["state"] == EscalationState.DIALING_LEAD and esc.get("attempt_call_sid") == call_sid:
                event = "lead_no_answer" if leg.get("answered") != "true" else "lead_hung_up"
                self.ctx.store.add_event(esc_id, self.ctx.event(event, f"{self.ctx.name(person)}: {status}"))
                self.hunt(esc_id)
            return
        if (self.ctx.store.leg(call_sid) or {}).get("outcome") != "accepted":
            return
        self.ctx.store.release_person(person, esc_id)
        self.lead_freed()
        left, esc = self._lead_left(esc_id, person)
        if left is None or esc is None:
            return
        if left.target is EscalationState.DIALING_LEAD:
            self.hunt(esc_id)
        else:
            self.ctx.store.close_escalation(esc["call_sid"], esc_id)
            end_conference(self.ctx, esc)

    def _lead_left(self, esc_id: str, person: str) -> tuple[Transition | None, dict[str, str] | None]:
        """The accepted lead's leg ended: before the caller was with them the hunt goes on (the
        assignee cleared), after it the escalation is resolved. What is written depends on the
        state, so the move is made only from the state read; a move in between reads again."""
        for _ in range(3):
            esc = self.ctx.store.escalation(esc_id)
            if esc is None or (esc["state"], Trigger.LEAD_LEFT) not in TABLE:
                return None, esc
            if esc["state"] == EscalationState.BRIEFING:
                detail, fields = "left before the caller was connected", {"assignee": None, "assignee_call_sid": None}
            else:
                detail, fields = "ended the call", {}
            event = self.ctx.event("lead_left", f"{self.ctx.name(person)} {detail}")
            left = self.ctx.store.transition(esc_id, Trigger.LEAD_LEFT, event, source=esc["state"], **fields)
            if left is not None:
                return left, esc
        return None, None
