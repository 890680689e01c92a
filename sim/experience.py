"""The caller-experience check (issue 7): read a simulated call's transcript as the people on it
heard it. For every person: the longest silence they sat through (their own turn to press or
speak is not silence); for the caller: time on hold, and from the escalation to the first lead
answering their phone and to a lead on the line with the caller (two different moments: the
first lead rung may decline, issue 35);
how often any one message was repeated and how close together; and every promise that was
false at the moment it was spoken. `make demo` prints it and fails on a problem; the scenario
tests assert it for every scenario and every policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.transcript import AUDIBLE, Entry, Transcript
from telephony.policy.loading import Policy

SILENCE_LIMIT_SECONDS = 3.0
# A person's own turn: a gap that ends with them acting is them thinking, not the service silent.
OWN_TURN = ("presses", "says", "hangs up", "no answer", "declines")
LIMIT_SLACK_SECONDS = 15  # the redirect off hold and the first words of the offer
STAFF_ROLES = ("lead", "supervisor", "manager")


@dataclass
class Experience:
    longest_silence: dict[str, float] = field(default_factory=dict)
    hold_seconds: float | None = None
    # From the escalation: to the first lead (supervisor, manager) answering their phone, whatever
    # they then did; and to the caller hearing one (the reports' escalate-to-lead, R-WARM-1).
    first_lead_answered: tuple[float, str] | None = None
    lead_with_caller: tuple[float, str] | None = None
    repeats: dict[str, tuple[int, float]] = field(default_factory=dict)
    false_promises: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = ["Caller experience:"]
        for who, seconds in self.longest_silence.items():
            out.append(f"  longest silence heard by {who}: {seconds:.1f} s")
        if self.hold_seconds is not None:
            out.append(f"  caller on hold for {self.hold_seconds:.0f} s at a stretch")
        if self.first_lead_answered is not None:
            seconds, who = self.first_lead_answered
            out.append(f"  escalation to the first lead answering their phone: {seconds:.0f} s ({who})")
        if self.lead_with_caller is not None:
            seconds, who = self.lead_with_caller
            out.append(f"  escalation to a lead on the line with the caller: {seconds:.0f} s ({who})")
        elif self.hold_seconds is not None:
            out.append("  no lead came on the line with the caller")
        for text, (count, gap) in self.repeats.items():
            out.append(f'  heard {count} times, at least {gap:.0f} s apart: "{text[:60]}"')
        out.extend(f"  FALSE PROMISE: {p}" for p in self.false_promises)
        return out


def check(transcript: Transcript, people, policy: Policy) -> Experience:
    exp = Experience()
    roles = {p.name: p.role for p in people}
    caller = next((name for name, role in roles.items() if role == "caller"), None)
    for who in roles:
        silence = _longest_silence(transcript, who)
        if silence is not None:
            exp.longest_silence[who] = silence
    if caller:
        _caller_hold(exp, transcript, caller, roles)
        _repeats(exp, transcript, caller, policy)
        _false_promises(exp, transcript, caller, roles, policy)
    if caller and exp.longest_silence.get(caller, 0) > SILENCE_LIMIT_SECONDS:
        exp.problems.append(f"the caller sat in silence for {exp.longest_silence[caller]:.1f} s")
    if exp.hold_seconds is not None and exp.hold_seconds > policy.hold.limit_seconds + LIMIT_SLACK_SECONDS:
        exp.problems.append(
            f"the caller was on hold {exp.hold_seconds:.0f} s, over the {policy.hold.limit_seconds} s limit"
        )
    exp.problems.extend(f"false promise: {p}" for p in exp.false_promises)
    return exp


def _span(e: Entry) -> tuple[float, float]:
    return e.at, e.until if e.until is not None else e.at


def _longest_silence(t: Transcript, who: str) -> float | None:
    """The longest over each of their calls: between hanging up and a callback ringing them they
    are off the phone, not in silence. In order of time: a conversation's `voices` entry is written
    when it ends, after the hang-up that ended it, and belongs to the call before."""
    mine = sorted(t.of(who), key=lambda e: e.at)
    calls: list[list[Entry]] = [[]]
    for e in mine:
        calls[-1].append(e)
        if e.kind == "hangs up":
            calls.append([])
    heard = [s for s in (_longest_silence_on_a_call(call) for call in calls if call) if s is not None]
    return max(heard) if heard else None


def _longest_silence_on_a_call(mine: list[Entry]) -> float | None:
    """From the moment they are on the line (answer or join) to the moment they leave it."""
    start = next((e.at for e in mine if e.kind in ("answers", "joins") or e.kind in AUDIBLE), None)
    end = next((e.at for e in reversed(mine) if e.kind in ("hangs up", "leaves")), None)
    if start is None:
        return None
    end = end if end is not None else max(_span(e)[1] for e in mine)
    spans = sorted(_span(e) for e in mine if e.kind in AUDIBLE)
    turns = sorted(e.at for e in mine if e.kind in OWN_TURN)
    longest, cursor = 0.0, start
    for begin, finish in [*spans, (end, end)]:
        if begin > cursor:
            gap_end = min(begin, end)
            if not any(cursor <= turn <= gap_end + 0.01 for turn in turns):
                longest = max(longest, gap_end - cursor)
        cursor = max(cursor, finish)
        if cursor >= end:
            break
    return round(longest, 2)


def _caller_hold(exp: Experience, t: Transcript, caller: str, roles: dict[str, str]) -> None:
    escalated = next((e for e in t.entries if e.kind == "softphone" and "presses escalate" in e.text), None)
    if escalated is None:
        return
    after = [e for e in t.of(caller) if e.at > escalated.at]
    ends = [e.at for e in after if e.kind in ("leaves", "hangs up")]
    ends += [e.at for e in after if e.kind == "voices"]
    exp.hold_seconds = round((min(ends) if ends else after[-1].at if after else escalated.at) - escalated.at, 1)
    answered = next(
        (e for e in t.entries if e.at > escalated.at and e.kind == "answers" and roles.get(e.who) in STAFF_ROLES),
        None,
    )
    # After the caller's own call ended, a lead is on a callback (R-CB-4), not on that call.
    hung_up = next((e.at for e in after if e.kind == "hangs up"), None)

    def who(name: str, at: float) -> str:
        return f"{name}, on the callback" if hung_up is not None and at > hung_up else name

    if answered is not None:
        exp.first_lead_answered = (round(answered.at - escalated.at, 1), who(answered.who, answered.at))
    staff = [name for name, role in roles.items() if role in STAFF_ROLES]
    for e in t.of(caller, "hears"):
        heard = [name for name in staff if name in e.text.split(", ")]
        if e.at > escalated.at and heard:
            exp.lead_with_caller = (round(e.at - escalated.at, 1), who(heard[0], e.at))
            break


def _repeats(exp: Experience, t: Transcript, caller: str, policy: Policy) -> None:
    said: dict[str, list[float]] = {}
    for e in t.of(caller, "say"):
        said.setdefault(e.text, []).append(e.at)
    for text, times in said.items():
        if len(times) < 2:
            continue
        gap = min(b - a for a, b in zip(times, times[1:], strict=False))
        exp.repeats[text] = (len(times), gap)
        if gap < policy.hold.message_repeat_seconds - 1:
            exp.problems.append(
                f'"{text[:50]}..." repeated {gap:.0f} s apart (policy: {policy.hold.message_repeat_seconds} s)'
            )


def _false_promises(exp: Experience, t: Transcript, caller: str, roles: dict[str, str], policy: Policy) -> None:
    staff = {name for name, role in roles.items() if role in STAFF_ROLES}
    agents = {name for name, role in roles.items() if role == "agent"}
    for e in t.entries:
        begin, end = _span(e)
        if e.kind != "say":
            continue
        if "cannot hear you" in e.text and _hears(t, caller, e.who, begin, end):
            exp.false_promises.append(f'[{_clock(begin)}] {e.who} heard "cannot hear you" while the caller could')
        if e.who == caller and "getting a" in e.text and _accepted_by(t, staff, begin):
            exp.false_promises.append(
                f'[{_clock(begin)}] the caller heard "{e.text[:40]}..." while a lead had accepted'
            )
        if e.who == caller and e.text == policy.ivr.agent_busy_message and _ringing(t, agents, begin):
            exp.false_promises.append(f"[{_clock(begin)}] the caller heard that agents were busy while one was ringing")


def _hears(t: Transcript, listener: str, speaker: str, begin: float, end: float) -> bool:
    return any(
        speaker in e.text and e.at < end and _span(e)[1] > begin
        for e in t.of(listener, "voices")
        if e.until is not None
    )


def _accepted_by(t: Transcript, staff: set[str], at: float) -> bool:
    """A lead pressed 1 before `at` and had not left since."""
    for who in staff:
        accepted = [e.at for e in t.of(who, "presses") if e.text == "1" and e.at < at]
        gone = [e.at for e in t.of(who) if e.kind in ("hangs up", "leaves") and e.at < at]
        if accepted and (not gone or max(gone) < max(accepted)):
            return True
    return False


def _ringing(t: Transcript, agents: set[str], at: float) -> bool:
    for who in agents:
        events = [e for e in t.of(who) if e.kind in ("rings", "answers", "no answer", "hangs up") and e.at <= at]
        if events and events[-1].kind == "rings":
            return True
    return False


def _clock(at: float) -> str:
    minutes, seconds = divmod(int(at), 60)
    return f"{minutes:02d}:{seconds:02d}"
