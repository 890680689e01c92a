"""The what-if replay (docs/what-if.md): a day of escalated calls (telephony/what_if/day.py) played
through the real service and the Twilio simulator on a virtual clock, in a private loopback Redis,
under one policy; returns the escalation records the service kept. Nobody is dialled.

Each caller rings at their recorded time and keys in their account; a stand-in agent (added to a
copy of the policy, enough that no caller waits for an agent: agents are not what the what-if
studies) answers and presses escalate at the recorded moment, with the recorded kind, and
connects once a lead has joined. Each person rung is scripted per call, as the record says they
answered, ring by ring; the person who takes it hangs up after the recorded time busy. Offered a
way out, the caller takes a callback or keeps holding as they did; one who hung up on hold does
so again."""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from sim.people import Person, Reply
from sim.runner import Simulation
from sim.world import TERMINAL, Call, World
from telephony.policy.loading import Policy, load_policy
from telephony.what_if.day import ACCEPTS, CALLBACK_ANSWER_AFTER, NO_ANSWER, Answer, Habits, RecordedCall, habits

CALLBACK_LEAD_PROMPT = "Press 1 to call them now"
LEAD_IN_SECONDS = 60.0  # the caller rings this long before their agent escalates (IVR, agent answers)
CONNECT_AFTER_SECONDS = 15.0  # the agent presses connect this long after the lead joins
AFTER_LAST_CALL = timedelta(hours=30)  # callbacks booked late in the day are made the next morning
MIN_STAND_INS = 4


class ReplayWorld(World):
    """The simulator's Twilio, with each call's people scripted by the replay as they are rung."""

    replay: Replay | None = None

    def _ring(self, call: Call, timeout: int, conference: dict | None) -> None:
        if self.replay is not None and call.status not in TERMINAL:
            self.replay.before_ring(call)
        super()._ring(call, timeout, conference)

    def agent_moment(self, call: Call, moment: str) -> None:
        if self.replay is not None:
            self.replay.agent_moment(call, moment)


def stand_in_agents(calls: list[RecordedCall], policy: Policy) -> int:
    """Enough agents that no caller waits for one: the most calls escalated within any stretch
    of twice the hold limit plus ten minutes, and a few more."""
    stretch = timedelta(seconds=2 * policy.hold.limit_seconds + 600)
    times = [c.escalated_at for c in calls]
    most, low = 0, 0
    for high, at in enumerate(times):
        while times[low] < at - stretch:
            low += 1
        most = max(most, high - low + 1)
    return most + MIN_STAND_INS


def policy_with_stand_ins(policy_file: Path, policy: Policy, count: int, into: Path) -> Path:
    """A copy of the policy file with `count` stand-in agents appended (TOML array of tables)."""
    model = policy.agents()[0] if policy.agents() else None
    lines = [policy_file.read_text(), "\n# what-if stand-in agents (sim/replay.py)\n"]
    for n in range(count):
        lines.append(
            f'[[people]]\nid = "replay-agent-{n}"\nname = "Stand-in agent {n}"\nrole = "agent"\n'
            f'endpoint = "client:replay-agent-{n}"\n'
            + (f'team = "{model.team}"\n' if model and model.team else "")
            + (f'leader = "{model.leader}"\n' if model and model.leader else "")
            + "\n"
        )
    path = into / f"replay-{policy_file.stem}.toml"
    path.write_text("".join(lines))
    return path


@dataclass
class Replay:
    calls: list[RecordedCall]
    policy_file: Path
    data_dir: Path
    seed: int = 1
    sim: Simulation = field(init=False)
    by_caller: dict[str, RecordedCall] = field(default_factory=dict)
    escalation_of: dict[str, str] = field(default_factory=dict)  # caller call sid -> escalation id
    by_escalation: dict[str, RecordedCall] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    rings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (call, person) -> rung so far

    def __post_init__(self) -> None:
        import random

        self.rng = random.Random(self.seed)
        self.habits: Habits = habits(self.calls)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Play every call; returns the records of the escalations created, oldest first."""
        policy = load_policy(self.policy_file)
        self.policy = policy
        calls = sorted(self.calls, key=lambda c: c.escalated_at)
        if not calls:
            return []
        agents = stand_in_agents(calls, policy)
        replay_policy = policy_with_stand_ins(self.policy_file, policy, agents, self.data_dir)
        staff = [
            Person(p.name, p.role, p.endpoint, answer_after=None, id=p.id, token=f"replay-token-{p.id}")
            for p in policy.people
            if p.role != "agent"
        ]
        stand_ins = [
            Person(
                f"Stand-in agent {n}",
                "agent",
                f"client:replay-agent-{n}",
                answer_after=3,
                id=f"replay-agent-{n}",
                token=f"replay-token-agent-{n}",
            )
            for n in range(agents)
        ]
        self.tokens = {p.id: p.token for p in stand_ins}
        start = calls[0].escalated_at - timedelta(seconds=LEAD_IN_SECONDS + 60)
        self.sim = Simulation([*staff, *stand_ins], replay_policy, self.data_dir, start=start, world_class=ReplayWorld)
        logging.getLogger("rq").setLevel(logging.WARNING)
        with self.sim as sim:
            world = sim.world
            assert isinstance(world, ReplayWorld)
            world.replay = self
            for n, call in enumerate(calls):
                caller = self._caller(n, call)
                world.people[caller.endpoint] = caller
                placed = world.incoming_call(caller, after=self._seconds(call.escalated_at) - LEAD_IN_SECONDS)
                self.by_caller[placed.sid] = call
            sim.run_to(self._seconds(calls[-1].escalated_at + AFTER_LAST_CALL))
            self.problems += [f"simulator: {e}" for e in world.errors]
            end = calls[-1].escalated_at + AFTER_LAST_CALL
            return list(sim.core.records.created_between(start.timestamp(), end.timestamp()))

    def _seconds(self, at: datetime) -> float:
        return (at - self.sim.start).total_seconds()

    def _caller(self, n: int, call: RecordedCall) -> Person:
        """The caller's script: the account number, their choice at each offer (spoken, so it
        fits every policy's wording), this number and the first window offered."""
        policy = self.policy
        at_limit, when_busy = (
            "call me back please" if self.habits.choice(made, self.rng) == "callback" else "hold"
            for made in (call.choice, call.busy_choice)
        )
        offers = [
            (policy.hold.offer_prompt, at_limit),
            (policy.callbacks.offer_prompt, when_busy),
            (policy.callbacks.busy_offer_prompt, when_busy),
        ]
        replies = [Reply(f"{call.account}#", heard=policy.ivr.account_prompt[:40])]
        for offer, words in offers:
            heard = offer.split("{")[0][:40]
            replies += [Reply(speech=words, heard=heard) for _ in range(6)]
        replies += [Reply("1", heard="Press 1 to use this number"), Reply("1", heard="When should we call")]
        return Person(f"Caller {n}", "caller", f"+1312555{2000 + n:04d}", answer_after=3, replies=replies)

    # -- the people, scripted per call ------------------------------------------------------------
    def before_ring(self, call: Call) -> None:
        """A staff member is about to be rung: script them as the record says for this call."""
        person = call.person
        if person.role not in ("lead", "supervisor", "manager"):
            return
        query = parse_qs(urlparse(call.url).query)
        if "callback" in query:
            cb = self.sim.core.ctx.store.callback(query["callback"][0]) or {}
            recorded = self.by_escalation.get(cb.get("escalation_id", ""))
            person.answers, person.replies = [CALLBACK_ANSWER_AFTER], [Reply("1", heard=CALLBACK_LEAD_PROMPT)]
            person.hang_up_after = recorded.busy_seconds if recorded else 300.0
            return
        esc_id = (query.get("escalation") or [""])[0]
        recorded = self.by_escalation.get(esc_id)
        if recorded is None:
            person.answers, person.hang_up_after = [None], None
            return
        rung = (esc_id, person.id)
        answer = recorded.ring(person.id, self.rings[rung]) or self._habit(person.id)
        self.rings[rung] += 1
        if answer.does == NO_ANSWER:
            person.answers, person.replies, person.hang_up_after = [None], [], None
            return
        digit = "1" if answer.does == ACCEPTS else "2"
        person.answers = [answer.after]
        person.replies = [Reply(digit, heard=self.policy.announcement.accept_prompt[:40])]
        person.hang_up_after = recorded.busy_seconds if answer.does == ACCEPTS else None

    def _habit(self, person_id: str) -> Answer:
        return self.habits.answer(person_id, self.rng)

    def agent_moment(self, call: Call, moment: str) -> None:
        """A stand-in agent joined their caller (escalate at the recorded moment) or a lead joined
        them (press connect)."""
        leg = self.sim.core.ctx.store.leg(call.sid) or {}
        caller_sid = leg.get("caller", "")
        world = self.sim.world
        if moment == "joined":
            recorded = self.by_caller.get(caller_sid)
            if recorded is not None and caller_sid not in self.escalation_of:
                wait = max(1.0, self._seconds(recorded.escalated_at) - world.now)
                world.at(wait, lambda: self._escalate(call.person, caller_sid, recorded))
        elif moment == "lead_joined" and caller_sid in self.escalation_of:
            esc_id = self.escalation_of[caller_sid]
            world.at(
                CONNECT_AFTER_SECONDS, lambda: self._api(call.person, "POST", f"/api/escalations/{esc_id}/connect", {})
            )

    def _api(self, person: Person, method: str, path: str, body: dict) -> requests.Response:
        return requests.request(
            method, self.sim.base + path, json=body, headers={"Authorization": f"Bearer {person.token}"}, timeout=15
        )

    def _escalate(self, agent: Person, caller_sid: str, recorded: RecordedCall) -> None:
        caller = self.sim.world.calls.get(caller_sid)
        if caller is None or caller.status in TERMINAL or caller_sid in self.escalation_of:
            return
        client = {"name": "Replayed caller", "account": recorded.account}
        client |= {"segment": recorded.segment} if recorded.segment else {}
        client |= {"region": recorded.region} if recorded.region else {}
        response = self._api(
            agent,
            "POST",
            "/api/escalations",
            {
                "call_sid": caller_sid,
                "kind": recorded.kind,
                "reason": "replayed escalation",
                "client": client,
                "caller_agreed_to_hold": True,
                "idempotency_key": f"replay-{caller_sid}",
            },
        )
        if response.status_code != 201:
            self.problems.append(f"escalate {caller_sid}: {response.status_code} {response.text[:200]}")
            return
        esc_id = response.json()["id"]
        self.escalation_of[caller_sid] = esc_id
        self.by_escalation[esc_id] = recorded
        if recorded.patience is not None:
            self.sim.world.at(recorded.patience, lambda: self._give_up(caller, esc_id))

    def _give_up(self, caller: Call, esc_id: str) -> None:
        """The caller hangs up while still waiting for someone (as they did in the record)."""
        esc = self.sim.core.ctx.store.escalation(esc_id) or {}
        if esc.get("state") in ("dialing_lead", "briefing") and caller.status not in TERMINAL:
            self.sim.world.hang_up(caller, "hangs up while holding")


def replay(calls: list[RecordedCall], policy_file: Path, seed: int = 1) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of these calls played under this policy, and what went wrong in the simulator."""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory(prefix="what-if-") as tmp:
        run = Replay(calls, Path(policy_file), Path(tmp), seed=seed)
        records = run.run()
        return records, run.problems


@dataclass(frozen=True)
class Replayed:
    records: list[dict[str, Any]]
    problems: list[str]
    seconds: float


def _timed(calls: list[RecordedCall], policy_file: Path, seed: int) -> Replayed:
    began = time.monotonic()
    records, problems = replay(calls, policy_file, seed=seed)
    return Replayed(records, problems, time.monotonic() - began)


def replay_each(calls: list[RecordedCall], policy_files: dict[str, Path], seed: int = 1) -> dict[str, Replayed]:
    """The same calls under each policy, side by side: one process each (the replays share
    nothing, each has its own Redis), so two take about as long as the slower one."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, len(policy_files)), mp_context=context) as pool:
        futures = {name: pool.submit(_timed, calls, path, seed) for name, path in policy_files.items()}
        return {name: future.result() for name, future in futures.items()}
