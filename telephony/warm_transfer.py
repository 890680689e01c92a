"""The escalation itself: hold the caller, hunt the tier, brief the lead, connect, agent leaves.
A warm conference transfer, never a cold one (R-WARM-1..5, R-ESC-1..7)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from telephony.config import ApiToken
from telephony.context import Context, new_id, ring_person
from telephony.errors import Conflict, Forbidden, InvalidRequest, NotFound, TelephonyFailure
from telephony.hold import Hold
from telephony.notify import Notifier
from telephony.numbers import spoken_digits
from telephony.policy import KINDS, Person
from telephony.store import TERMINAL_CALL_STATUSES

log = logging.getLogger(__name__)

OPEN_STATES = ("dialing_lead", "briefing", "connected")
ESCALATING_ROLES = ("agent", "lead", "supervisor")
CLIENT_FIELDS = ("name", "account", "link", "segment", "region", "contact_name")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class EscalationRequest:
    call_sid: str
    kind: str
    reason: str
    client: dict[str, str]
    resolution_offered: str
    caller_agreed_to_hold: bool
    idempotency_key: str | None

    @classmethod
    def parse(cls, body: Any) -> EscalationRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.", code="invalid_body")

        def text(name: str, required: bool = False, limit: int = 2000) -> str:
            value = body.get(name)
            if value is None or value == "":
                if required:
                    raise InvalidRequest(f"'{name}' is required.", code="missing_field", field=name)
                return ""
            if not isinstance(value, str):
                raise InvalidRequest(f"'{name}' must be a string.", code="invalid_field", field=name)
            if len(value) > limit:
                raise InvalidRequest(f"'{name}' is longer than {limit} characters.", code="invalid_field", field=name)
            return value.strip()

        call_sid = text("call_sid", required=True)
        if not _CALL_SID.match(call_sid):
            raise InvalidRequest(
                "'call_sid' must be a Twilio call SID (CA + 32 hex digits).", code="invalid_field", field="call_sid"
            )
        kind = text("kind", required=True)
        if kind not in KINDS:
            raise InvalidRequest(f"'kind' must be one of {', '.join(KINDS)}.", code="invalid_field", field="kind")
        client = body.get("client") or {}
        if not isinstance(client, dict):
            raise InvalidRequest("'client' must be an object.", code="invalid_field", field="client")
        clean: dict[str, str] = {}
        for key, value in client.items():
            if key not in CLIENT_FIELDS:
                raise InvalidRequest(
                    f"'client.{key}' is not a known field ({', '.join(CLIENT_FIELDS)}).",
                    code="invalid_field",
                    field=f"client.{key}",
                )
            if value is None:
                continue
            if not isinstance(value, str):
                raise InvalidRequest(f"'client.{key}' must be a string.", code="invalid_field", field=f"client.{key}")
            clean[key] = value.strip()
        if clean.get("link") and not re.match(r"^https?://", clean["link"]):
            raise InvalidRequest("'client.link' must be an http(s) URL.", code="invalid_field", field="client.link")
        agreed = body.get("caller_agreed_to_hold", True)
        if not isinstance(agreed, bool):
            raise InvalidRequest(
                "'caller_agreed_to_hold' must be true or false.", code="invalid_field", field="caller_agreed_to_hold"
            )
        return cls(
            call_sid=call_sid,
            kind=kind,
            reason=text("reason", required=True),
            client=clean,
            resolution_offered=text("resolution_offered"),
            caller_agreed_to_hold=agreed,
            idempotency_key=text("idempotency_key", limit=200) or None,
        )


@dataclass(frozen=True)
class Briefing:
    """What the lead hears before deciding (R-WARM-2). `live` is False if the caller has gone."""

    live: bool
    intro: str = ""
    details: tuple[str, ...] = ()
    prompt: str = ""


class WarmTransfer:
    def __init__(self, ctx: Context, intake, hold: Hold, notifier: Notifier):
        self.ctx = ctx
        self.intake = intake
        self.hold = hold
        self.notify = notifier

    # -- the agent presses escalate --------------------------------------
    def escalate(self, actor: ApiToken, body: Any) -> tuple[dict, bool]:
        req = EscalationRequest.parse(body)
        if actor.role not in ESCALATING_ROLES:
            raise Forbidden("Managers are the last tier: a manager cannot escalate a call.", code="role_not_allowed")
        call = self.ctx.store.call(req.call_sid)
        if call is None or call.get("status") in TERMINAL_CALL_STATUSES:
            raise NotFound(f"No live call {req.call_sid}: it is unknown or has ended.", code="call_not_found")
        if actor.role == "agent" and call.get("agent_id") != actor.person_id:
            raise Forbidden("Only the agent on this call (or a lead) may escalate it.", code="not_your_call")
        if not call.get("conference_sid") or call.get("agent_left") == "true":
            raise Conflict(
                "The caller is not with an agent yet; escalate once they are connected.", code="call_not_ready"
            )
        if not req.caller_agreed_to_hold:
            raise Conflict(
                "Ask the caller before placing them on hold (R-WARM-6); without their agreement offer a callback.",
                code="hold_not_agreed",
            )

        client = {"account": call.get("account", ""), **req.client}
        esc_id = new_id("esc")
        now = self.ctx.clock.now()
        outcome, existing = self.ctx.store.create_escalation(
            esc_id,
            req.call_sid,
            {
                "kind": req.kind,
                "state": "dialing_lead",
                "reason": req.reason,
                "client": client,
                "resolution_offered": req.resolution_offered,
                "caller_agreed_to_hold": req.caller_agreed_to_hold,
                "created_at": self.ctx.now_iso(),
                "created_by": actor.person_id,
                "agent_id": call.get("agent_id", ""),
                "agent_call_sid": call.get("agent_call_sid", ""),
                "agent_present": "true",
                "conference_sid": call["conference_sid"],
                "caller_placement": "conference",
                "tier_index": 0,
                "tried": [],
            },
            req.idempotency_key,
            now.timestamp(),
        )
        if outcome == "replay":
            return self.view(existing), False
        if outcome == "open":
            raise Conflict(
                f"Call {req.call_sid} already has an open escalation {existing}.",
                code="escalation_open",
                escalation_id=existing,
            )
        self.ctx.store.add_event(esc_id, self.ctx.event("escalated", f"{req.kind} by {actor.person_id}: {req.reason}"))
        if req.caller_agreed_to_hold:
            self.ctx.store.add_event(esc_id, self.ctx.event("caller_agreed_to_hold"))
        try:
            self.ctx.twilio.hold(call["conference_sid"], req.call_sid, self.ctx.urls.hold(esc_id))
        except TelephonyFailure:
            self.ctx.store.transition(esc_id, ("dialing_lead",), "failed", self.ctx.event("hold_failed"))
            self.ctx.store.close_escalation(req.call_sid, esc_id)
            raise
        self.ctx.store.update_escalation(esc_id, hold_started_at=self.ctx.now_iso())
        self.ctx.store.add_event(esc_id, self.ctx.event("caller_on_hold"))
        self.hold.start(esc_id)
        self.notify.team(esc_id, f"Escalation ({req.kind.replace('_', ' ')}) from {self._name(actor.person_id)}")
        self.hunt(esc_id)
        return self.view(esc_id), True

    # -- the hunt (R-ESC-7) ------------------------------------------------
    def hunt(self, esc_id: str) -> None:
        """Ring the next available person of the tier; when a tier is exhausted move to the
        next; when every tier is, the caller is not left on hold (R-ESC-7). After hours only
        the on-call people are rung (R-HOURS-1)."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc["state"] != "dialing_lead":
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
                outcome = self._ring(esc_id, person, tier)
                if outcome == "ringing":
                    return
                busy = busy or outcome == "busy"
        self._tiers_exhausted(esc_id, leads_busy=busy and not after_hours)

    def lead_freed(self) -> None:
        """R-HOURS-2: a lead came free; callers holding for one are hunted for again."""
        for esc_id in self.ctx.store.waiting_for_lead():
            esc = self.ctx.store.escalation(esc_id)
            if esc is None or esc["state"] != "dialing_lead":
                self.ctx.store.stop_waiting_for_lead(esc_id)
                continue
            if esc.get("attempt_call_sid") and not (self.ctx.store.leg(esc["attempt_call_sid"]) or {}).get("outcome"):
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
        self.ctx.store.save_leg(call_sid, {"role": "lead", "person": person.id, "escalation": esc_id, "tier": tier})
        self.ctx.store.update_escalation(esc_id, attempt_call_sid=call_sid, attempt_person=person.id, tier=tier)
        self.ctx.store.add_event(esc_id, self.ctx.event("dialing_lead", f"{person.name} ({tier})"))
        return "ringing"

    def _tiers_exhausted(self, esc_id: str, leads_busy: bool = False) -> None:
        """R-ESC-7: nobody could take the call, so the caller is not left on hold: they are
        taken to the callback offer (a held caller cannot press keys, so the call is redirected).
        When the leads are only busy (R-HOURS-2) the caller may also keep holding for the next."""
        esc = self.ctx.store.escalation(esc_id)
        if (
            esc is None
            or esc["state"] != "dialing_lead"
            or not self.ctx.store.first_time(
                f"exhausted:{esc_id}:{esc.get('hold_round')}:{len(self.ctx.store.timeline(esc_id))}"
            )
        ):
            return
        if leads_busy:
            self.ctx.store.wait_for_lead(esc_id, self.ctx.clock.now().timestamp())
            self.ctx.store.add_event(
                esc_id,
                self.ctx.event("leads_busy", "caller offered to keep holding or a callback by end of business day"),
            )
            target = self.ctx.urls.callback_offer(esc_id, busy=True)
        else:
            self.hold.stop(esc_id)
            self.ctx.store.add_event(
                esc_id, self.ctx.event("tiers_exhausted", "nobody in the tiers answered or accepted; callback offered")
            )
            target = self.ctx.urls.callback_offer(esc_id)
        try:
            self.ctx.twilio.redirect(esc["call_sid"], target)
            self.ctx.store.update_escalation(esc_id, caller_placement="menu")
        except TelephonyFailure as exc:
            log.error("could not offer %s a callback: %s", esc["call_sid"], exc.message)

    def back_to_agent(self, esc_id: str) -> str:
        """After a refused callback the caller rejoins their conference: with their agent, or
        held on the wait message while another agent is rung."""
        esc = self.ctx.store.escalation(esc_id) or {}
        if esc.get("agent_present") != "true":
            self.ctx.store.update_call(esc["call_sid"], hold_on_join="true", agent_left="true")
        return esc.get("call_sid", "")

    # -- the lead's leg ---------------------------------------------------
    def lead_answered(self, esc_id: str, call_sid: str) -> Briefing:
        esc = self.ctx.store.escalation(esc_id)
        leg = self.ctx.store.leg(call_sid)
        if esc is None or leg is None or leg.get("escalation") != esc_id:
            return Briefing(live=False)
        self.ctx.store.update_leg(call_sid, answered="true")
        if esc["state"] != "dialing_lead" or esc.get("attempt_call_sid") != call_sid:
            return Briefing(live=False)
        self.ctx.store.add_event(esc_id, self.ctx.event("lead_answered", self._name(leg["person"])))
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
        if esc["state"] != "dialing_lead" or esc.get("attempt_call_sid") != call_sid:
            return "gone"
        if not digits and replay < replays:
            return "replay"
        if digits and digits not in ("1", "2"):
            return "ask_again"
        person = leg["person"]
        if digits != "1":
            if self.ctx.store.settle_leg(call_sid, "declined"):
                self.ctx.store.release_person(person, esc_id)
                self.ctx.store.add_event(esc_id, self.ctx.event("lead_declined", self._name(person)))
                self.hunt(esc_id)
            return "declined"
        if not self.ctx.store.settle_leg(call_sid, "accepted"):
            return "gone"
        moved = self.ctx.store.transition(
            esc_id,
            ("dialing_lead",),
            "briefing",
            self.ctx.event("lead_accepted", self._name(person)),
            assignee=person,
            assignee_call_sid=call_sid,
            tier=leg.get("tier", ""),
        )
        return "accepted" if moved else "gone"

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
            if esc and esc["state"] == "dialing_lead" and esc.get("attempt_call_sid") == call_sid:
                event = "lead_no_answer" if leg.get("answered") != "true" else "lead_hung_up"
                self.ctx.store.add_event(esc_id, self.ctx.event(event, f"{self._name(person)}: {status}"))
                self.hunt(esc_id)
            return
        if (self.ctx.store.leg(call_sid) or {}).get("outcome") != "accepted":
            return
        self.ctx.store.release_person(person, esc_id)
        self.lead_freed()
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            return
        if self.ctx.store.transition(
            esc_id,
            ("briefing",),
            "dialing_lead",
            self.ctx.event("lead_left", f"{self._name(person)} left before the caller was connected"),
            assignee=None,
            assignee_call_sid=None,
        ):
            self.hunt(esc_id)
        elif self.ctx.store.transition(
            esc_id, ("connected",), "resolved", self.ctx.event("lead_left", f"{self._name(person)} ended the call")
        ):
            self.ctx.store.close_escalation(esc["call_sid"], esc_id)
            self._end_conference(esc)

    def lead_joined(self, esc_id: str) -> None:
        """The lead is in the conference. If the agent has already gone there is nobody to do
        the brief: the lead heard the announcement, so connect the caller (R-WARM-5)."""
        esc = self.ctx.store.escalation(esc_id)
        if esc and esc["state"] == "briefing" and esc.get("agent_present") != "true":
            self._connect(esc_id, by="system", stay_to_introduce=True)

    # -- the agent connects and leaves (R-WARM-4) ------------------------------
    def connect(self, actor: ApiToken, esc_id: str, body: Any) -> dict:
        body = body or {}
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.", code="invalid_body")
        stay = body.get("stay_to_introduce", False)
        if not isinstance(stay, bool):
            raise InvalidRequest(
                "'stay_to_introduce' must be true or false.", code="invalid_field", field="stay_to_introduce"
            )
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            raise NotFound(f"No escalation {esc_id}.", code="escalation_not_found")
        if actor.role == "agent" and actor.person_id != esc.get("agent_id"):
            raise Forbidden("Only the agent on this call, or the lead, may connect the caller.", code="not_your_call")
        if esc["state"] != "briefing":
            raise Conflict(
                f"The caller can be connected once a lead has accepted; the escalation is {esc['state']}.",
                code="not_briefing",
                state=esc["state"],
            )
        self._connect(esc_id, by=actor.person_id, stay_to_introduce=stay)
        return self.view(esc_id)

    def _connect(self, esc_id: str, by: str, stay_to_introduce: bool) -> None:
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or not self.ctx.store.transition(
            esc_id,
            ("briefing",),
            "connected",
            self.ctx.event("caller_connected", f"to {self._name(esc.get('assignee', ''))}, by {by}"),
            connected_at=self.ctx.now_iso(),
        ):
            if esc is not None and esc["state"] != "connected":
                raise Conflict(f"The escalation is {esc['state']}, not briefing.", code="not_briefing")
            return
        try:
            if esc.get("caller_placement", "conference") == "conference":
                self.ctx.twilio.unhold(esc["conference_sid"], esc["call_sid"])
            else:
                self.ctx.twilio.redirect(esc["call_sid"], self.ctx.urls.rejoin(esc_id))
        except TelephonyFailure:
            self.ctx.store.transition(
                esc_id, ("connected",), "briefing", self.ctx.event("connect_failed"), connected_at=None
            )
            raise
        self.hold.stop(esc_id)
        if not stay_to_introduce and esc.get("agent_present") == "true" and esc.get("agent_call_sid"):
            try:
                self.ctx.twilio.remove_from_conference(esc["conference_sid"], esc["agent_call_sid"])
            except TelephonyFailure as exc:
                log.warning("agent of %s could not be removed: %s", esc_id, exc.message)

    # -- legs dropping ------------------------------------------------------
    def agent_left(self, esc_id: str) -> None:
        """R-WARM-5: the agent's leg dropping never drops the caller."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc.get("agent_present") != "true":
            return
        self.ctx.store.update_escalation(esc_id, agent_present="false")
        self.ctx.store.add_event(esc_id, self.ctx.event("agent_left", self._name(esc.get("agent_id", ""))))
        if esc["state"] == "briefing":
            self._connect(esc_id, by="system", stay_to_introduce=True)

    def caller_left(self, esc_id: str) -> None:
        esc = self.ctx.store.escalation(esc_id)
        if esc is None:
            return
        gone = self.ctx.event("caller_left")
        if esc["state"] == "callback_scheduled":
            self.ctx.store.close_escalation(esc["call_sid"], esc_id)
            self._end_conference(esc)
            return
        if self.ctx.store.transition(esc_id, ("connected",), "resolved", gone):
            pass
        elif not self.ctx.store.transition(esc_id, ("dialing_lead", "briefing"), "abandoned", gone):
            return
        self.ctx.store.close_escalation(esc["call_sid"], esc_id)
        attempt = esc.get("attempt_call_sid")
        if esc["state"] == "dialing_lead" and attempt:
            leg = self.ctx.store.leg(attempt) or {}
            if self.ctx.store.settle_leg(attempt, "caller_left"):
                self.ctx.store.release_person(leg.get("person", ""), esc_id)
                try:
                    self.ctx.twilio.cancel(attempt)
                except TelephonyFailure as exc:
                    log.warning("could not stop ringing %s: %s", attempt, exc.message)
        self._end_conference(esc)

    def _end_conference(self, esc: dict[str, str]) -> None:
        try:
            self.ctx.twilio.end_conference(esc["conference_sid"])
        except TelephonyFailure as exc:
            log.warning("could not end conference %s: %s", esc["conference_sid"], exc.message)

    # -- reading ---------------------------------------------------------------
    def view(self, esc_id: str) -> dict:
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
            "caller_agreed_to_hold": esc.get("caller_agreed_to_hold") == "true",
            "callback": json.loads(esc["callback"]) if esc.get("callback") else None,
            "timeline": self.ctx.store.timeline(esc_id),
        }

    def list(self, state: str | None) -> list[dict]:
        return [self.view(i) for i in self.ctx.store.escalation_ids(state)]

    def _name(self, person_id: str) -> str:
        person = self.ctx.policy.person(person_id)
        return person.name if person else person_id
