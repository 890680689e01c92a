"""Twilio failing (issue 11, R-ESC-7, R-HOLD-3, R-CB-5): the simulator's REST server answers a
share of every kind of request with a 500, a 429 with Retry-After, or a hang past the client's
timeout, while CHAOS_TWILIO_CALLS callers (default 12) call in at once and are escalated: half to
leads who take them, half as formal complaints the managers cannot take now, so they become
callbacks, dialled later through the same faults. Every escalation ends in a clear state on its
timeline, no caller sits in silence (sim/experience.py), every try of an outbound call keeps to
OUTBOUND_CALLS_PER_SECOND at the REST server, and a 429's Retry-After is waited out."""

from __future__ import annotations

import os
from collections import Counter

from sim.experience import SILENCE_LIMIT_SECONDS, _longest_silence
from sim.people import AgentStep, Person, Reply
from sim.rest import RestFaults
from sim.runner import Simulation
from sim.scenarios import CALLBACK_LEAD_PROMPT, opening_time
from sim.transcript import Transcript
from telephony.policy.loading import load_policy
from tests.chaos.rig import chaos_policy

CALLS = int(os.environ.get("CHAOS_TWILIO_CALLS", "12"))
CPS = 3
OUTBOUND = ("create_call", "create_participant")
SETTLED = {"resolved", "connected", "callback_scheduled", "failed", "abandoned"}


def cast(policy) -> list[Person]:
    """Agents: the first half escalate to the leads, the second half a formal complaint (managers
    only). Leads accept; the manager is silent on an escalation (so it is declined) and takes
    callbacks. Callers key their account and, when offered, take a callback as soon as possible."""
    body = {
        "reason": "billed twice",
        "client": {"name": "Pat Doe", "account": "448812"},
        "caller_agreed_to_hold": True,
    }
    agents = []
    for n, agent in enumerate(policy.agents()):
        kind = "manager_request" if n % 2 == 0 else "formal_complaint"
        agents.append(
            Person(
                agent.name,
                "agent",
                agent.endpoint,
                answer_after=3,
                id=agent.id,
                token=f"sim-token-{agent.id}",
                steps=[
                    AgentStep("escalate", "joined", 15, {**body, "kind": kind}),
                    AgentStep("connect", "lead_joined", 10),
                ],
            )
        )
    accept = policy.announcement.accept_prompt[:40]
    leads = [
        Person(p.name, "lead", p.endpoint, answer_after=4, replies=[Reply("1", heard=accept) for _ in range(CALLS)])
        for p in policy.people
        if p.role == "lead"
    ]
    decline = [Reply("2", heard=accept) for _ in range(CALLS)]
    managers = [
        Person(
            p.name,
            "manager",
            p.endpoint,
            answer_after=4,
            replies=[*decline, *(Reply("1", heard=CALLBACK_LEAD_PROMPT) for _ in range(CALLS))],
        )
        for p in policy.people
        if p.role == "manager"
    ]
    callers = [
        Person(
            f"Caller {i}",
            "caller",
            f"+1312559{i:04d}",
            answer_after=2,
            hang_up_after=240,
            replies=[
                Reply("448812#", heard=policy.ivr.account_prompt[:40]),
                Reply("1", heard=policy.callbacks.offer_prompt[:40]),
                Reply("1", heard=policy.callbacks.busy_offer_prompt.split("}", 1)[-1][:30]),
                Reply("1", heard="Press 1 to use this number"),
                Reply("1", heard="When should we call"),
            ],
        )
        for i in range(CALLS)
    ]
    return agents + leads + managers + callers


def longest_silence_per_call(transcript: Transcript, who: str) -> float:
    """sim/experience.py's silence, for each of a person's calls on its own (a caller who booked a
    callback has two: the wait between them is not silence on a line)."""
    longest, call = 0.0, []
    for entry in transcript.of(who):
        call.append(entry)
        if entry.kind == "hangs up":
            longest = max(longest, _longest_silence(Transcript(entries=call), who) or 0.0)
            call = []
    return max(longest, _longest_silence(Transcript(entries=call), who) or 0.0) if call else longest


def settled(sim) -> bool:
    escalations = sim.escalations()
    return (
        len(escalations) >= CALLS * 0.75
        and all(e["state"] in SETTLED for e in escalations)
        and all(c["status"] == "completed" for c in sim.callbacks())
        and all(e["state"] != "connected" for e in escalations)
    )


def test_twilio_failing_every_escalation_settles_no_caller_in_silence_cps_kept__R_ESC_7(tmp_path):
    policy_file = chaos_policy(tmp_path / "policy.toml", leads=CALLS // 2, agents=CALLS, managers=CALLS // 2)
    policy = load_policy(policy_file)
    people = cast(policy)
    faults = RestFaults(fraction=0.2, retry_after=1, hang_seconds=0.8)
    with Simulation(
        people,
        policy_file,
        tmp_path,
        start=opening_time(policy),
        rest_faults=faults,
        outbound_calls_per_second=CPS,
        rest_timeout_seconds=0.5,
    ) as sim:
        callers = [p for p in people if p.role == "caller"]
        for i, caller in enumerate(callers):
            sim.world.incoming_call(caller, after=i * 0.5)
        for _ in range(24):  # up to 2 hours, in 5 minutes steps, until everything has settled
            sim.run(300)
            if settled(sim):
                break

        escalations = sim.escalations()
        callbacks = sim.callbacks()
        rest = list(sim.world.rest_log)

    states = Counter(e["state"] for e in escalations)
    assert sum(states.values()) >= CALLS * 0.75, f"most callers were escalated: {states}"
    unsettled = [(e["state"], [t["event"] for t in e["timeline"]]) for e in escalations if e["state"] not in SETTLED]
    assert unsettled == [], f"escalations left open: {unsettled[:3]}"
    assert all(e["timeline"] for e in escalations)
    failed = [e for e in escalations if e["state"] == "failed"]
    assert all(any(t["event"].endswith("_failed") for t in e["timeline"]) for e in failed), "a failure says why"
    assert {c["status"] for c in callbacks} <= {"completed"}, Counter(c["status"] for c in callbacks)

    silences = {p.name: longest_silence_per_call(sim.transcript, p.name) for p in callers}
    silent = {who: s for who, s in silences.items() if s > SILENCE_LIMIT_SECONDS}
    assert silent == {}, f"callers left in silence: {silent}; the first:\n" + "\n".join(
        e.line() for e in sim.transcript.entries if e.who == next(iter(silent), "") or e.kind == "rest"
    )

    outbound = [
        r for r in rest if r.path.endswith("/Calls.json") and r.method == "POST" or "/Participants.json" in r.path
    ]
    per_second = Counter(int(r.wall) for r in outbound)
    assert max(per_second.values()) <= CPS, f"outbound calls per second at Twilio: {sorted(per_second.values())[-5:]}"
    for n, refused in enumerate(rest):
        if refused.status == 429:
            again = next(
                (
                    r
                    for r in rest[n + 1 :]
                    if (r.method, r.path, r.params) == (refused.method, refused.path, refused.params)
                ),
                None,
            )
            assert again is None or again.wall - refused.wall >= faults.retry_after - 0.05, "Retry-After waited out"
    injected = sum(faults.injected.values())
    assert injected >= 10 and set(faults.injected) == {"500", "429", "timeout"}, faults.injected
    print(
        f"\nchaos: {CALLS} calls, {len(rest)} REST requests, faults injected {dict(faults.injected)}; "
        f"escalations {dict(states)}; callbacks {Counter(c['status'] for c in callbacks)}"
    )


def test_twilio_down_for_a_window_as_callers_arrive_they_reach_an_agent_once_it_is_back__R_ESC_7(tmp_path):
    """Every request to ring an agent fails for the first 40 s (a window, not a share): the callers
    wait in line hearing the wait message, and are put through to an agent once Twilio answers
    again, not left in line until some agent's presence happens to change."""
    policy_file = chaos_policy(tmp_path / "policy.toml", leads=2, agents=2)
    policy = load_policy(policy_file)
    people = cast(policy)
    callers = [p for p in people if p.role == "caller"][:3]
    faults = RestFaults(active=True, kinds=("500",), operations=("create_participant",))
    with Simulation(people, policy_file, tmp_path, start=opening_time(policy), rest_faults=faults) as sim:
        for i, caller in enumerate(callers):
            sim.world.incoming_call(caller, after=i)
        sim.run(40)
        assert not any(sim.transcript.first(c.name, "hears") for c in callers), "nobody reached while Twilio fails"
        faults.active = False
        sim.run(200)
        reached = {c.name: sim.transcript.first(c.name, "hears") for c in callers}
        escalated = {sim.world.calls[e["call_sid"]].person.name for e in sim.escalations()}
    assert all(reached.values()), f"callers never put through to an agent: {[c for c, r in reached.items() if not r]}"
    assert escalated == {c.name for c in callers}
    assert faults.injected["500"] >= 3
