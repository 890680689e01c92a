"""The caller's way in: account number, a conference of their own, an agent dialled into it.
The caller always hears something (a wait message or hold), never silence."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.adapters.timers import job_id
from telephony.commands import RingAgent
from telephony.context import Context, conference_name
from telephony.errors import TelephonyFailure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountOutcome:
    accepted: bool
    next_attempt: int = 0
    account: str = ""

    @property
    def join_conference(self) -> bool:
        """After the last attempt the caller goes to an agent anyway: never dropped."""
        return self.next_attempt == 0


class Intake:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def caller_arrived(self, call_sid: str, caller: str, called: str) -> None:
        self.ctx.store.save_call(
            call_sid,
            {
                "from": caller,
                "to": called,
                "conference_name": conference_name(call_sid),
                "arrived_at": self.ctx.now_iso(),
                "role": "caller",
            },
        )

    def account_entered(self, call_sid: str, digits: str, attempt: int) -> AccountOutcome:
        ivr = self.ctx.policy.ivr
        digits = digits.strip()
        if digits.isdigit() and ivr.account_min_digits <= len(digits) <= ivr.account_max_digits:
            self._reach_agent(call_sid, digits)
            return AccountOutcome(accepted=True, account=digits)
        if attempt < ivr.account_attempts:
            return AccountOutcome(accepted=False, next_attempt=attempt + 1)
        self._reach_agent(call_sid, "")
        return AccountOutcome(accepted=False)

    def _reach_agent(self, call_sid: str, account: str) -> None:
        """The caller hears the wait message at once; their agent is rung by a worker. Whether an
        agent is free is noted now, so the caller's first wait prompt, asked for before the worker
        rings, says an agent is coming rather than that all are busy (issue 19). The account, that
        note and the ring (a timer due now, urgent) are one store script: one round trip where the
        RQ enqueue took several (issue 19: bench/profiles)."""
        self.ctx.store.reach_agent(
            call_sid,
            account,
            {
                "from": "",
                "to": "",
                "conference_name": conference_name(call_sid),
                "arrived_at": self.ctx.now_iso(),
                "role": "caller",
            },
            [(agent.id, agent.presence) for agent in self.ctx.policy.agents()],
            self.ctx.timers.entry(RingAgent(call_sid), key=job_id("ring_agent", call_sid), urgent=True),
        )
        if not self.ctx.store.timers_beside:
            self.ctx.timers.now(RingAgent(call_sid), key=job_id("ring_agent", call_sid), urgent=True)

    def dial_agent(self, caller_sid: str, tries: int = 0) -> bool:
        """Ring the first available agent into the caller's conference; with none free the
        caller waits in line and hears the wait message. If Twilio failed for every free agent,
        the ringing is tried again on the back-off schedule: waiting for an agent's presence to
        change left the caller in line for good while every agent sat idle (found by tests/chaos)."""
        twilio_failed = False
        call = self.ctx.store.call(caller_sid)
        if call is None or call.get("status") in TERMINAL_CALL_STATUSES:
            return False
        if call.get("agent_call_sid") and call.get("agent_left") != "true":
            return True
        tried = self.ctx.store.agents_tried(caller_sid)
        for agent in self.ctx.policy.agents():
            if agent.id in tried:
                continue
            if not self.ctx.store.claim_person(agent.id, agent.presence, caller_sid):
                continue
            try:
                joined = self.ctx.twilio.dial_into_conference(
                    call["conference_name"],
                    agent.endpoint,
                    label="agent",
                    status_callback=self.ctx.urls.agent_status(caller_sid),
                    conference_status_callback=self.ctx.urls.conference_events(),
                    timeout=self.ctx.policy.announcement.ring_timeout_seconds,
                    start_conference_on_enter=True,
                    end_conference_on_exit=False,
                )
            except TelephonyFailure as exc:
                log.warning("could not ring agent %s: %s", agent.id, exc.message)
                self.ctx.store.release_person(agent.id, caller_sid)
                twilio_failed = twilio_failed or exc.transient
                continue
            self.ctx.store.save_leg(
                joined.call_sid,
                {"role": "agent", "person": agent.id, "caller": caller_sid},
            )
            self.ctx.store.update_call(
                caller_sid,
                agent_id=agent.id,
                agent_call_sid=joined.call_sid,
                conference_sid=joined.conference_sid,
                agent_left="false",
                agent_coming="false",
            )
            self.ctx.store.set_conference(call["conference_name"], joined.conference_sid)
            self.ctx.store.stop_waiting_for_agent(caller_sid)
            return True
        # Twilio failing for a free agent is tried again soon: the caller is still being connected.
        self.ctx.store.update_call(caller_sid, agent_coming="true" if twilio_failed else "false")
        self.ctx.store.wait_for_agent(caller_sid, self.ctx.clock.now().timestamp())
        if twilio_failed:
            self.ctx.timers.again(RingAgent(caller_sid, tries + 1), key=job_id("ring_agent", caller_sid))
        return False

    def words_while_waiting(self, caller_sid: str) -> str:
        """What a caller waiting for an agent hears: that agents are busy only while nobody is
        being rung for them, nor about to be (a worker rings the agent the intake saw free)."""
        call = self.ctx.store.call(caller_sid) or {}
        ringing = call.get("agent_call_sid") and call.get("agent_left") != "true"
        if ringing or not call or call.get("agent_coming") == "true":
            return self.ctx.policy.ivr.agent_ringing_message
        return self.ctx.policy.ivr.agent_busy_message

    def agent_leg_status(self, caller_sid: str, agent_call_sid: str, status: str) -> str | None:
        """An agent's leg moved on. Returns the open escalation id when an answered agent left,
        so the warm transfer can go on without them (R-WARM-5)."""
        leg = self.ctx.store.leg(agent_call_sid)
        if leg is None or not self.ctx.store.advance_call_status_leg(agent_call_sid, status):
            return None
        if status in ("in-progress", "answered"):
            self.ctx.store.update_leg(agent_call_sid, answered="true")
            self.ctx.store.forget_agents_tried(caller_sid)
            return None
        if status not in TERMINAL_CALL_STATUSES:
            return None
        self.ctx.store.release_person(leg["person"], caller_sid)
        self.ctx.store.agent_tried(caller_sid, leg["person"])
        call = self.ctx.store.call(caller_sid)
        if call is None or call.get("agent_call_sid") != agent_call_sid:
            return None
        self.ctx.store.update_call(caller_sid, agent_left="true")
        if call.get("status") in TERMINAL_CALL_STATUSES:
            return None
        esc_id = self.ctx.store.open_escalation_id(caller_sid)
        if esc_id:
            return esc_id
        self.agent_needed(caller_sid)
        return None

    def agent_needed(self, caller_sid: str) -> None:
        """The caller is alone in a started conference: hold them on the wait message (not
        silence) and ring another agent."""
        call = self.ctx.store.call(caller_sid)
        if call is None:
            return
        if call.get("conference_sid") and call.get("in_conference") == "true":
            try:
                self.ctx.twilio.hold(call["conference_sid"], caller_sid, self.ctx.urls.wait())
                self.ctx.store.update_call(caller_sid, held_for_agent="true")
            except TelephonyFailure as exc:
                log.error("could not hold caller %s while finding an agent: %s", caller_sid, exc.message)
        self.dial_agent(caller_sid)

    def agent_joined(self, caller_sid: str, agent_call_sid: str) -> None:
        """The agent is in the caller's conference: their leg was answered, whichever of its
        webhooks comes first (an escalation needs the agent with the caller, issue 35)."""
        self.ctx.store.update_leg(agent_call_sid, answered="true")
        call = self.ctx.store.call(caller_sid)
        if call and call.get("held_for_agent") == "true" and call.get("conference_sid"):
            self.ctx.store.update_call(caller_sid, held_for_agent="false")
            self.ctx.twilio.unhold(call["conference_sid"], caller_sid)

    def caller_status(self, caller_sid: str, status: str) -> bool:
        """True when this status means the caller has just gone."""
        if not self.ctx.store.advance_call_status(caller_sid, status):
            return False
        if status not in TERMINAL_CALL_STATUSES:
            return False
        self.ctx.store.stop_waiting_for_agent(caller_sid)
        return True

    def wind_down(self, caller_sid: str) -> None:
        """The caller has gone and no escalation holds the conference: free the agent."""
        call = self.ctx.store.call(caller_sid) or {}
        agent_leg = call.get("agent_call_sid")
        if agent_leg and call.get("agent_left") != "true":
            leg = self.ctx.store.leg(agent_leg) or {}
            try:
                if leg.get("answered") == "true" and call.get("conference_sid"):
                    self.ctx.twilio.end_conference(call["conference_sid"])
                else:
                    self.ctx.twilio.cancel(agent_leg)
            except TelephonyFailure as exc:
                log.warning("could not free the agent of %s: %s", caller_sid, exc.message)

    def presence_changed(self, person_id: str, presence: str) -> None:
        """An agent came free: the caller waiting longest gets them."""
        self.ctx.store.set_presence(person_id, presence)
        person = self.ctx.policy.person(person_id)
        if presence != "available" or person is None or person.role != "agent":
            return
        for caller_sid in self.ctx.store.longest_waiting():
            if self.dial_agent(caller_sid):
                return
