"""What a lead who accepted is told when the call changes under them (issue 7): the agent's line
dropped, the caller reached the hold limit, is still holding, chose a callback, or hung up. A
lead is never put through to a caller, or dropped, without a word."""

from __future__ import annotations

import logging

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.commands import TellLead
from telephony.context import Context
from telephony.errors import TelephonyFailure
from telephony.lifecycle import EscalationState

log = logging.getLogger(__name__)

NOTICES = ("agent_dropped", "hold_limit", "still_holding", "callback_chosen", "caller_left")


class LeadNotice:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def words(self, notice: str) -> str:
        ann = self.ctx.policy.announcement
        return getattr(ann, notice) if notice in NOTICES else ann.caller_left

    def caller_hears(self, esc_id: str) -> str:
        """Who the caller is put through to, said to them as they come off hold."""
        esc = self.ctx.store.escalation(esc_id) or {}
        role = (esc.get("tier") or "lead").replace("_", " ")
        name = self.ctx.name(esc.get("assignee", "")) if esc.get("assignee") else f"our {role}"
        return self.ctx.policy.announcement.caller_connected.replace("{name}", name).replace("{role}", role)

    def lead_gone(self, esc: dict[str, str]) -> bool:
        """The accepted lead's leg has ended or left the conference, as far as the service knows:
        its status, or the conference's participant-leave (which may come first, issue 35)."""
        lead_sid = esc.get("assignee_call_sid")
        if not lead_sid:
            return True
        leg = self.ctx.store.leg(lead_sid) or {}
        return leg.get("status") in TERMINAL_CALL_STATUSES or leg.get("left_conference") == "true"

    def tell(self, esc: dict[str, str], notice: str) -> bool:
        """Said to the lead in the conference; they stay. False when there is no lead to tell."""
        lead_sid = esc.get("assignee_call_sid")
        if esc.get("state") != EscalationState.BRIEFING or not lead_sid or not esc.get("conference_sid"):
            return False
        if self.lead_gone(esc):
            log.info("the lead of %s has already left: not told %s", esc["id"], notice)
            return False
        try:
            url = self.ctx.urls.lead_notice(esc["id"], notice)
            if not self.ctx.twilio.announce_to(esc["conference_sid"], lead_sid, url):
                self.ctx.store.update_leg(lead_sid, left_conference="true")
                return False  # left between the check and the announcement
        except TelephonyFailure as exc:
            log.warning("could not tell the lead of %s (%s): %s", esc["id"], notice, exc.message)
            return False
        self.ctx.store.add_event(esc["id"], self.ctx.event("lead_told", notice))
        return True

    def tell_soon(self, esc_id: str, notice: str) -> None:
        """From a webhook the caller is waiting on: a worker tells the lead."""
        self.ctx.timers.right_away(TellLead(esc_id, notice, False))

    def dismiss_soon(self, esc_id: str, notice: str) -> None:
        self.ctx.timers.right_away(TellLead(esc_id, notice, True))

    def run(self, esc_id: str, notice: str, leave: bool) -> None:
        esc = self.ctx.store.escalation(esc_id)
        if esc is not None:
            (self.dismiss if leave else self.tell)(esc, notice)

    def dismiss(self, esc: dict[str, str], notice: str) -> None:
        """Said to the lead as their part ends: their call leaves the conference, hears it, hangs up."""
        lead_sid = esc.get("assignee_call_sid")
        if not lead_sid:
            return
        if self.lead_gone(esc):
            log.info("the lead of %s has already left: not told %s", esc["id"], notice)
            return  # everyone hung up at once: a redirect of an ended call is refused (21220)
        try:
            if not self.ctx.twilio.redirect(lead_sid, self.ctx.urls.lead_notice(esc["id"], notice, leave=True)):
                return  # ended between the check and the redirect
        except TelephonyFailure as exc:
            log.warning("could not tell the lead of %s (%s): %s", esc["id"], notice, exc.message)
            return
        self.ctx.store.add_event(esc["id"], self.ctx.event("lead_told", notice))
