"""`make demo ARGS="--organisations"` (issue 17): two organisations on one deployment, their
callers ringing at once. Each dials its own organisation's number and hears its own words; each
agent escalates to a lead of their own organisation; each team channel gets its own post. Checked
at the end like every scenario: anything that crossed between the two is a failure."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from sim.runner import Simulation
from sim.scenarios import CALLER_NAME, SCENARIOS
from telephony.policy.loading import load_policy

ROOT = Path(__file__).resolve().parent.parent
PLAYED = (ROOT / "policies" / "default.toml", ROOT / "policies" / "seed-002-customer-loyalty.toml")


def play(fast: bool = True, port: int = 0) -> int:
    policies = [load_policy(f) for f in PLAYED]
    scenarios = [SCENARIOS["escalation"](p) for p in policies]
    callers = []
    people = []
    for n, (policy, scenario) in enumerate(zip(policies, scenarios, strict=True)):
        for person in scenario.people:
            if person.name == CALLER_NAME:
                caller = replace(person, name=f"Caller of {policy.name}", endpoint=f"+1312555014{n + 2}")
                callers.append((policy, caller))
                people.append(caller)
            else:
                people.append(person)
    print("Two organisations on one deployment, their callers ringing at once:")
    for policy, caller in callers:
        print(f"  {caller.endpoint} dials {policy.numbers[0]} ({policy.name}, policy {Path(policy.file).name})")
    print()
    with tempfile.TemporaryDirectory(prefix="escalations-organisations-") as tmp:
        folder = Path(tmp) / "policies"
        folder.mkdir()
        for f in PLAYED:
            shutil.copy(f, folder / f.name)
        sim = Simulation(people, folder, Path(tmp), live=True, speed=None if fast else 1.0, service_port=port,
                         start=scenarios[0].start)
        with sim:
            for n, (policy, caller) in enumerate(callers):
                sim.world.incoming_call(caller, after=1 + n, to=policy.numbers[0])
            sim.run(max(s.seconds for s in scenarios))
            problems = check(sim, callers)
            print()
            for core in sim.served.all():
                for esc in core.warm_transfer.list(None):
                    print(f"{core.policy.name}: escalation {esc['id']} {esc['state']}, taken by {esc['assignee']}")
                for note in core.ctx.store.notifications(0)[:1]:
                    print(f"{core.policy.name}: channel {note.get('to')}: {note.get('text', '').splitlines()[0]}")
    if problems:
        print("\nThe organisations' calls did NOT go as their procedures say:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("\nEach organisation's caller heard its own words and reached its own people.")
    return 0


def check(sim: Simulation, callers) -> list[str]:
    problems = [f"simulator: {e}" for e in sim.world.errors]
    for policy, caller in callers:
        heard = " ".join(line.text for line in sim.transcript.entries if line.who == caller.name and line.kind == "say")
        if policy.ivr.greeting not in heard:
            problems.append(f"{caller.name} never heard {policy.ivr.greeting!r}")
        for other, _ in callers:
            if other is not policy and other.ivr.greeting in heard:
                problems.append(f"{caller.name} heard {other.name}'s greeting")
        core = sim.served.core(policy.organisation_id)
        escalations = core.warm_transfer.list(None) if core else []
        if len(escalations) != 1:
            problems.append(f"{policy.name} has {len(escalations)} escalations, not its caller's one")
        for esc in escalations:
            if esc["state"] not in ("connected", "resolved"):
                problems.append(f"{policy.name}'s escalation ended {esc['state']}")
            if policy.person(esc.get("assignee") or "") is None:
                problems.append(f"{policy.name}'s escalation went to {esc.get('assignee')}, not one of its people")
        if core and not any(n.get("to") == policy.notifications.channel for n in core.ctx.store.notifications(0)):
            problems.append(f"nothing was posted to {policy.name}'s channel {policy.notifications.channel}")
    return problems
