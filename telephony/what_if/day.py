"""A day of escalated calls as the what-if replays them: when each call was escalated, what the
caller asked for (the kind), how each person rung for it answered, how long the person who took
it was busy, and what the caller chose when offered a callback. Read from the escalation records
(R-NOTE-3), or generated from an arrival rate so a new user can try the replay. Pure: no Redis,
no simulator."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from telephony.lifecycle import EscalationState
from telephony.policy.loading import Policy

# How a person rung for a call answers it.
ACCEPTS, DECLINES, NO_ANSWER = "accepts", "declines", "no_answer"
# The kinds of a generated day, and how often each is asked for (those the policy has).
KIND_SHARES = {
    "manager_request": 0.55,
    "supervisor_demanded": 0.2,
    "no_authority": 0.15,
    "formal_complaint": 0.05,
    "abusive": 0.05,
}
# The replay's lead picks up a callback's ring after this long (sim/replay.py).
CALLBACK_ANSWER_AFTER = 4.0
RINGS_EACH = 3  # a generated call says what each person does the first three times they are rung


@dataclass(frozen=True)
class Answer:
    """What a person does when rung for this call: accepts or declines after `after` seconds
    of ringing, or never picks up."""

    does: str
    after: float = 5.0


@dataclass(frozen=True)
class RecordedCall:
    """One escalated call. `answers`: per person, what they did each time they were rung for it,
    in order (a re-hunt rings a person again; a single Answer is one ring). `busy_seconds`: how
    long the person who took it was on it, from
    answering to hanging up; `choice`: 'callback' or 'hold' when offered a way out at the hold
    limit, `busy_choice` when told every lead is busy or nobody answered;
    `patience`: seconds after the escalation at which the caller hung up, if they did. A record
    whose caller was never offered a way out has no choice (None): the replay then draws one at
    the range's share of callers who took a callback."""

    escalated_at: datetime
    kind: str
    answers: dict[str, tuple[Answer, ...]] = field(default_factory=dict)
    busy_seconds: float = 300.0
    choice: str | None = "callback"
    busy_choice: str | None = "callback"
    patience: float | None = None
    segment: str = ""
    region: str = ""
    account: str = "448812"
    source: str = ""  # the record's escalation id, when replayed from a record

    def __post_init__(self) -> None:
        rings = {p: (a,) if isinstance(a, Answer) else tuple(a) for p, a in self.answers.items()}
        object.__setattr__(self, "answers", rings)

    def ring(self, person_id: str, n: int) -> Answer | None:
        """What the person did the n-th time (from 0) they were rung for this call; None when the
        record has no such ring (a changed policy rings them more often, or at all)."""
        rings = self.answers.get(person_id, ())
        return rings[n] if n < len(rings) else None


@dataclass(frozen=True)
class Habits:
    """Per person, how they answered over the whole range: the fallback for a call they were not
    rung for in the record (a changed policy may ring them)."""

    accept_share: dict[str, float]
    delay: dict[str, float]
    overall_accept: float
    overall_delay: float
    callback_share: float = 0.6

    def answer(self, person_id: str, rng: random.Random) -> Answer:
        share = self.accept_share.get(person_id, self.overall_accept)
        after = self.delay.get(person_id, self.overall_delay)
        return Answer(ACCEPTS, after) if rng.random() < share else Answer(NO_ANSWER)

    def choice(self, made: str | None, rng: random.Random) -> str:
        if made is not None:
            return made
        return "callback" if rng.random() < self.callback_share else "hold"


def _at(event: dict[str, str]) -> datetime:
    return datetime.fromisoformat(event["at"])


def _first(
    timeline: list[dict[str, str]], names: tuple[str, ...], after: datetime | None = None
) -> dict[str, str] | None:
    for event in timeline:
        if event.get("event") in names and (after is None or _at(event) >= after):
            return event
    return None


def _answers(timeline: list[dict[str, str]], ids_by_name: dict[str, str]) -> dict[str, tuple[Answer, ...]]:
    """Who was rung and what they did each time, in order: a ring is a `dialing_lead`, its answer
    the accept or decline that follows it (after how long it rang until picked up), else none."""
    rings: dict[str, list[Answer]] = {}
    ringing: dict[str, datetime] = {}
    picked: dict[str, datetime] = {}
    for event in timeline:
        name, detail = event.get("event", ""), event.get("detail", "")
        if name == EscalationState.DIALING_LEAD:
            person = ids_by_name.get(detail.rsplit(" (", 1)[0])
            if person:
                ringing[person] = _at(event)
                picked.pop(person, None)
                rings.setdefault(person, []).append(Answer(NO_ANSWER))
        elif name == "lead_answered" and detail in ids_by_name:
            picked[ids_by_name[detail]] = _at(event)
        elif name in ("lead_accepted", "lead_declined") and ids_by_name.get(detail) in rings:
            person = ids_by_name[detail]
            start = ringing.get(person)
            after = (picked.get(person, _at(event)) - start).total_seconds() if start else 5.0
            does = ACCEPTS if name == "lead_accepted" else DECLINES
            rings[person][-1] = Answer(does, max(1.0, round(after, 1)))
    return {person: tuple(answers) for person, answers in rings.items()}


def call_from_record(record: dict[str, Any], policy: Policy) -> RecordedCall | None:
    """A record as a call to replay; None for one that never escalated (no timeline)."""
    timeline: list[dict[str, str]] = record.get("timeline") or []
    escalated = _first(timeline, ("escalated",))
    if escalated is None or not record.get("kind"):
        return None
    ids_by_name: dict[str, str] = {}
    for person in policy.people:
        ids_by_name.setdefault(person.name, person.id)
    start = _at(escalated)
    busy = 300.0
    taker = record.get("taken_by") or ""
    answered = next(
        (e for e in timeline if e.get("event") == "lead_answered" and e.get("detail") == taker and taker), None
    )
    callback_rung = _first(timeline, ("callback_dialing_lead",))
    callback_ended = _first(timeline, ("callback_ended",), _at(callback_rung)) if callback_rung else None
    if callback_rung is not None and callback_ended is not None:
        # Taken on the callback (a live answer before it was not a take): the lead answers
        # CALLBACK_ANSWER_AFTER seconds into its ring.
        busy = max(1.0, (_at(callback_ended) - _at(callback_rung)).total_seconds() - CALLBACK_ANSWER_AFTER)
    elif answered is not None:
        ended = _first(timeline, ("lead_left", "caller_left", "callback_ended"), _at(answered))
        if ended is not None:
            busy = max(1.0, (_at(ended) - _at(answered)).total_seconds())
    patience = None
    if record.get("state") == EscalationState.ABANDONED:
        left = _first(timeline, ("caller_left",), start)
        if left is not None:
            patience = max(1.0, (_at(left) - start).total_seconds())
    return RecordedCall(
        escalated_at=start,
        kind=str(record["kind"]),
        answers=_answers(timeline, ids_by_name),
        busy_seconds=busy,
        choice=_choice(timeline, ("hold_limit",)),
        busy_choice=_choice(timeline, ("leads_busy", "tiers_exhausted")),
        patience=patience,
        segment=record.get("segment") or "",
        region=record.get("region") or "",
        account=record.get("account") or "448812",
        source=str(record.get("id", "")),
    )


def _choice(timeline: list[dict[str, str]], offers: tuple[str, ...]) -> str | None:
    """What the caller chose the first time they were made one of these offers (None: never made)."""
    offered = False
    for event in timeline:
        name = event.get("event")
        if name in offers:
            offered = True
        elif offered and name in ("callback_chosen", EscalationState.CALLBACK_SCHEDULED):
            return "callback"
        elif offered and name in ("keep_holding", "callback_refused"):
            return "hold"
    return None


def calls_from_records(records: Iterable[dict[str, Any]], policy: Policy) -> list[RecordedCall]:
    calls = [c for c in (call_from_record(r, policy) for r in records) if c is not None]
    return sorted(calls, key=lambda c: c.escalated_at)


def habits(calls: list[RecordedCall]) -> Habits:
    """How each person answered when rung, over these calls (a generated day's defaults when none)."""
    rung: dict[str, list[Answer]] = {}
    for call in calls:
        for person, answers in call.answers.items():
            rung.setdefault(person, []).extend(answers)
    every = [a for answers in rung.values() for a in answers]
    accepted = [a.after for a in every if a.does == ACCEPTS]
    chose = [c for call in calls for c in (call.choice, call.busy_choice) if c is not None]
    return Habits(
        accept_share={p: sum(a.does == ACCEPTS for a in answers) / len(answers) for p, answers in rung.items()},
        delay={p: median([a.after for a in answers if a.does == ACCEPTS] or [6.0]) for p, answers in rung.items()},
        overall_accept=(len(accepted) / len(every)) if every else 0.7,
        overall_delay=median(accepted) if accepted else 6.0,
        callback_share=(chose.count("callback") / len(chose)) if chose else 0.6,
    )


def _generated_ring(rng: random.Random) -> Answer:
    roll = rng.random()
    does = ACCEPTS if roll < 0.7 else DECLINES if roll < 0.8 else NO_ANSWER
    return Answer(does, round(rng.uniform(3, 12), 1))


def generated_day(policy: Policy, first: date, last: date, calls_per_hour: float, seed: int = 1) -> list[RecordedCall]:
    """Calls arriving at random (a Poisson process at `calls_per_hour`) during the policy's
    business hours of each day in [first, last]; seeded, so the same arguments give the same day.
    Each person picks up 70% of the times they are rung, after 3-12 s (declines 10%); the person
    who takes a call is busy 3-10 minutes; 60% of callers take a callback at the hold limit, 40%
    when told every lead is busy, and 8% hang up while holding."""
    rng = random.Random(seed)
    kinds = [k for k in KIND_SHARES if k in policy.kinds] or sorted(policy.kinds)
    shares = [KIND_SHARES.get(k, 1.0) for k in kinds]
    staff = [p.id for p in policy.people if p.role != "agent"]
    calls: list[RecordedCall] = []
    day = first
    while day <= last:
        span = policy.business_hours.day_span(day)
        if span and calls_per_hour > 0:
            at, close = span[0], span[1]
            while True:
                at += timedelta(seconds=rng.expovariate(calls_per_hour / 3600.0))
                if at >= close:
                    break
                answers = {person: tuple(_generated_ring(rng) for _ in range(RINGS_EACH)) for person in staff}
                calls.append(
                    RecordedCall(
                        escalated_at=at.replace(microsecond=0),
                        kind=rng.choices(kinds, shares)[0],
                        answers=answers,
                        busy_seconds=round(rng.uniform(180, 600)),
                        choice="callback" if rng.random() < 0.6 else "hold",
                        busy_choice="callback" if rng.random() < 0.4 else "hold",
                        patience=round(rng.uniform(60, 420)) if rng.random() < 0.08 else None,
                        account=f"{rng.randrange(10**5, 10**6)}",
                    )
                )
        day += timedelta(days=1)
    return calls
