"""What the reports read of one escalation record (R-NOTE-3), worked out once when the record is
written (issue 30): the kind and tier, the seconds from escalate to a lead, each hold and hold
round, each check-in and how late it was, the callback's outcome, the red flags and when the
managers were told, the emails. The history store keeps these as typed columns and rows beside
the record, so GET /api/reports is SQL aggregates; `telephony/reports/figures.py` reads the same
helpers over the records themselves, so both paths count alike.

Pure: the timeline's events in, plain values out."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from telephony.lifecycle import CallbackStatus

# Events after which a caller is no longer on hold (so is a menu of TO_A_MENU, unless keep_holding follows).
HOLD_ENDS = ("caller_connected", "caller_left", "callback_chosen", "callback_refused", "voicemail_left")
# A hold round starts here; check-ins are due every check_in_seconds from it (R-HOLD-2).
ROUND_STARTS = ("caller_on_hold", "keep_holding")
# The caller leaves hold for a menu (keep holding or a callback); a keep_holding goes on with the hold.
TO_A_MENU = ("hold_limit", "tiers_exhausted", "leads_busy")
CHECK_IN_OFFSET = re.compile(r"on hold ([\d.]+) min")
PHRASE = re.compile(r'"([^"]*)"')
# The service's own suffix, at the very end of the detail (a caller's quoted words come before it).
RAISED_BEFORE = re.compile(r"\(raised at ([\dT:.+-]+), before the escalation\)$")
TOLD_BEFORE = re.compile(r"\(told at ([\dT:.+-]+), before the escalation\)$")
NOT_TAKEN = "not taken"


def _at(event: dict[str, str]) -> datetime:
    return datetime.fromisoformat(event["at"])


def _first(timeline: list[dict[str, str]], names: Iterable[str], after: datetime | None = None) -> datetime | None:
    wanted = set(names)
    for event in timeline:
        if event.get("event") in wanted and (after is None or _at(event) >= after):
            return _at(event)
    return None


def _hold_rounds(timeline: list[dict[str, str]]) -> list[tuple[datetime, datetime | None, str]]:
    """Each round of hold (R-HOLD-2's check-ins count from its start), with what started it: from
    caller_on_hold or a keep_holding to the hold limit's menu, the next round, or the end of the hold."""
    rounds: list[tuple[datetime, datetime | None, str]] = []
    start: tuple[datetime, str] | None = None
    for event in timeline:
        name = event.get("event", "")
        if name in ROUND_STARTS and (name == "caller_on_hold" or start is not None or rounds):
            if start is not None:
                rounds.append((start[0], _at(event), start[1]))
            start = (_at(event), name)
        elif start is not None and (name in TO_A_MENU or name in HOLD_ENDS):
            rounds.append((start[0], _at(event), start[1]))
            start = None
    if start is not None:
        rounds.append((start[0], None, start[1]))
    return rounds


def _holds(rounds: list[tuple[datetime, datetime | None, str]]) -> list[float]:
    """Each hold, caller_on_hold to the end of its last round (keep_holding goes on with it); a
    hold still going, or never ended on the record, is left out."""
    holds: list[tuple[datetime, datetime | None]] = []
    for start, end, started_by in rounds:
        if started_by == "keep_holding" and holds:
            holds[-1] = (holds[-1][0], end)
        else:
            holds.append((start, end))
    return [(end - start).total_seconds() for start, end in holds if end is not None]


def check_ins_due(held: float, check_in_seconds: int, limit: int) -> int:
    """Check-ins a round of `held` seconds was long enough for: every check_in_seconds before the
    limit, strictly before the round ended (R-HOLD-2)."""
    return sum(1 for n in range(1, (limit - 1) // check_in_seconds + 1) if n * check_in_seconds < held)


def _check_ins(
    timeline: list[dict[str, str]], check_in_seconds: int | None, limit: int
) -> tuple[list[float], int | None]:
    """(how late each check-in was against its round's start plus its offset, how many were due)."""
    due: int | None = 0 if check_in_seconds else None
    for _, end, held in _rounds_with_seconds(timeline):
        if check_in_seconds and due is not None and end is not None and held is not None:
            due += check_ins_due(held, check_in_seconds, limit)
    return [late for _, late in _check_in_lateness(timeline)], due


def _rounds_with_seconds(timeline: list[dict[str, str]]) -> list[tuple[datetime, datetime | None, float | None]]:
    return [(s, e, None if e is None else (e - s).total_seconds()) for s, e, _ in _hold_rounds(timeline)]


def _check_in_lateness(timeline: list[dict[str, str]]) -> list[tuple[datetime, float]]:
    """Each check-in made inside a hold round: (when, seconds after its round's start plus its offset)."""
    made: list[tuple[datetime, float]] = []
    for start, end, _ in _hold_rounds(timeline):
        for event in timeline:
            if event.get("event") != "check_in" or not start <= _at(event) < (
                end or datetime.max.replace(tzinfo=start.tzinfo)
            ):
                continue
            offset = CHECK_IN_OFFSET.search(event.get("detail", ""))
            if offset is not None:
                due_at = start + timedelta(seconds=round(float(offset.group(1)) * 60))
                made.append((_at(event), max(0.0, (_at(event) - due_at).total_seconds())))
    return made


def _flag_times(timeline: list[dict[str, str]], name: str, earlier: re.Pattern[str]) -> dict[str, datetime]:
    """Phrase -> when: the event's time, or the earlier time its detail names (before the escalation)."""
    found: dict[str, datetime] = {}
    for event in timeline:
        if event.get("event") != name:
            continue
        detail = event.get("detail", "")
        phrase = PHRASE.match(detail)
        before = earlier.search(detail)
        if phrase is not None and phrase.group(1) not in found:
            try:
                found[phrase.group(1)] = datetime.fromisoformat(before.group(1)) if before else _at(event)
            except ValueError:
                found[phrase.group(1)] = _at(event)
    return found


def callback_outcome(record: dict[str, Any], timeline: list[dict[str, str]]) -> tuple[str | None, datetime | None]:
    """R-CB-1: (in_window / late / given_up / not_yet, or None without a callback; when reached)."""
    if record.get("callback_status") is None:
        return None, None
    reached = _first(timeline, ("callback_connected",))
    if reached is not None and record.get("callback_window_end"):
        late = reached > datetime.fromisoformat(record["callback_window_end"])
        return ("late" if late else "in_window"), reached
    if record.get("callback_status") == CallbackStatus.NO_ANSWER:
        return "given_up", reached
    return "not_yet", reached


def facts(record: dict[str, Any]) -> dict[str, Any]:
    """The record's typed values and rows for the history store (issue 30). Holds, rounds,
    check-ins and red flags are lists of rows; everything else one value."""
    timeline: list[dict[str, str]] = record.get("timeline") or []
    events = Counter(e.get("event") for e in timeline)
    escalated = _first(timeline, ("escalated",))
    connected = _first(timeline, ("caller_connected",), escalated) if escalated is not None else None
    rounds = _hold_rounds(timeline)
    outcome, reached = callback_outcome(record, timeline)
    raised = _flag_times(timeline, "red_flag", RAISED_BEFORE)
    told = _flag_times(timeline, "red_flag_told", TOLD_BEFORE)
    created = datetime.fromisoformat(record["created_at"])
    updated = datetime.fromisoformat(record.get("updated_at") or record["created_at"])
    return {
        "created_at": created,
        "created_day": (record.get("created_at") or "")[:10],
        "updated_at": updated,
        "finished_at": updated if record.get("finished") else None,
        "state": record.get("state") or "",
        "finished": bool(record.get("finished")),
        "kind": record.get("kind") or "unknown",
        "tier": record.get("taken_by_role") or NOT_TAKEN,
        "taken_by": record.get("taken_by") or "",
        "taken_by_role": record.get("taken_by_role") or "",
        "segment": record.get("segment") or "",
        "region": record.get("region") or "",
        "to_lead_seconds": None if connected is None or escalated is None else (connected - escalated).total_seconds(),
        "kept_holding": any(started_by == "keep_holding" for _, _, started_by in rounds),
        "callback_status": record.get("callback_status"),
        "callback_window_start": _when(record.get("callback_window_start")),
        "callback_window_end": _when(record.get("callback_window_end")),
        "callback_attempts": events["callback_attempt"],
        "callback_reached_at": reached,
        "callback_outcome": outcome,
        "callback_overdue": bool(events["callback_overdue"]),
        "emails_sent": events["email_sent"],
        "email_failed_tries": events["email_not_sent"],
        "holds": _holds(rounds),
        "rounds": [
            (start, None if end is None else (end - start).total_seconds(), started_by)
            for start, end, started_by in rounds
        ],
        "check_ins": _check_in_lateness(timeline),
        "red_flags": [
            (phrase, at, told.get(phrase), max(0.0, (told[phrase] - at).total_seconds()) if phrase in told else None)
            for phrase, at in raised.items()
        ],
    }


def _when(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None
