"""The escalation itself: hold the caller, hand the hunt to LeadHunt, connect, agent leaves.
A warm conference transfer, never a cold one (R-WARM-1..5, R-ESC-1..7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.notify.red_flag_alerts import RedFlagAlerts

import json
import logging
from datetime import timedelta
from typing import Any

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.adapters.timers import job_id
from telephony.commands import ConnectAfterNotice
from telephony.config import ApiToken
from telephony.context import Context, end_conference, new_id
from telephony.errors import Conflict, Forbidden, NotFound, TelephonyFailure
from telephony.escalation.case_routing import check_tags, move_case, opened_case
from telephony.escalation.lead_hunt import LeadHunt
from telephony.escalation_request import ConnectRequest, EscalationRequest, parse
from telephony.hold.limits import Hold
from telephony.lifecycle import Escalation, EscalationState, Trigger, fire
from telephony.notify.early_warning import carried_early_warning, early_warning_of
from telephony.notify.notifier import Notifier
from telephony.records.case import case_view, tags_of
from telephony.records.masking import escalation_for

log = logging.getLogger(__name__)

CONNECT_AFTER_NOTICE_SECONDS = 15
ESCALATING_ROLES = ("agent", "lead", "supervisor")


class WarmTransfer:
    def __init__(
        self, ctx: Context, hold: Hold, lead_hunt: LeadHunt, notifier: Notifier, red_flags: RedFlagAlerts | None = None
    ):
        self.ctx = ctx
        self.hold = hold
        self.lead_hunt = lead_hunt
        self.notify = notifier
        self.red_flags = red_flags

    # -- the agent presses escalate --------------------------------------
    def escalate(self, actor: ApiToken, body: Any) -> tuple[dict[str, Any], bool]:
        req = EscalationRequest.parse(body)
        if actor.role not in ESCALATING_ROLES:
            raise Forbidden("Managers are the last tier: a manager cannot escalate a call.", code="role_not_allowed")
        idempotency_key = f"{actor.person_id}:{req.call_sid}:{req.idempotency_key}" if req.idempotency_key else None
        call, open_id, replay_id = self.ctx.store.call_for_escalation(req.call_sid, idempotency_key)
        if call is None or call.get("status") in TERMINAL_CALL_STATUSES:
            raise NotFound(f"No live call {req.call_sid}: it is unknown or has ended.", code="call_not_found")
        if actor.role == "agent" and call.get("agent_id") != actor.person_id:
            raise Forbidden("Only the agent on this call (or a lead) may escalate it.", code="not_your_call")
        if not call.get("conference_sid") or call.get("agent_left") == "true":
            raise Conflict(
                "The caller is not with an agent yet; escalate once they are connected.", code="call_not_ready"
            )
        if not self._agent_answered(call):
            raise Conflict(
                "The agent's phone is still ringing: the caller is not with an agent yet; escalate once they are connected.",
                code="call_not_ready",
            )
        if not req.caller_agreed_to_hold:
            raise Conflict(
                "Ask the caller before placing them on hold (R-WARM-6); without their agreement offer a callback.",
                code="hold_not_agreed",
            )

        check_tags(self.ctx.policy, req.tags)
        if replay_id or open_id:  # a repeat: answered from the read, nothing written
            return self._already(req.call_sid, "replay" if replay_id else "open", replay_id or open_id or "")
        client = {"account": call.get("account", ""), **req.client_fields()}
        esc_id = new_id("esc")
        now = self.ctx.clock.now()
        early_warning, flagged = carried_early_warning(self.ctx, call)
        case, case_story = opened_case(self.ctx, req.tags)
        story = [self.ctx.event("escalated", f"{req.kind} by {actor.person_id}: {req.reason}")]
        if req.caller_agreed_to_hold:
            story.append(self.ctx.event("caller_agreed_to_hold"))
        outcome, existing = self.ctx.store.create_escalation(
            esc_id,
            req.call_sid,
            {
                "kind": req.kind,
                "state": fire(None, Trigger.ESCALATE).target,
                "reason": req.reason,
                "client": client,
                "resolution_offered": req.resolution_offered,
                "deescalation_steps": req.deescalation_steps,
                "caller_agreed_to_hold": req.caller_agreed_to_hold,
                "created_at": self.ctx.now_iso(),
                "created_by": actor.person_id,
                "agent_id": call.get("agent_id", ""),
                "caller_number": call.get("from", ""),
                "agent_call_sid": call.get("agent_call_sid", ""),
                "agent_present": "true",
                "conference_sid": call["conference_sid"],
                "caller_placement": "conference",
                "tier_index": 0,
                "tried": [],
                "tags": list(dict.fromkeys(req.tags)),
                **early_warning,
                **case,
            },
            idempotency_key,
            now.timestamp(),
            [*story, *flagged, *case_story],
        )
        if outcome != "created":  # made in the moment since the read
            return self._already(req.call_sid, outcome, existing)
        if self.red_flags is not None:
            self.red_flags.carry_over(req.call_sid, esc_id)
            self.red_flags.scan(req.call_sid, req.reason, "escalation_reason", by=actor.person_id, esc_id=esc_id)
        try:
            self.ctx.twilio.hold(call["conference_sid"], req.call_sid, self.ctx.urls.hold(esc_id))
        except TelephonyFailure:
            self.ctx.store.transition(esc_id, Trigger.HOLD_FAILED, self.ctx.event("hold_failed"))
            self.ctx.store.close_escalation(req.call_sid, esc_id)
            raise
        self.hold.start(esc_id, 0, self.ctx.event("caller_on_hold"), hold_started_at=self.ctx.now_iso())
        # The channel post, the managers' email and the purge timer follow from EscalationRaised,
        # in the workers (telephony/handlers.py): the agent waits only for the hold and the ring.
        self.lead_hunt.hunt(esc_id)
        return self.view(esc_id), True

    def _agent_answered(self, call: dict[str, str]) -> bool:
        """The agent's leg was answered (its `in-progress`, or its join of the conference): before
        that the caller waits alone and there is nobody to hold them for (issue 35)."""
        agent_sid = call.get("agent_call_sid", "")
        return bool(agent_sid) and (self.ctx.store.leg(agent_sid) or {}).get("answered") == "true"

    def _already(self, call_sid: str, outcome: str, existing: str) -> tuple[dict[str, Any], bool]:
        """The same request again (its idempotency key) gets what it made; any other, a 409."""
        if outcome == "replay":
            return self.view(existing), False
        raise Conflict(
            f"Call {call_sid} already has an open escalation {existing}.",
            code="escalation_open",
            escalation_id=existing,
        )

    def back_to_agent(self, esc_id: str) -> str:
        """After a refused callback the caller rejoins their conference: with their agent, or
        held on the wait message while another agent is rung."""
        esc = self.ctx.store.read_escalation(esc_id)
        if esc is None:
            raise NotFound(f"No escalation {esc_id}.", code="escalation_not_found")
        if not esc.agent_present:
            self.ctx.store.update_call(esc.call_sid, hold_on_join=True, agent_left=True)
        return esc.call_sid

    def lead_joined(self, esc_id: str) -> None:
        """The lead is in the conference. If the agent has already gone there is nobody to do
        the brief: the lead heard the announcement, so the caller is put through (R-WARM-5),
        once the lead has been told so."""
        self.ctx.store.update_escalation(esc_id, lead_in_conference=True)
        esc = self.ctx.store.read_escalation(esc_id)
        if esc and esc.state is EscalationState.BRIEFING and not esc.agent_present:
            if esc.lead_told_agent_gone:
                self._connect(esc_id, by="system", stay_to_introduce=True, tell_caller=True)
            else:
                self._connect_after_telling_lead(dict(esc.raw))

    def _connect_after_telling_lead(self, esc: dict[str, str]) -> None:
        """The lead hears that the agent's line dropped before the caller is with them; the
        caller comes off hold when that announcement ends (or, at the latest, a few seconds on).
        A lead who has left too is nobody to put the caller through to: the caller stays on hold
        and the lead's own status moves the hunt on (issue 35: everyone hanging up at once)."""
        if self.hold.lead_notice.lead_gone(esc):
            return
        if not self.hold.lead_notice.tell(esc, "agent_dropped"):
            if not self.hold.lead_notice.lead_gone(esc):
                self._connect(esc["id"], by="system", stay_to_introduce=True, tell_caller=True)
            return
        self.ctx.store.update_escalation(esc["id"], connect_after_notice=True)
        self.ctx.timers.at(
            self.ctx.clock.now() + timedelta(seconds=CONNECT_AFTER_NOTICE_SECONDS),
            ConnectAfterNotice(esc["id"]),
            key=job_id("connect_after_notice", esc["id"]),
        )

    def notice_heard(self, esc_id: str, call_sid: str) -> None:
        """`announcement-end` for the lead: if the caller was waiting on it, put them through."""
        esc = self.ctx.store.escalation(esc_id)
        if esc and esc.get("assignee_call_sid") == call_sid:
            self.connect_after_notice(esc_id)

    def connect_after_notice(self, esc_id: str) -> None:
        esc = self.ctx.store.read_escalation(esc_id)
        if esc and esc.connect_after_notice and self.ctx.store.first_time(f"after_notice:{esc_id}"):
            self.ctx.store.update_escalation(esc_id, connect_after_notice=False)
            self._connect(esc_id, by="system", stay_to_introduce=True, tell_caller=True)

    # -- the agent connects and leaves (R-WARM-4) ------------------------------
    def connect(self, actor: ApiToken, esc_id: str, body: Any) -> dict[str, Any]:
        stay = parse(ConnectRequest, body or {}).stay_to_introduce
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            raise NotFound(f"No escalation {esc_id}.", code="escalation_not_found")
        if actor.role == "agent" and actor.person_id != esc.get("agent_id"):
            raise Forbidden("Only the agent on this call, or the lead, may connect the caller.", code="not_your_call")
        if esc["state"] != EscalationState.BRIEFING:
            raise Conflict(
                f"The caller can be connected once a lead has accepted; the escalation is {esc['state']}.",
                code="not_briefing",
                state=esc["state"],
            )
        self._connect(esc_id, by=actor.person_id, stay_to_introduce=stay)
        return self.view(esc_id)

    def _connect(self, esc_id: str, by: str, stay_to_introduce: bool, tell_caller: bool = False) -> None:
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or not self.ctx.store.transition(
            esc_id,
            Trigger.CONNECT,
            self.ctx.event("caller_connected", f"to {self.ctx.name(esc.get('assignee', ''))}, by {by}"),
            connected_at=self.ctx.now_iso(),
        ):
            if esc is not None and esc["state"] != EscalationState.CONNECTED:
                raise Conflict(f"The escalation is {esc['state']}, not briefing.", code="not_briefing")
            return
        try:
            if esc.get("caller_placement", "conference") == "conference":
                announce = self.ctx.urls.caller_connected(esc_id) if tell_caller else None
                self.ctx.twilio.unhold(esc["conference_sid"], esc["call_sid"], announce_url=announce)
            else:
                self.ctx.twilio.redirect(esc["call_sid"], self.ctx.urls.rejoin(esc_id))
        except TelephonyFailure:
            self.ctx.store.transition(
                esc_id, Trigger.CONNECT_FAILED, self.ctx.event("connect_failed"), connected_at=None
            )
            raise
        self.hold.stop(esc_id)
        if not stay_to_introduce and Escalation.from_hash(esc).agent_present and esc.get("agent_call_sid"):
            try:
                self.ctx.twilio.remove_from_conference(esc["conference_sid"], esc["agent_call_sid"])
            except TelephonyFailure as exc:
                log.warning("agent of %s could not be removed: %s", esc_id, exc.message)

    # -- legs dropping ------------------------------------------------------
    def agent_left(self, esc_id: str) -> None:
        """R-WARM-5: the agent's leg dropping never drops the caller."""
        esc = self.ctx.store.read_escalation(esc_id)
        if esc is None or not esc.agent_present:
            return
        self.ctx.store.update_escalation(esc_id, agent_present=False)
        self.ctx.store.add_event(esc_id, self.ctx.event("agent_left", self.ctx.name(esc.agent_id)))
        if esc.state is EscalationState.BRIEFING and esc.lead_in_conference:
            self._connect_after_telling_lead(dict(esc.raw))

    def caller_left(self, esc_id: str) -> None:
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            return
        gone = self.ctx.event("caller_left")
        if esc["state"] == EscalationState.CALLBACK_SCHEDULED:
            self.ctx.store.close_escalation(esc["call_sid"], esc_id)
            end_conference(self.ctx, esc)
            return
        left = self.ctx.store.transition(esc_id, Trigger.CALLER_LEFT, gone)
        if left is None:
            return
        self.ctx.store.close_escalation(esc["call_sid"], esc_id)
        if left.source is EscalationState.BRIEFING:
            self.hold.lead_notice.dismiss(esc, "caller_left")
        attempt = esc.get("attempt_call_sid")
        if left.source is EscalationState.DIALING_LEAD and attempt:
            leg = self.ctx.store.leg(attempt) or {}
            if self.ctx.store.settle_leg(attempt, "caller_left"):
                self.ctx.store.release_person(leg.get("person", ""), esc_id)
                try:
                    self.ctx.twilio.cancel(attempt)
                except TelephonyFailure as exc:
                    log.warning("could not stop ringing %s: %s", attempt, exc.message)
        end_conference(self.ctx, esc)

    # -- reading ---------------------------------------------------------------
    def view(self, esc_id: str) -> dict[str, Any]:
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            raise NotFound(f"No escalation {esc_id}.", code="escalation_not_found")
        return {
            "id": esc["id"],
            "call_sid": esc["call_sid"],
            "kind": esc["kind"],
            "state": esc["state"],
            "tier": esc.get("tier") or None,
            "assignee": esc.get("assignee") or None,
            "agent": esc.get("agent_id") or None,
            "created_at": esc["created_at"],
            "hold_started_at": esc.get("hold_started_at") or None,
            "connected_at": esc.get("connected_at") or None,
            "reason": esc.get("reason", ""),
            "client": json.loads(esc.get("client") or "{}"),
            "resolution_offered": esc.get("resolution_offered", ""),
            "deescalation_steps": json.loads(esc.get("deescalation_steps") or "[]"),
            "caller_agreed_to_hold": Escalation.from_hash(esc).caller_agreed_to_hold,
            "callback": json.loads(esc["callback"]) if esc.get("callback") else None,
            "tags": tags_of(esc),
            "case": case_view(esc),
            "early_warning": early_warning_of(esc),
            "timeline": self.ctx.store.timeline(esc_id),
        }

    def move_case(self, actor: ApiToken, esc_id: str, body: Any) -> dict[str, Any]:
        """R-ESC-8: the case's owner moves it on (escalated, assigned, resolved)."""
        move_case(self.ctx, actor, esc_id, body)
        return self.view(esc_id)

    def read(self, actor: ApiToken, esc_id: str) -> dict[str, Any]:
        """What a person may see: an agent, only the escalations of their own calls."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is not None and not self.visible(actor, esc):
            raise Forbidden("An agent can see only the escalations of their own calls.", code="not_your_call")
        return self.view(esc_id)

    def list(self, state: str | None, actor: ApiToken | None = None) -> list[dict[str, Any]]:
        ids = self.ctx.store.escalation_ids(state)
        if actor is not None and actor.role == "agent":
            ids = [i for i in ids if self.visible(actor, self.ctx.store.escalation(i) or {})]
        return [escalation_for(actor, self.view(i)) for i in ids]

    @staticmethod
    def visible(actor: ApiToken, esc: dict[str, str]) -> bool:
        return actor.role != "agent" or actor.person_id in (esc.get("agent_id"), esc.get("created_by"))
