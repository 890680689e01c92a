"""Scenarios for the demo and the end-to-end tests. The cast comes from the policy file: its
first agent takes the call, the people of the escalation's tiers are rung in the order the
service will ring them (their scripts are given by that order, so any policy plays), and every
other person does not pick up. Each scenario checks what should have happened."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sim.people import AgentStep, Person, Reply, Talk
from telephony.config import ROOT
from telephony.notify.red_flags import Lexicon
from telephony.policy.loading import Policy, load_policy

DEFAULT_POLICY = ROOT / "policies" / "default.toml"
CALLER = "+13125550142"
CALLER_NAME = "Caller (Pat)"
ACCOUNT = "448812"
CALLBACK_LEAD_PROMPT = "Press 1 to call them now"
DAY = datetime(2026, 11, 24).date()  # a Tuesday


@dataclass
class Scenario:
    name: str
    about: str
    people: list[Person]
    seconds: float
    check: Callable[[object], list[str]]
    start: datetime
    roles: dict[str, str] = field(default_factory=dict)
    policy_file: Path = DEFAULT_POLICY

    @property
    def caller(self) -> Person:
        return next(p for p in self.people if p.role == "caller")


def said(policy_text: str, heard: str) -> bool:
    """Whether `heard` is the policy's text with its {role} filled in (lead, manager, ...)."""
    pattern = re.escape(policy_text).replace(re.escape("{role}"), r"[a-z ]+")
    return re.fullmatch(pattern, heard) is not None


def display_name(person) -> str:
    """'Agent Avery', 'Lead Lee', 'Team Lead': the role first unless the name already says it."""
    role = person.role.title()
    return person.name if role.lower() in person.name.lower() else f"{role} {person.name}"


def opening_time(policy: Policy) -> datetime:
    """Two hours after the organisation opens on the first business day from DAY (R-HOURS-1:
    the scenarios run during hours)."""
    hours = policy.business_hours
    for offset in range(14):
        span = hours.day_span(DAY + timedelta(days=offset))
        if span:
            return min(span[0] + timedelta(hours=2), span[1] - timedelta(hours=1))
    raise ValueError(f"{policy.file}: no business day in two weeks")


@dataclass
class Cast:
    """Who plays whom, for one policy and one escalation kind."""

    policy: Policy
    kind: str = "manager_request"
    client: dict = field(init=False)
    agent: Person = field(init=False)
    hunt: list[Person] = field(init=False)
    staff: dict[str, Person] = field(init=False)

    def __post_init__(self):
        policy = self.policy
        self.staff = {
            p.id: Person(display_name(p), p.role, p.endpoint, answer_after=None, id=p.id, token=f"sim-token-{p.id}")
            for p in policy.people
        }
        self.agent = self.staff[policy.agents()[0].id]
        segment, region = self._routing()
        self.client = {
            "name": "Pat Doe",
            "account": ACCOUNT,
            "link": f"https://crm.example.com/clients/{ACCOUNT}",
            **({"segment": segment} if segment else {}),
            **({"region": region} if region else {}),
        }
        routing = policy.kinds[self.kind]
        order = [p.id for tier in routing.tiers for p in policy.tier_people(self.kind, tier, segment, region)]
        self.hunt = [self.staff[i] for i in dict.fromkeys(order)]

    def _routing(self) -> tuple[str | None, str | None]:
        """The caller's segment and region (R-ESC-6): the ones with the most people to hunt, so a
        'first declines, next accepts' story can play on this policy."""
        segments = [None, *sorted({s for p in self.policy.people for s in p.segments})]
        regions = [None, *sorted({p.region for p in self.policy.people if p.region})]
        agent_region = self.policy.agents()[0].region or None

        def hunt_size(choice):
            segment, region = choice
            tiers = self.policy.kinds[self.kind].tiers
            size = sum(len(self.policy.tier_people(self.kind, t, segment, region)) for t in tiers)
            return min(size, 2), segment is not None, region == agent_region, size

        return max(((s, r) for s in segments for r in regions), key=hunt_size)

    def escalate_body(self) -> dict:
        return {
            "kind": self.kind,
            "reason": "billed twice for equipment and wants a manager",
            "client": self.client,
            "resolution_offered": "a credit on the next bill",
            "caller_agreed_to_hold": True,
            "idempotency_key": f"escalate-{ACCOUNT}",
        }

    def caller(self, *replies: Reply, hang_up_after: float | None = None) -> Person:
        key = Reply(f"{ACCOUNT}#", heard=self.policy.ivr.account_prompt[:40])
        return Person(
            CALLER_NAME, "caller", CALLER, answer_after=3, replies=[key, *replies], hang_up_after=hang_up_after
        )

    def accepts(self, person: Person, after: float = 5, hang_up_after: float | None = 120) -> None:
        person.answers, person.hang_up_after = [after], hang_up_after
        person.replies = [Reply("1", heard=self.policy.announcement.accept_prompt[:40])]

    def declines(self, person: Person, after: float = 6) -> None:
        person.answers = [after]
        person.replies = [Reply("2", heard=self.policy.announcement.accept_prompt[:40])]

    def people(self, caller: Person) -> list[Person]:
        return [caller, *self.staff.values()]


def _timeline(sim) -> tuple[dict | None, list[str]]:
    escalations = sim.escalations()
    if len(escalations) != 1:
        return None, [f"expected one escalation, found {len(escalations)}"]
    return escalations[0], [e["event"] for e in escalations[0]["timeline"]]


def escalation(policy: Policy | None = None) -> Scenario:
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy)
    cast.agent.answer_after = 3
    cast.agent.steps = [
        AgentStep("escalate", "joined", 20, cast.escalate_body()),
        AgentStep("connect", "lead_joined", 15),
    ]
    if len(cast.hunt) >= 2:
        declined, accepted = cast.hunt[0], cast.hunt[1]
        cast.declines(declined)
        story = f"{declined.name} declines; {accepted.name} accepts"
    else:
        declined, accepted = None, cast.hunt[0]
        story = f"{accepted.name} (the only one this policy rings) accepts"
    cast.accepts(accepted)
    caller = cast.caller()
    intro = policy.announcement.intro

    def check(sim) -> list[str]:
        esc, events = _timeline(sim)
        if esc is None:
            return events
        problems = []
        for needed in ("lead_declined", "lead_accepted", "caller_connected")[0 if declined else 1 :]:
            if needed not in events:
                problems.append(f"the timeline has no {needed}: {events}")
        if esc["state"] not in ("connected", "resolved"):
            problems.append(f"the escalation ended {esc['state']}, not connected")
        t = sim.transcript
        announced = t.first(accepted.name, "say", intro)
        heard_caller = t.first(accepted.name, "hears", CALLER_NAME)
        if announced is None or heard_caller is None or announced.at > heard_caller.at:
            problems.append(f"{accepted.name} did not hear the announcement before the caller (R-WARM-1, R-WARM-2)")
        if declined is not None and t.first(declined.name, "hears", CALLER_NAME) is not None:
            problems.append(f"{declined.name} declined but was put through to the caller (R-WARM-1)")
        if heard_caller is not None:
            joined = t.first(CALLER_NAME, "joins")
            longest = t.longest_silence(CALLER_NAME, joined.at if joined else 0, heard_caller.at)
            if longest > 3:
                problems.append(f"the caller sat in silence for {longest:.1f} s while waiting (R-WARM-3)")
        if t.first(cast.agent.name, "leaves") is None:
            problems.append("the agent never left the call (R-WARM-4)")
        return problems

    return Scenario(
        "escalation",
        f"The caller asks for a manager; {cast.agent.name} escalates; {story} and is briefed while the caller "
        "holds; the agent connects and leaves.",
        cast.people(caller),
        600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "accepted": accepted.name}
        | ({"declined": declined.name} if declined else {}),
        policy_file=Path(policy.file),
    )


def agent_drops(policy: Policy | None = None) -> Scenario:
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy)
    cast.agent.answer_after = 3
    cast.agent.steps = [AgentStep("escalate", "joined", 20, cast.escalate_body()), AgentStep("hang_up", "joined", 25)]
    accepted = cast.hunt[0]
    cast.accepts(accepted, after=8)
    caller = cast.caller()

    def check(sim) -> list[str]:
        esc, events = _timeline(sim)
        if esc is None:
            return events
        problems = []
        if "agent_left" not in events:
            problems.append("the agent's leg dropping was not recorded")
        t = sim.transcript
        dropped, hung_up = t.first(cast.agent.name, "hangs up"), t.first(CALLER_NAME, "hangs up")
        with_lead = t.first(CALLER_NAME, "hears", accepted.name)
        if dropped is None:
            problems.append("the agent's leg never dropped")
        elif with_lead is None or (hung_up is not None and hung_up.at < with_lead.at):
            problems.append("the caller was dropped with the agent (R-WARM-5)")
        if esc["state"] not in ("connected", "resolved"):
            problems.append(f"the caller never reached {accepted.name}: {esc['state']}")
        return problems

    return Scenario(
        "agent-drops",
        f"{cast.agent.name} escalates, then their softphone drops while {accepted.name} is being rung; the caller "
        "stays on hold and the lead takes the call (R-WARM-5).",
        cast.people(caller),
        600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "accepted": accepted.name},
        policy_file=Path(policy.file),
    )


CALLBACK_CALL_SECONDS = 90


def callback(policy: Policy | None = None, kind: str = "manager_request") -> Scenario:
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy, kind=kind)
    cast.agent.answer_after = 3
    cast.agent.steps = [AgentStep("escalate", "joined", 20, cast.escalate_body())]
    for person in cast.hunt:
        person.answers, person.answer_after = [None], 4
        person.replies = [Reply("1", heard=CALLBACK_LEAD_PROMPT)]
        person.hang_up_after = CALLBACK_CALL_SECONDS  # the lead and the caller talk, then the lead hangs up
    caller = cast.caller(
        Reply("1", heard=policy.callbacks.offer_prompt[:40]),
        Reply("1", heard="Press 1 to use this number"),
        Reply("2", heard="When should we call"),
    )
    staff = [p.name for p in cast.hunt]

    def check(sim) -> list[str]:
        callbacks = sim.callbacks()
        if len(callbacks) != 1:
            return [f"expected one callback, found {len(callbacks)}"]
        problems = []
        if callbacks[0]["status"] != "completed":
            problems.append(f"the callback is {callbacks[0]['status']}, not completed")
        t = sim.transcript
        if t.first(CALLER_NAME, "say", "We will call you at") is None:
            problems.append("the caller never heard the confirmation")
        caller_rung = t.first(CALLER_NAME, "rings")
        lead_answered = [e for e in t.entries if e.who in staff and e.kind == "answers"]
        if not lead_answered or caller_rung is None or lead_answered[-1].at > caller_rung.at:
            problems.append("the caller was rung before a lead was on the line (R-CB-4)")
        return problems

    return Scenario(
        "callback",
        "Nobody in the tiers answers; the caller takes a callback in a 2-hour window; at the window the worker "
        "rings a lead first, then the caller.",
        cast.people(caller),
        4 * 3600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name},
        policy_file=Path(policy.file),
    )


def hold_limit(policy: Policy | None = None) -> Scenario:
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy)
    cast.agent.answer_after = 3
    cast.agent.steps = [AgentStep("escalate", "joined", 20, cast.escalate_body())]
    accepted = cast.hunt[0]
    cast.accepts(accepted, hang_up_after=3600)
    hold = policy.hold
    caller = cast.caller(
        Reply(speech="call me back please", heard=hold.offer_prompt[:40]),
        Reply("1", heard="Press 1 to use this number"),
        Reply("1", heard="When should we call"),
    )

    def check(sim) -> list[str]:
        problems = []
        t = sim.transcript
        check_ins = [e for e in t.of(CALLER_NAME, "say") if said(hold.check_in_message, e.text)]
        held = next((e for e in t.of(CALLER_NAME, "say") if said(hold.message, e.text)), None)
        if len(check_ins) < 2 or held is None:
            return ["the caller did not hear two check-ins (R-HOLD-2)"]
        gaps = [round(c.at - held.at) for c in check_ins[:2]]
        step = hold.check_in_seconds
        if abs(gaps[0] - step) > 2 or abs(gaps[1] - 2 * step) > 2:
            problems.append(f"check-ins came at {gaps} s, not at {step} and {2 * step} (R-HOLD-2)")
        offer = t.first(CALLER_NAME, "say", hold.offer_prompt)
        if offer is None or abs(offer.at - held.at - hold.limit_seconds) > 2:
            problems.append(f"the caller was not offered a way out at {hold.limit_seconds} s (R-HOLD-3)")
        if not sim.callbacks():
            problems.append("the caller asked for a callback by speech but none was booked")
        return problems

    return Scenario(
        "hold-limit",
        f"{accepted.name} accepts but the agent never connects: the caller hears check-ins every "
        f"{hold.check_in_seconds} s, at {hold.limit_seconds} s is offered to keep holding or a callback, and "
        "says 'call me back'.",
        cast.people(caller),
        900,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "accepted": accepted.name},
        policy_file=Path(policy.file),
    )


def formal_complaint(policy: Policy | None = None) -> Scenario:
    """R-ESC-3: a threat of a formal complaint goes to managers only, never the escalations team."""
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy, kind="formal_complaint")
    cast.agent.answer_after = 3
    body = {**cast.escalate_body(), "reason": "threatens a complaint to the Better Business Bureau"}
    cast.agent.steps = [AgentStep("escalate", "joined", 20, body), AgentStep("connect", "lead_joined", 15)]
    manager = cast.hunt[0]
    cast.accepts(manager)
    caller = cast.caller()
    rung = {p.name for p in cast.hunt}

    def check(sim) -> list[str]:
        esc, events = _timeline(sim)
        if esc is None:
            return events
        problems = []
        t = sim.transcript
        others = [p.name for p in cast.staff.values() if p.role in ("lead", "supervisor") and t.first(p.name, "rings")]
        if others:
            problems.append(f"a formal complaint rang {others}, not managers only (R-ESC-3)")
        if esc["kind"] != "formal_complaint" or policy.person(esc.get("assignee") or "") is None:
            problems.append(f"the complaint was not taken: {esc['state']}")
        elif policy.person(esc["assignee"]).role != "manager":
            problems.append(f"a {policy.person(esc['assignee']).role} took a formal complaint (R-ESC-3)")
        if any(" lead" in text for text in t.heard(CALLER_NAME)[2:]):
            problems.append("the caller heard of a lead while a manager was sought")
        if not any(said(policy.hold.message, e) for e in t.heard(CALLER_NAME)):
            problems.append("the caller never heard the hold message naming the manager")
        if "Escalation type: formal complaint." not in t.heard(manager.name):
            problems.append(f"{manager.name} was not told it is a formal complaint (R-WARM-2)")
        if t.first(CALLER_NAME, "hears", manager.name) is None:
            problems.append(f"the caller never reached {manager.name}")
        if not any(n.get("escalation") == esc["id"] for n in sim.core.ctx.store.notifications()):
            problems.append("the team channel was not told (R-NOTE-1)")
        teams = policy.kinds["formal_complaint"].teams
        managers = sorted(
            p.email for p in policy.people if p.role == "manager" and p.email and (not teams or p.team in teams)
        )
        subject = f"{cast.client['name']} - Formal Complaint"
        mailed = [m for m in sim.emails() if m.message["Subject"] == subject]
        if len(mailed) != 1 or sorted(mailed[0].rcpt_tos) != managers or mailed[0].message["Importance"] != "High":
            problems.append(f"the managers {managers} were not emailed '{subject}' once, urgent (R-NOTE-2)")
        return problems

    return Scenario(
        "formal-complaint",
        f"The caller threatens a formal complaint; {cast.agent.name} escalates it as formal_complaint; only managers "
        f"are rung ({', '.join(sorted(rung))}); {manager.name} accepts, is briefed, and takes the call (R-ESC-3); "
        "the managers get an urgent email (R-NOTE-2).",
        cast.people(caller),
        600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "accepted": manager.name},
        policy_file=Path(policy.file),
    )


def abusive(policy: Policy | None = None) -> Scenario:
    """R-ABUSE-1: warning 1, warning 2 with its consequence, then the action the policy allows: a
    disconnect where it allows one (seed 003), else the transfer to a manager (seed 002: never a
    hang-up; the disconnect is refused)."""
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy, kind="abusive")
    cast.agent.answer_after = 3
    disconnects = "disconnect" in policy.warnings.actions
    steps = [
        AgentStep("warn", "joined", 15, {"warning": 1}),
        AgentStep("warn", "joined", 35, {"warning": 2}),
        AgentStep("act_on_warnings", "joined", 55, {"action": "disconnect"}),
    ]
    manager = cast.hunt[0]
    if not disconnects:
        steps.append(
            AgentStep(
                "act_on_warnings",
                "joined",
                60,
                {"action": "transfer", "reason": "abusive language after two warnings", "client": cast.client},
            )
        )
        steps.append(AgentStep("connect", "lead_joined", 15))
        cast.accepts(manager)
    cast.agent.steps = steps
    caller = cast.caller()

    def check(sim) -> list[str]:
        t = sim.transcript
        pressed = [e.text for e in t.of(cast.agent.name, "softphone")]
        problems = []
        if "warn: 200 warning 1 recorded, next: warning 2" not in pressed or (
            "warn: 200 warning 2 recorded, next: action" not in pressed
        ):
            problems.append(f"the warnings were not recorded in order: {pressed}")
        refused = any(p.startswith("act_on_warnings: 403") for p in pressed)
        if disconnects:
            goodbye = t.first(CALLER_NAME, "say", policy.warnings.disconnect_message)
            ended = t.first(CALLER_NAME, "hangs up", "the service hangs up")
            if goodbye is None or ended is None or ended.at < goodbye.at:
                problems.append("the caller was not told before the call was disconnected")
            if sim.escalations():
                problems.append("a disconnect made an escalation")
            if not any(
                "disconnected an abusive caller" in n.get("text", "") for n in sim.core.ctx.store.notifications()
            ):
                problems.append("the managers were not told of the disconnect")
            return problems
        if not refused:
            problems.append(f"{policy.name} never hangs up, but the disconnect was not refused (R-ESC-4)")
        if t.first(CALLER_NAME, "hangs up", "the service hangs up") is not None:
            problems.append("the service hung up on the caller (R-ESC-4)")
        esc, events = _timeline(sim)
        if esc is None:
            return problems + events
        if esc["kind"] != "abusive" or "warning_protocol" not in events:
            problems.append(f"the transfer is not an abusive escalation with its warnings on the timeline: {events}")
        if t.first(CALLER_NAME, "hears", manager.name) is None:
            problems.append(f"the caller was never transferred to {manager.name}")
        return problems

    outcome = (
        "disconnects the call, as this policy allows; the caller hears why first and the managers are told"
        if disconnects
        else f"tries to disconnect, which {policy.name}'s policy refuses, and transfers the caller to {manager.name}"
    )
    return Scenario(
        "abusive",
        f"The caller is abusive: {cast.agent.name} gives warning 1, then warning 2 with its consequence, then "
        f"{outcome} (R-ABUSE-1).",
        cast.people(caller),
        600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name} | ({} if disconnects else {"accepted": manager.name}),
        policy_file=Path(policy.file),
    )


def listen_in(policy: Policy | None = None) -> Scenario:
    """R-WARM-7: a lead listens in muted, coaches the agent, listens again and leaves; the caller
    never hears them."""
    policy = policy or load_policy(DEFAULT_POLICY)
    cast = Cast(policy)
    cast.agent.answer_after = 3
    listener = next(
        cast.staff[p.id] for role in ("lead", "supervisor", "manager") for p in policy.people if p.role == role
    )
    listener.answers, listener.answer_after = [3], 3
    cast.agent.steps = [
        AgentStep("listen", "joined", 10, by=listener.id),
        AgentStep("coach", "joined", 40, by=listener.id),
        AgentStep("listen", "joined", 70, by=listener.id),
        AgentStep("stop_listening", "joined", 100, by=listener.id),
    ]
    caller = cast.caller(hang_up_after=140)

    def check(sim) -> list[str]:
        t = sim.transcript
        problems = []
        if t.first(listener.name, "joins") is None:
            return [f"{listener.name} never joined the call"]
        if any(listener.name in e.text for e in t.of(CALLER_NAME) if e.kind in ("hears", "voices")):
            problems.append(f"the caller heard {listener.name} (R-WARM-7)")
        if not any(listener.name in e.text for e in t.of(cast.agent.name, "hears")):
            problems.append(f"{cast.agent.name} never heard the coach")
        if t.first(listener.name, "hears", CALLER_NAME) is None:
            problems.append(f"{listener.name} never heard the caller")
        joins = [
            r
            for r in sim.world.rest_log
            if r.path.endswith("/Participants.json") and r.params.get("Label") == ["listener"]
        ]
        if not joins or joins[0].params.get("Beep") != ["false"]:
            problems.append("the listener joined with a beep")
        heard_by_caller = {e.text for e in t.of(CALLER_NAME, "hears")}
        if heard_by_caller != {cast.agent.name}:
            problems.append(f"the caller's line changed while the lead listened: {sorted(heard_by_caller)}")
        return problems

    return Scenario(
        "listen-in",
        f"{listener.name} listens in on {cast.agent.name}'s call muted, then coaches the agent (heard by the agent "
        "only), listens muted again and leaves: the caller never hears them, not even a beep (R-WARM-7).",
        cast.people(caller),
        300,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "listener": listener.name},
        policy_file=Path(policy.file),
    )


# What the caller says, the agent notes and the escalation's reason give in the red-flag scenario,
# for phrases a lexicon may hold (the first that fit are used); phrases with no line here get a
# plain one, so any policy with four phrases plays.
CALLER_LINES = {
    "unacceptable": "Our site went down on election night, and honestly this is unacceptable.",
    "lawyer": "If it is not fixed by Monday morning, my lawyer will contact you. My lawyer is ready.",
    "disappointed": "We are very disappointed in our new website.",
    "attorney": "If it is not fixed by Monday morning, our attorney will contact you.",
}
SAID_AGAIN = {
    "lawyer": "I mean it. You will hear from my lawyer.",
    "unacceptable": "I will say it again: unacceptable.",
    "disappointed": "We are disappointed, plain and simple.",
}
NOTE_LINES = {"going out to bid": "Client says they are going out to bid if this happens again."}
REASON_LINES = {"reconsidering": "client is reconsidering the contract after the outage"}


def _red_flag_lines(lexicon: Lexicon) -> list[tuple[str, str]]:
    """(phrase, words) for the caller's two lines, the agent's note and the escalation's reason,
    each raising exactly one phrase of the lexicon, four different ones."""
    spelled = {p.casefold(): p for p in lexicon.phrases}
    chosen: list[tuple[str, str]] = []

    def pick(lines: dict[str, str], count: int) -> None:
        taken = {p for p, _ in chosen}
        known = [(spelled[k], line) for k, line in lines.items() if k in spelled]
        plain = [(p, f"I have to say it: {p}.") for p in lexicon.phrases]
        for phrase, line in [*known, *plain]:
            if count and phrase not in taken and [h.phrase for h in lexicon.find(line)] == [phrase]:
                chosen.append((phrase, line))
                taken.add(phrase)
                count -= 1

    pick(CALLER_LINES, 2)
    pick(NOTE_LINES, 1)
    pick(REASON_LINES, 1)
    if len(chosen) < 4:
        raise ValueError(f"the red-flag scenario needs four red-flag phrases in the policy, found {len(chosen)}")
    return chosen


def red_flag(policy: Policy | None = None) -> Scenario:
    """R-NOTE-5 (seed 001): the caller, still talking with their agent, says red-flag words; the
    live transcription of their leg raises each at once to the managers, while the call goes on;
    the agent's note and the escalation's reason raise two more; all four are on the escalation's
    timeline, and a phrase said again is told once."""
    policy = policy or load_policy(DEFAULT_POLICY)
    if not policy.red_flags.live_transcription:
        raise ValueError(f"{policy.file} does not listen to live speech: set [red_flags] live_transcription = true")
    (first, first_line), (second, second_line), (noted, note), (reasoned, reason) = _red_flag_lines(
        Lexicon(policy.red_flags.phrases)
    )
    cast = Cast(policy)
    cast.agent.answer_after = 3
    body = {**cast.escalate_body(), "reason": reason}
    cast.agent.steps = [
        AgentStep("note", "joined", 40, {"text": note}),
        AgentStep("escalate", "joined", 55, body),
        AgentStep("connect", "lead_joined", 15),
    ]
    manager = cast.hunt[0]
    cast.accepts(manager)
    caller = cast.caller()
    again = SAID_AGAIN.get(second.casefold(), f"Again: {second}.")
    caller.talk = [Talk(first_line, after=6), Talk(second_line, after=20), Talk(again, after=32)]
    phrases = [first, second, noted, reasoned]

    def check(sim) -> list[str]:
        t = sim.transcript
        problems = []
        notices = [e for e in t.of("notify", "posts") if e.text.startswith("to managers: Red flag")]
        told = [next((e for e in notices if f'"{p}"' in e.text), None) for p in phrases]
        for phrase, notice in zip(phrases, told, strict=True):
            if notice is None:
                problems.append(f'the managers were never told of "{phrase}" (R-NOTE-5)')
        if len(notices) != len(phrases):
            problems.append(f"{len(notices)} red-flag notices for {len(phrases)} phrases: one per phrase per call")
        said = t.first(CALLER_NAME, "says", first_line[:30])
        escalated = t.first(cast.agent.name, "softphone", "presses escalate")
        if told[0] is not None and said is not None:
            talking = [
                e
                for e in t.of(CALLER_NAME, "voices")
                if cast.agent.name in e.text and e.at <= told[0].at <= (e.until or e.at)
            ]
            if not talking or (escalated is not None and told[0].at > escalated.at):
                problems.append("the first red flag was not raised while the caller was still talking with the agent")
        esc, events = _timeline(sim)
        if esc is None:
            return problems + events
        flagged = [e["detail"] for e in esc["timeline"] if e["event"] == "red_flag"]
        for phrase in phrases:
            if not any(d.startswith(f'"{phrase}"') for d in flagged):
                problems.append(f'"{phrase}" is not on the escalation\'s timeline')
        if t.first(CALLER_NAME, "hears", manager.name) is None:
            problems.append(f"the caller never reached {manager.name}")
        return problems

    return Scenario(
        "red-flag",
        f'The caller, talking with {cast.agent.name}, says "{first}" and "{second}": the live transcription of their '
        f'leg tells the managers at once, mid-call; {cast.agent.name} notes "{noted}" and escalates ("{reasoned}"); '
        f"every flag is on the escalation's timeline, each told once (R-NOTE-5).",
        cast.people(caller),
        600,
        check,
        opening_time(policy),
        {"caller": CALLER_NAME, "agent": cast.agent.name, "accepted": manager.name},
        policy_file=Path(policy.file),
    )


SCENARIOS: dict[str, Callable[[Policy | None], Scenario]] = {
    s.__name__.replace("_", "-"): s
    for s in (escalation, agent_drops, callback, hold_limit, formal_complaint, abusive, listen_in, red_flag)
}


def scenario(name: str, policy_file: Path | None = None) -> Scenario:
    return SCENARIOS[name](load_policy(policy_file or DEFAULT_POLICY))
