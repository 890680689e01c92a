"""What every seed policy's scenario suite plays through the simulator: an escalation of a given
kind routed by segment and region, a call after hours, and the checks every call must pass (the
scenario's own, the simulator's, and the caller-experience check of issue 7)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sim.experience import check as experience
from sim.people import AgentStep, Reply
from sim.scenarios import CALLER_NAME, SCENARIOS, Cast, Scenario, opening_time
from telephony.policy.loading import Policy, load_policy
from tests.simulator.test_sim_scenarios import play
from tests.support import ROOT

__all__ = ["CALLER_NAME", "SCENARIOS", "after_hours", "played", "policy_of", "routed"]


def policy_of(name: str) -> Policy:
    return load_policy(ROOT / "policies" / name)


def played(scenario: Scenario, policy: Policy, tmp_path, redis_server):
    """Play the call; it must go as the scenario says, with no simulator error and no caller
    left in silence or told something false."""
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    assert sim.world.errors == []
    heard = experience(sim.transcript, scenario.people, policy)
    assert heard.problems == [], "\n".join(heard.lines())
    return sim


def routed(policy: Policy, kind: str, segment: str | None = None, region: str | None = None, tags=()) -> Scenario:
    """The agent escalates this kind for a caller of this segment and region; the first person
    the policy names for it accepts and the caller is connected (R-ESC-1..6)."""
    cast = Cast(policy, kind=kind)
    cast.client = {k: v for k, v in cast.client.items() if k not in ("segment", "region")}
    cast.client.update({k: v for k, v in (("segment", segment), ("region", region)) if v})
    order = [p.id for tier in policy.kinds[kind].tiers for p in policy.tier_people(kind, tier, segment, region)]
    cast.hunt = [cast.staff[i] for i in dict.fromkeys(order)]
    cast.agent.answer_after = 3
    body = {**cast.escalate_body(), **({"tags": list(tags)} if tags else {})}
    cast.agent.steps = [AgentStep("escalate", "joined", 20, body), AgentStep("connect", "lead_joined", 15)]
    first = cast.hunt[0]
    cast.accepts(first)

    def check(sim) -> list[str]:
        t = sim.transcript
        rung = [e.who for e in t.entries if e.kind == "rings" and e.who != cast.agent.name]
        problems = [] if rung[:1] == [first.name] else [f"{kind}: rang {rung}, not {first.name} first"]
        if t.first(CALLER_NAME, "hears", first.name) is None:
            problems.append(f"{kind}: the caller never reached {first.name}")
        return problems

    return Scenario(
        f"routed-{kind}",
        f"{kind} for segment {segment} region {region}: {first.name} takes it",
        cast.people(cast.caller()),
        600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "first": first.name},
        policy_file=Path(policy.file),
    )


def after_hours(policy: Policy) -> tuple[Scenario, Cast]:
    """An hour after closing: only the people on call are rung (R-HOURS-1); none answers, so the
    caller books a callback, which falls on the next business day (R-CB-3)."""
    cast = Cast(policy)
    cast.agent.answer_after = 3
    cast.agent.steps = [AgentStep("escalate", "joined", 20, cast.escalate_body())]
    closes = policy.business_hours.day_span(opening_time(policy).astimezone(policy.time_zone).date())[1]
    caller = cast.caller(
        Reply("1", heard=policy.callbacks.offer_prompt[:40]),
        Reply("1", heard="Press 1 to use this number"),
        Reply("1", heard="When should we call"),
    )
    on_call = {cast.staff[p.id].name for p in policy.people if p.on_call and p.role != "agent"}

    def check(sim) -> list[str]:
        t = sim.transcript
        rung = {e.who for e in t.entries if e.kind == "rings" and e.who not in (cast.agent.name, CALLER_NAME)}
        problems = [] if rung and rung <= on_call else [f"after hours rang {sorted(rung)}, on call: {sorted(on_call)}"]
        callbacks = sim.callbacks()
        if len(callbacks) != 1:
            return problems + [f"expected one callback, found {len(callbacks)}"]
        opens = policy.business_hours.next_opening(closes + timedelta(minutes=1))
        if datetime.fromisoformat(callbacks[0]["window_start"]) < opens:
            problems.append(f"the callback window {callbacks[0]['window_start']} is before the next opening {opens}")
        return problems

    scenario = Scenario(
        "after-hours",
        "after hours: the on-call people are rung; nobody answers; a callback on the next business day",
        cast.people(caller),
        900,
        check,
        closes + timedelta(hours=1),
        {"caller": CALLER_NAME, "agent": cast.agent.name},
        policy_file=Path(policy.file),
    )
    return scenario, cast
