"""Scenarios for the demo and the end-to-end tests, with the default policy's people (roles and
example numbers, +1 312 555 01xx). Each returns the people and checks what should have happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.people import AgentStep, Person, Reply

CALLER = "+13125550142"
ESCALATE = {
    "kind": "manager_request",
    "reason": "billed twice for equipment and wants a manager",
    "client": {
        "name": "Pat Doe",
        "account": "448812",
        "link": "https://crm.example.com/clients/448812",
        "segment": "AM",
        "region": "east",
    },
    "resolution_offered": "a credit on the next bill",
    "caller_agreed_to_hold": True,
    "idempotency_key": "escalate-448812",
}


@dataclass
class Scenario:
    name: str
    about: str
    people: list[Person]
    seconds: float
    check: Callable[[object], list[str]]


def caller(*replies: Reply, hang_up_after: float | None = None) -> Person:
    return Person(
        "Caller (Pat)",
        "caller",
        CALLER,
        answer_after=3,
        replies=[Reply("448812#", heard="account number"), *replies],
        hang_up_after=hang_up_after,
    )


def agent(*steps: AgentStep) -> Person:
    return Person(
        "Agent Avery",
        "agent",
        "client:agent-avery",
        answer_after=3,
        token="sim-token-agent-avery-0001",
        steps=list(steps),
    )


def others(**answers) -> list[Person]:
    return [
        Person("Agent Blake", "agent", "client:agent-blake", answer_after=None, token="sim-token-agent-blake-0001"),
        Person(
            "Lead Lee",
            "lead",
            "+13125550111",
            answers=answers.get("lee", [6]),
            replies=answers.get("lee_replies", [Reply("2", heard="Press 1")]),
        ),
        Person(
            "Lead Morgan",
            "lead",
            "sip:morgan@leads.example.com",
            answers=answers.get("morgan", [5]),
            replies=answers.get("morgan_replies", [Reply("1", heard="Press 1")]),
            hang_up_after=answers.get("morgan_hangs_up", 120),
        ),
        Person("Supervisor Sam", "supervisor", "+13125550121", answer_after=None),
        Person("Manager Max", "manager", "+13125550131", answer_after=None),
    ]


def _escalation(sim) -> list[str]:
    problems = []
    escalations = sim.escalations()
    if len(escalations) != 1:
        return [f"expected one escalation, found {len(escalations)}"]
    esc = escalations[0]
    events = [e["event"] for e in esc["timeline"]]
    for needed in ("lead_declined", "lead_accepted", "caller_connected"):
        if needed not in events:
            problems.append(f"the timeline has no {needed}: {events}")
    if esc["state"] not in ("connected", "resolved"):
        problems.append(f"the escalation ended {esc['state']}, not connected")
    t = sim.transcript
    announced = t.first("Lead Morgan", "say", "escalation in transfer")
    heard_caller = next((e for e in t.of("Lead Morgan", "hears") if "Caller" in e.text), None)
    if announced is None or heard_caller is None or announced.at > heard_caller.at:
        problems.append("Lead Morgan did not hear the announcement before hearing the caller (R-WARM-1, R-WARM-2)")
    if heard_caller is not None:
        joined = t.first("Caller (Pat)", "joins")
        longest = t.longest_silence("Caller (Pat)", joined.at if joined else 0, heard_caller.at)
        if longest > 3:
            problems.append(f"the caller sat in silence for {longest:.1f} s while waiting")
    if t.first("Agent Avery", "leaves") is None:
        problems.append("the agent never left the call (R-WARM-4)")
    return problems


def escalation() -> Scenario:
    return Scenario(
        "escalation",
        "The caller asks for a manager; the agent escalates; Lead Lee declines; Lead Morgan accepts and is briefed while the caller holds; the agent connects and leaves.",
        [
            caller(),
            agent(AgentStep("escalate", "joined", 20, ESCALATE), AgentStep("connect", "lead_joined", 15)),
            *others(),
        ],
        600,
        _escalation,
    )


def _agent_drops(sim) -> list[str]:
    esc = sim.escalations()[0] if sim.escalations() else None
    if esc is None:
        return ["no escalation"]
    problems = []
    if "agent_left" not in [e["event"] for e in esc["timeline"]]:
        problems.append("the agent's leg dropping was not recorded")
    if (
        sim.transcript.first("Caller (Pat)", "hangs up") is not None
        and sim.transcript.first("Caller (Pat)", "hangs up").text != "hangs up"
    ):
        problems.append("the caller was dropped with the agent (R-WARM-5)")
    if esc["state"] not in ("connected", "resolved"):
        problems.append(f"the caller never reached the lead: {esc['state']}")
    return problems


def agent_drops() -> Scenario:
    return Scenario(
        "agent-drops",
        "The agent escalates, then their softphone drops while the lead is being rung; the caller stays on hold and the lead takes the call (R-WARM-5).",
        [
            caller(),
            agent(AgentStep("escalate", "joined", 20, ESCALATE), AgentStep("hang_up", "joined", 25)),
            *others(lee=[8], lee_replies=[Reply("1", heard="Press 1")]),
        ],
        600,
        _agent_drops,
    )


def _callback(sim) -> list[str]:
    callbacks = sim.callbacks()
    if len(callbacks) != 1:
        return [f"expected one callback, found {len(callbacks)}"]
    problems = []
    cb = callbacks[0]
    if cb["status"] != "completed":
        problems.append(f"the callback is {cb['status']}, not completed")
    t = sim.transcript
    confirmed = t.first("Caller (Pat)", "say", "We will call you at")
    if confirmed is None:
        problems.append("the caller never heard the confirmation")
    lead_rung = [e for e in t.of("Lead Lee", "rings")]
    caller_rung = t.first("Caller (Pat)", "rings")
    if not lead_rung or caller_rung is None or lead_rung[-1].at > caller_rung.at:
        problems.append("the caller was rung before the lead (R-CB-4)")
    return problems


def callback() -> Scenario:
    return Scenario(
        "callback",
        "Nobody in the tiers answers; the caller takes a callback in a 2-hour window; at the window the worker rings Lead Lee first, then the caller.",
        [
            caller(
                Reply("1", heard="For a callback"),
                Reply("1", heard="Press 1 to use this number"),
                Reply("2", heard="When should we call"),
                hang_up_after=None,
            ),
            agent(AgentStep("escalate", "joined", 20, ESCALATE)),
            *others(lee=[None, 4], lee_replies=[Reply("1", heard="call them now")], morgan=[None]),
        ],
        4 * 3600,
        _callback,
    )


def _hold_limit(sim) -> list[str]:
    problems = []
    t = sim.transcript
    check_ins = [
        e for e in t.of("Caller (Pat)", "say") if e.text.startswith("Thank you for holding. We have not forgotten you")
    ]
    held = t.first("Caller (Pat)", "say", "getting a lead on the line")
    if len(check_ins) < 2 or held is None:
        return ["the caller did not hear two check-ins (R-HOLD-2)"]
    gaps = [round(c.at - held.at) for c in check_ins[:2]]
    if abs(gaps[0] - 120) > 2 or abs(gaps[1] - 240) > 2:
        problems.append(f"check-ins came at {gaps} s, not at 120 and 240 (R-HOLD-2)")
    offer = t.first("Caller (Pat)", "say", "You have been holding for five minutes")
    if offer is None or abs(offer.at - held.at - 300) > 2:
        problems.append("the caller was not offered a way out at 5 minutes (R-HOLD-3)")
    if not sim.callbacks():
        problems.append("the caller asked for a callback by speech but none was booked")
    return problems


def hold_limit() -> Scenario:
    return Scenario(
        "hold-limit",
        "Lead Morgan accepts but the agent never connects: the caller hears check-ins at 2 and 4 minutes, at 5 is offered to keep holding or a callback, and says 'call me back'.",
        [
            caller(
                Reply(speech="call me back please", heard="five minutes"),
                Reply("1", heard="Press 1 to use this number"),
                Reply("1", heard="When should we call"),
            ),
            agent(AgentStep("escalate", "joined", 20, ESCALATE)),
            *others(lee=[None], morgan_hangs_up=3600),
        ],
        900,
        _hold_limit,
    )


SCENARIOS = {s.__name__.replace("_", "-"): s for s in (escalation, agent_drops, callback, hold_limit)}
