"""Duplicates under load (issue 11): CHAOS_DUPLICATE_CALLS callers (default 40; the issue's 200 is `CHAOS_DUPLICATE_CALLS=200`) ring at once and
are escalated; three in four are taken by a lead and put through, one in four hangs up on hold.
Played twice through the simulator on its virtual clock: once orderly, once with every status
callback and conference event delivered twice, each copy late by up to 1.5 s, so they overtake one
another (`--chaos`). Each caller's escalation ends in the same state with the same steps on its
timeline, and every lead and agent is free again."""

from __future__ import annotations

import os
from collections import Counter

from sim.people import AgentStep, Person, Reply
from sim.runner import Simulation
from sim.scenarios import opening_time
from telephony.policy.loading import load_policy
from tests.chaos.rig import chaos_policy

CALLS = int(os.environ.get("CHAOS_DUPLICATE_CALLS", "40"))


def cast(policy) -> list[Person]:
    body = {
        "kind": "manager_request",
        "reason": "billed twice",
        "client": {"name": "Pat Doe", "account": "448812"},
        "caller_agreed_to_hold": True,
    }
    agents = [
        Person(
            a.name,
            "agent",
            a.endpoint,
            answer_after=3,
            id=a.id,
            token=f"sim-token-{a.id}",
            steps=[AgentStep("escalate", "joined", 15, body), AgentStep("connect", "lead_joined", 10)],
        )
        for a in policy.agents()
    ]
    accept = policy.announcement.accept_prompt[:40]
    leads = [
        Person(p.name, "lead", p.endpoint, answer_after=4, replies=[Reply("1", heard=accept) for _ in range(3)])
        for p in policy.people
        if p.role == "lead"
    ]
    callers = [
        Person(
            f"Caller {i}",
            "caller",
            f"+1312553{i:04d}",
            answer_after=0,
            hang_up_after=35 if i % 4 == 3 else 240,  # on hold, before any lead has answered; or at the end
            replies=[Reply("448812#", heard=policy.ivr.account_prompt[:40])],
        )
        for i in range(CALLS)
    ]
    return agents + leads + callers


def play(tmp_path, chaos: bool) -> tuple[dict[str, tuple[str, tuple[str, ...]]], Counter, list[str], int]:
    """Each caller's escalation (state, its timeline's steps in order of kind), who is left busy,
    what the simulator found wrong, and how many webhooks it sent."""
    policy_file = chaos_policy(tmp_path / "policy.toml", leads=CALLS, agents=CALLS)
    policy = load_policy(policy_file)
    people = cast(policy)
    run = tmp_path / ("chaos" if chaos else "orderly")
    with Simulation(people, policy_file, run, chaos=chaos, start=opening_time(policy)) as sim:
        for i, person in enumerate(p for p in people if p.role == "caller"):
            sim.world.incoming_call(person, after=i * 0.05)
        sim.run(400)
        outcome = {}
        for esc in sim.escalations():
            caller = sim.world.calls[esc["call_sid"]].person.name
            outcome[caller] = (esc["state"], tuple(sorted(Counter(e["event"] for e in esc["timeline"]).items())))
        busy = Counter(sim.core.ctx.presence(p.id) for p in policy.people if p.role in ("agent", "lead"))
        return outcome, busy, list(sim.world.errors), len(sim.world.sent)


def test_duplicated_late_and_reversed_events_under_load_end_as_an_orderly_run(tmp_path):
    orderly, orderly_busy, orderly_errors, orderly_sent = play(tmp_path, chaos=False)
    chaotic, chaotic_busy, chaotic_errors, chaotic_sent = play(tmp_path, chaos=True)

    assert len(orderly) == CALLS, "every caller was escalated"
    assert Counter(s for s, _ in orderly.values()) == {"resolved": CALLS - CALLS // 4, "abandoned": CALLS // 4}
    differ = {c: (orderly[c], chaotic.get(c)) for c in orderly if chaotic.get(c) != orderly[c]}
    assert differ == {}, (
        f"{len(differ)} of {CALLS} escalations ended otherwise under duplicates: {list(differ.items())[:2]}"
    )
    assert set(orderly_busy) == set(chaotic_busy) == {"available"}, (orderly_busy, chaotic_busy)
    assert orderly_errors == chaotic_errors == []
    assert chaotic_sent > orderly_sent, "the events were sent twice"
    print(
        f"\nchaos: {CALLS} calls twice; webhooks sent: orderly {orderly_sent}, duplicated and reordered {chaotic_sent}"
    )
