"""A day of calls, told as the procedures' stories, played as Twilio would through a harness (in
process or against the fleet): each story ends with every leg hung up, so the next one starts
with the agents and leads free. Kept by `Day`, which then checks every escalation's final state and
that every callback was dialled once: the lead's leg, then the caller's."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

STORIES = ("connected", "callback", "declined_then_connected", "abandoned")
EXPECTED = {
    "connected": "resolved",
    "declined_then_connected": "resolved",
    "callback": "resolved",
    "abandoned": "abandoned",
}


def _path(url: str) -> str:
    parsed = urlparse(url)
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


@dataclass
class Day:
    harness: object
    stories: dict[str, str] = field(default_factory=dict)  # escalation id -> story
    callbacks: dict[str, str] = field(default_factory=dict)  # callback id -> escalation id
    played: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    _answering: threading.Lock = field(default_factory=threading.Lock)

    # -- the stories ---------------------------------------------------------------------------
    def call(self, story: str) -> str:
        h = self.harness
        caller_sid, agent_sid = h.caller_in_conference()
        agent = h.core.ctx.store.call(caller_sid)["agent_id"]
        h.agent_answers(caller_sid, agent_sid)
        created = h.escalate(caller_sid, who=agent, idempotency_key=f"day-{caller_sid}")
        assert created.status_code == 201, (created.status_code, created.get_data(as_text=True))
        esc_id = created.json["id"]
        self.stories[esc_id] = story
        if story in ("connected", "declined_then_connected"):
            if story == "declined_then_connected":
                h.lead_answers(esc_id)
                h.lead_presses(esc_id, "2")
            h.lead_accepts_and_joins(esc_id)
            connected = h.api("POST", f"/api/escalations/{esc_id}/connect", who=agent, json={})
            assert connected.status_code == 200, (story, connected.get_data(as_text=True), h.escalation(esc_id))
            h.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
            h.leg_status(f"/voice/lead/status?escalation={esc_id}", h.lead_leg(esc_id), "completed")
            h.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
        elif story == "callback":
            self.book_callback(caller_sid, esc_id)
            h.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
            h.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
        elif story == "abandoned":
            h.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
            h.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
        return esc_id

    def calls_at_once(self, stories: list[str]) -> list[str]:
        """Several callers at the same moment, each with their own agent (as many as there are
        agents), played in parallel threads; the clock stands still meanwhile."""
        with ThreadPoolExecutor(max_workers=len(stories)) as pool:
            return list(pool.map(self.call, stories))

    def book_callback(self, caller_sid: str, esc_id: str) -> None:
        """The caller keeps their number and takes "as soon as someone is available"."""
        h = self.harness
        h.twiml(f"/voice/callback/number?escalation={esc_id}", {"CallSid": caller_sid})
        h.twiml(f"/voice/callback/number-choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "1"})
        confirmed = h.twiml(
            f"/voice/callback/window?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "1"}
        )
        assert "We will call you" in confirmed.text(), confirmed.text()
        cb_id = h.escalation(esc_id)["callback"]["id"]
        self.callbacks[cb_id] = esc_id

    def dials(self, cb_id: str):
        """The CreateCall requests made for this callback, in order."""
        return [
            r
            for r in self.harness.rest.requests("CreateCall")
            if parse_qs(urlparse(r.param("Url") or "").query).get("callback") == [cb_id]
        ]

    def answer_callbacks(self) -> None:
        """Twilio's side of every callback the workers have dialled: the lead answers and presses
        1, the caller answers (a person), both hang up at the end."""
        with self._answering:
            self._answer_callbacks()

    def _answer_callbacks(self) -> None:
        h = self.harness
        for cb_id in list(self.callbacks):
            if cb_id in self.played:
                continue
            dials = self.dials(cb_id)
            if not dials:
                continue
            self.played.add(cb_id)
            lead = dials[0]
            lead_sid = h.core.ctx.store.callback(cb_id)["lead_call_sid"]
            heard = h.twiml(_path(lead.param("Url")), {"CallSid": lead_sid, "CallStatus": "in-progress"})
            gather = heard.find("Gather")
            assert gather is not None, heard.xml
            h.twiml(_path(gather.get("action")), {"CallSid": lead_sid, "Digits": "1"})
            caller_legs = self.dials(cb_id)[1:]
            assert len(caller_legs) == 1, f"callback {cb_id}: {len(caller_legs)} caller legs after the lead accepted"
            caller_leg = caller_legs[0]
            caller_sid = h.core.ctx.store.callback(cb_id)["caller_call_sid"]
            hello = h.twiml(_path(caller_leg.param("Url")), {"CallSid": caller_sid, "AnsweredBy": "human"})
            assert hello.conference() is not None, hello.xml
            for leg, sid in ((caller_leg, caller_sid), (lead, lead_sid)):
                h.leg_status(_path(leg.param("StatusCallback")), sid, "completed")

    def advance(self, seconds: float) -> None:
        self.harness.advance(seconds)
        self.answer_callbacks()

    # -- the outcome ------------------------------------------------------------------------------
    def check(self) -> dict[str, int]:
        h = self.harness
        counts: dict[str, int] = {}
        for esc_id, story in self.stories.items():
            state = h.escalation(esc_id)["state"]
            counts[story] = counts.get(story, 0) + 1
            if state != EXPECTED[story]:
                self.problems.append(f"{esc_id} ({story}) ended {state}, not {EXPECTED[story]}")
        callers = {}
        for cb_id in self.callbacks:
            view = h.core.callbacks.view(cb_id)
            if view["status"] != "completed" or view["attempts"] != 1:
                self.problems.append(f"callback {cb_id} is {view['status']} after {view['attempts']} attempts")
            dials = self.dials(cb_id)
            to = [d.param("To") for d in dials]
            callers[cb_id] = to
            if len(to) != 2 or to[1] != view["number"] or to[0] == view["number"]:
                self.problems.append(f"callback {cb_id} was dialled {to}, not the lead once then the caller once")
        counts["callbacks_dialled_once"] = sum(1 for to in callers.values() if len(to) == 2)
        return counts
