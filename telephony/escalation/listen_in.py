"""Listen-in and coach (R-WARM-7, seed 000: "TL will listen in on call to start prepping for the
escalation, or to help assist you in the call"). A lead joins any live call muted (monitor) or as
a coach heard only by the agent, moves between the two, and leaves; the caller hears none of it:
no beep, no announcement, never the lead's voice."""

from __future__ import annotations

from typing import Any

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Conflict, Forbidden, NotFound, TelephonyFailure

LISTENING_ROLES = ("lead", "supervisor", "manager")
MODES = ("monitor", "coach")


class ListenIn:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def _live_call(self, actor: ApiToken, call_sid: str) -> dict[str, str]:
        if actor.role not in LISTENING_ROLES:
            raise Forbidden("Leads, supervisors and managers listen in; an agent cannot.", code="role_not_allowed")
        call = self.ctx.store.call(call_sid)
        if call is None or call.get("role") != "caller" or call.get("status") in TERMINAL_CALL_STATUSES:
            raise NotFound(f"No live call {call_sid}: it is unknown or has ended.", code="call_not_found")
        if not call.get("conference_sid") or call.get("in_conference") != "true":
            raise Conflict("The caller is not in their conference yet; listen in once they are.", code="call_not_ready")
        return call

    def listen(self, actor: ApiToken, call_sid: str, mode: str) -> dict[str, Any]:
        """Join muted or as a coach; a listener already on the call switches mode instead."""
        call = self._live_call(actor, call_sid)
        agent_sid = call.get("agent_call_sid", "")
        agent_on_call = (self.ctx.store.leg(agent_sid) or {}).get("answered") == "true" if agent_sid else False
        if mode == "coach" and (not agent_on_call or call.get("agent_left") == "true"):
            raise Conflict("There is no agent on this call to coach; listen in muted instead.", code="no_agent")
        coach = agent_sid if mode == "coach" else None
        listener = call.get("listener_person", "")
        if listener and listener != actor.person_id:
            raise Conflict(
                f"{self.ctx.name(listener)} is already listening to this call.",
                code="already_listening",
                person=listener,
            )
        if listener:
            if call.get("listener_mode") != mode:
                self.ctx.twilio.set_listening(call["conference_sid"], call["listener_call_sid"], coach_call_sid=coach)
                self.ctx.store.update_call(call_sid, listener_mode=mode)
            return self.view(actor, call_sid)
        person = self.ctx.policy.person(actor.person_id)
        if person is None:
            raise NotFound(f"No person {actor.person_id} in the policy.", code="person_not_found")
        if not self.ctx.store.claim_listener(call_sid, actor.person_id, listener_mode=mode, listener_call_sid=""):
            raise Conflict("Someone else started listening to this call meanwhile.", code="already_listening")
        try:
            leg = self.ctx.twilio.listen_in(
                call["conference_sid"],
                person.endpoint,
                coach_call_sid=coach,
                status_callback=self.ctx.urls.listener_status(call_sid),
                timeout=self.ctx.policy.announcement.ring_timeout_seconds,
            )
        except TelephonyFailure:
            self.ctx.store.release_listener(call_sid, actor.person_id)
            raise
        self.ctx.store.save_leg(leg, {"role": "listener", "person": person.id, "caller": call_sid})
        self.ctx.store.update_call(call_sid, listener_call_sid=leg, listener_since=self.ctx.now_iso())
        return self.view(actor, call_sid)

    def leave(self, actor: ApiToken, call_sid: str) -> dict[str, Any]:
        """The lead hangs up their listening leg; nobody else on the call hears them go."""
        call = self._live_call(actor, call_sid)
        listener = call.get("listener_person", "")
        if not listener:
            raise NotFound("Nobody is listening to this call.", code="not_listening")
        if listener != actor.person_id and actor.role != "manager":
            raise Forbidden(
                f"{self.ctx.name(listener)} is listening; only they (or a manager) can stop.", code="not_yours"
            )
        if call.get("listener_call_sid"):
            self.ctx.twilio.remove_from_conference(call["conference_sid"], call["listener_call_sid"])
        self.ctx.store.release_listener(call_sid, listener)
        return self.view(actor, call_sid)

    def leg_status(self, caller_sid: str, call_sid: str, status: str) -> None:
        """The listener's own phone hung up, or never answered: the call is free to listen to."""
        if status not in TERMINAL_CALL_STATUSES or not self.ctx.store.first_time(f"listener:{call_sid}:{status}"):
            return
        call = self.ctx.store.call(caller_sid) or {}
        if call.get("listener_call_sid") == call_sid:
            self.ctx.store.release_listener(caller_sid, call.get("listener_person", ""))

    def view(self, actor: ApiToken, call_sid: str) -> dict[str, Any]:
        call = self.ctx.store.call(call_sid) or {}
        listener = call.get("listener_person") or None
        return {
            "call_sid": call_sid,
            "listener": listener,
            "mode": call.get("listener_mode") if listener else None,
            "listener_call_sid": (call.get("listener_call_sid") or None) if listener else None,
            "since": (call.get("listener_since") or None) if listener else None,
        }
