"""The figures of a day range, computed from the escalation records (R-NOTE-3's archive, live
state for escalations not finished yet), so they survive the live keys' expiry. Only what the
records hold: the kind, who took the call (their role is the tier), and the timeline's events."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Forbidden
from telephony.lifecycle import CallbackStatus
from telephony.records.days import day_range
from telephony.records.escalation_record import LEAD_ROLES, Records
from telephony.records.facts import (
    RAISED_BEFORE,
    TOLD_BEFORE,
    _check_ins,
    _first,
    _flag_times,
    _hold_rounds,
    _holds,
    facts,
)

FORMATS = ("json", "csv")
CSV_COLUMNS = ("figure", "requirement", "key", "value")
# A check-in this long after its due time or less is on time (the scheduler's tick and a webhook).
CHECK_IN_GRACE_SECONDS = 10


def _percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _seconds(values: list[float]) -> dict[str, float | None]:
    return {
        "count": len(values),
        "p50": _percentile(values, 0.5),
        "p90": _percentile(values, 0.9),
        "max": max(values) if values else None,
    }


def _taken(records: list[dict[str, Any]], requirement: str) -> dict[str, Any]:
    """Managers-only kinds (R-ESC-3, R-ESC-4): how many, who took them, and any not a manager took."""
    taken_by: Counter[str] = Counter()
    for record in records:
        if record.get("taken_by"):
            taken_by[f"{record['taken_by']} ({record.get('taken_by_role') or 'unknown'})"] += 1
    managers = sum(1 for r in records if r.get("taken_by") and r.get("taken_by_role") == "manager")
    not_taken = sum(1 for r in records if not r.get("taken_by"))
    return {
        "requirement": requirement,
        "count": len(records),
        "taken_by": dict(sorted(taken_by.items())),
        "taken_by_a_manager": managers,
        "taken_by_someone_else": len(records) - managers - not_taken,
        "not_taken": not_taken,
    }


def _distribution(holds: list[float], limit: int) -> dict[str, Any]:
    """Holds in bins of a tenth of the limit up to twice the limit, the last bin everything longer."""
    width = max(1, limit // 10)
    bins = [0] * (2 * limit // width + 1)
    for held in holds:
        bins[min(int(held // width), len(bins) - 1)] += 1
    return {"bin_seconds": width, "counts": bins}


def figures(
    records: Iterable[dict[str, Any]], hold_limit_seconds: int, check_in_seconds: int | None = None
) -> dict[str, Any]:
    """The figures over these records; pure, so tests can reason about it. Without
    check_in_seconds (the policy's interval) check-ins due and missed are not counted."""
    by_kind: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    to_lead: list[float] = []
    to_lead_by_tier: dict[str, list[float]] = {}
    holds: list[float] = []
    over_limit = 0
    before_offer: list[float] = []  # each hold round: on hold until offered a way out, or off hold
    kept_holding = 0
    callbacks = Counter({"booked": 0, "reached_in_window": 0, "reached_late": 0, "given_up": 0})
    by_day: dict[str, Counter[str]] = {}
    overdue: list[str] = []
    lateness: list[float] = []
    due: int | None = 0 if check_in_seconds else None
    managers_only: dict[str, list[dict[str, Any]]] = {"formal_complaint": [], "abusive": []}
    flags_raised = 0
    to_told: list[float] = []
    emails = Counter({"escalations_emailed": 0, "escalations_not_emailed": 0, "sent": 0, "failed_tries": 0})
    count = 0
    for record in records:
        count += 1
        timeline: list[dict[str, str]] = record.get("timeline") or []
        events = Counter(e.get("event") for e in timeline)
        tier = record.get("taken_by_role") or "not taken"
        by_kind[record.get("kind") or "unknown"] += 1
        by_tier[tier] += 1
        escalated = _first(timeline, ("escalated",))
        if escalated is not None:
            connected = _first(timeline, ("caller_connected",), escalated)
            if connected is not None:
                to_lead.append((connected - escalated).total_seconds())
                to_lead_by_tier.setdefault(tier, []).append(to_lead[-1])
        rounds = _hold_rounds(timeline)
        for held in _holds(rounds):
            holds.append(held)
            over_limit += held > hold_limit_seconds
        stretches = [(end - start).total_seconds() for start, end, _ in rounds if end is not None]
        before_offer += stretches
        kept_holding += any(started_by == "keep_holding" for _, _, started_by in rounds)
        late, owed = _check_ins(timeline, check_in_seconds, hold_limit_seconds)
        lateness += late
        if due is not None and owed is not None:
            due += owed
        if record.get("callback_status") is not None:
            callbacks["booked"] += 1
            day = (record.get("created_at") or "")[:10]
            today = by_day.setdefault(day, Counter({"in_window": 0, "late": 0, "given_up": 0, "not_yet": 0}))
            reached = _first(timeline, ("callback_connected",))
            if reached is not None and record.get("callback_window_end"):
                is_late = reached > datetime.fromisoformat(record["callback_window_end"])
                callbacks["reached_late" if is_late else "reached_in_window"] += 1
                today["late" if is_late else "in_window"] += 1
            elif record.get("callback_status") == CallbackStatus.NO_ANSWER:
                callbacks["given_up"] += 1
                today["given_up"] += 1
            else:
                today["not_yet"] += 1
            if events["callback_overdue"]:
                overdue.append(record.get("id", ""))
        if record.get("kind") in managers_only:
            managers_only[record["kind"]].append(record)
        raised = _flag_times(timeline, "red_flag", RAISED_BEFORE)
        told = _flag_times(timeline, "red_flag_told", TOLD_BEFORE)
        flags_raised += len(raised)
        to_told += [max(0.0, (told[p] - at).total_seconds()) for p, at in raised.items() if p in told]
        emails["sent"] += events["email_sent"]
        emails["failed_tries"] += events["email_not_sent"]
        if events["email_sent"]:
            emails["escalations_emailed"] += 1
        elif events["email_not_sent"]:
            emails["escalations_not_emailed"] += 1
    return {
        "escalations": {
            "requirement": "R-NOTE-3",
            "count": count,
            "by_kind": dict(sorted(by_kind.items())),
            "by_tier": dict(sorted(by_tier.items())),
        },
        "escalate_to_lead_seconds": {
            "requirement": "R-WARM-1",
            **_seconds(to_lead),
            "by_tier": {t: _seconds(v) for t, v in sorted(to_lead_by_tier.items())},
        },
        "hold": {
            "requirement": "R-HOLD-3",
            "limit_seconds": hold_limit_seconds,
            "holds": len(holds),
            "over_limit": over_limit,
            "share_over_limit": round(over_limit / len(holds), 4) if holds else None,
            "longest_seconds": max(holds) if holds else None,
            "kept_holding": kept_holding,
            "longest_before_offer_seconds": max(before_offer) if before_offer else None,
            "rounds_over_limit": sum(1 for s in before_offer if s > hold_limit_seconds + CHECK_IN_GRACE_SECONDS),
            "distribution": _distribution(holds, hold_limit_seconds),
        },
        "check_ins": {
            "requirement": "R-HOLD-2",
            "interval_seconds": check_in_seconds,
            "grace_seconds": CHECK_IN_GRACE_SECONDS,
            "made": len(lateness),
            "on_time": sum(1 for s in lateness if s <= CHECK_IN_GRACE_SECONDS),
            "late": sum(1 for s in lateness if s > CHECK_IN_GRACE_SECONDS),
            "latest_seconds": max(lateness) if lateness else None,
            "due": due,
            "missed": None if due is None else max(0, due - len(lateness)),
        },
        "callbacks": {"requirement": "R-CB-1", **callbacks},
        "callbacks_by_day": {
            "requirement": "R-CB-2",
            "days": {d: dict(c) for d, c in sorted(by_day.items())},
        },
        "callbacks_overdue": {"requirement": "R-CB-7", "count": len(overdue), "escalations": overdue},
        "formal_complaints": _taken(managers_only["formal_complaint"], "R-ESC-3"),
        "abusive_calls": _taken(managers_only["abusive"], "R-ESC-4"),
        "red_flags": {
            "requirement": "R-NOTE-5",
            "raised": flags_raised,
            "managers_told": len(to_told),
            "not_told": flags_raised - len(to_told),
            "seconds_to_told": _seconds(to_told),
        },
        "emails": {"requirement": "R-NOTE-2", **emails},
    }


def figures_from_sql(
    agg: dict[str, Any], hold_limit_seconds: int, check_in_seconds: int | None = None
) -> dict[str, Any]:
    """The same figures as `figures`, laid out from the history database's aggregates (issue 30:
    GET /api/reports from SQL); tests/history/test_history_reports.py checks both agree."""
    by_kind: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    for kind, tier, n in agg["kinds_tiers"]:
        by_kind[kind] += n
        by_tier[tier] += n
    to_lead = agg["to_lead"]
    holds, over_limit, longest = agg["holds"]
    width = max(1, hold_limit_seconds // 10)
    bins = [0] * (2 * hold_limit_seconds // width + 1)
    for b, n in agg["hold_bins"]:
        bins[b] += n
    longest_round, rounds_over, due_sql = agg["rounds"]
    due = None if not check_in_seconds else int(due_sql or 0)
    made, on_time, latest = agg["check_ins"]
    callbacks = Counter({"booked": 0, "reached_in_window": 0, "reached_late": 0, "given_up": 0})
    by_day: dict[str, Counter[str]] = {}
    named = {"in_window": "reached_in_window", "late": "reached_late", "given_up": "given_up"}
    for day, outcome, n in agg["callbacks_by_day"]:
        callbacks["booked"] += n
        if outcome in named:
            callbacks[named[outcome]] += n
        today = by_day.setdefault(day, Counter({"in_window": 0, "late": 0, "given_up": 0, "not_yet": 0}))
        today[outcome] += n
    raised, told = agg["red_flags"]
    sent, failed, emailed, not_emailed = agg["emails"]
    return {
        "escalations": {
            "requirement": "R-NOTE-3",
            "count": sum(by_kind.values()),
            "by_kind": dict(sorted(by_kind.items())),
            "by_tier": dict(sorted(by_tier.items())),
        },
        "escalate_to_lead_seconds": {
            "requirement": "R-WARM-1",
            **to_lead[None],
            "by_tier": {t: v for t, v in sorted((t, v) for t, v in to_lead.items() if t is not None)},
        },
        "hold": {
            "requirement": "R-HOLD-3",
            "limit_seconds": hold_limit_seconds,
            "holds": holds,
            "over_limit": over_limit or 0,
            "share_over_limit": round((over_limit or 0) / holds, 4) if holds else None,
            "longest_seconds": longest,
            "kept_holding": agg["kept_holding"] or 0,
            "longest_before_offer_seconds": longest_round,
            "rounds_over_limit": rounds_over or 0,
            "distribution": {"bin_seconds": width, "counts": bins},
        },
        "check_ins": {
            "requirement": "R-HOLD-2",
            "interval_seconds": check_in_seconds,
            "grace_seconds": CHECK_IN_GRACE_SECONDS,
            "made": made,
            "on_time": on_time or 0,
            "late": made - (on_time or 0),
            "latest_seconds": latest,
            "due": due,
            "missed": None if due is None else max(0, due - made),
        },
        "callbacks": {"requirement": "R-CB-1", **callbacks},
        "callbacks_by_day": {
            "requirement": "R-CB-2",
            "days": {d: dict(c) for d, c in sorted(by_day.items())},
        },
        "callbacks_overdue": {"requirement": "R-CB-7", "count": len(agg["overdue"]), "escalations": agg["overdue"]},
        "formal_complaints": _taken_sql(agg["managers_only"], "formal_complaint", "R-ESC-3"),
        "abusive_calls": _taken_sql(agg["managers_only"], "abusive", "R-ESC-4"),
        "red_flags": {
            "requirement": "R-NOTE-5",
            "raised": raised,
            "managers_told": told,
            "not_told": raised - told,
            "seconds_to_told": agg["to_told"][None],
        },
        "emails": {
            "requirement": "R-NOTE-2",
            "escalations_emailed": emailed or 0,
            "escalations_not_emailed": not_emailed or 0,
            "sent": sent or 0,
            "failed_tries": failed or 0,
        },
    }


def _taken_sql(groups: list[tuple[str, str, str, int]], kind: str, requirement: str) -> dict[str, Any]:
    taken_by: Counter[str] = Counter()
    count = managers = not_taken = 0
    for of_kind, by, role, n in groups:
        if of_kind != kind:
            continue
        count += n
        if by:
            taken_by[f"{by} ({role or 'unknown'})"] += n
            managers += n if role == "manager" else 0
        else:
            not_taken += n
    return {
        "requirement": requirement,
        "count": count,
        "taken_by": dict(sorted(taken_by.items())),
        "taken_by_a_manager": managers,
        "taken_by_someone_else": count - managers - not_taken,
        "not_taken": not_taken,
    }


class Reports:
    def __init__(self, ctx: Context, records: Records):
        self.ctx = ctx
        self.records = records

    def report(self, actor: ApiToken, args: dict[str, str]) -> tuple[str, dict[str, Any], str, str]:
        """GET /api/reports: (format, the figures, the figures as CSV text for format=csv, file name). Leads and up; the days are the
        organisation's (policy time zone), both included, at most MAX_RANGE_DAYS."""
        if actor.role not in LEAD_ROLES:
            raise Forbidden("Only leads, supervisors and managers see the reports.", code="role_not_allowed")
        days = day_range(args, self.ctx.policy.time_zone, "Report")
        first, last, fmt, zone, start, end = days.first, days.last, days.fmt, days.zone, days.start, days.end
        hold = self.ctx.policy.hold
        found = self.from_history(start, end, hold.limit_seconds, hold.check_in_seconds)
        body: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(), "time_zone": zone.key, **found}
        name = f"escalation-report-{first.isoformat()}-to-{last.isoformat()}.{fmt}"
        return fmt, body, (as_csv(body) if fmt == "csv" else ""), name

    def from_history(self, start: float, end: float, limit: int, check_in_seconds: int | None) -> dict[str, Any]:
        """The figures as SQL aggregates over the history database (issue 30), counting with them
        the escalations it does not hold yet (still going, or an event not drained yet)."""
        history = self.records.history
        first, last = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        extra = self.records.not_in_history(start, end)
        if extra:
            live = [(esc_id, record, facts(record)) for _, esc_id, record in extra]
            found = history.aggregates_with(first, last, limit, check_in_seconds, live, self.ctx.clock.now())
        else:
            found = history.aggregates(first, last, limit, check_in_seconds)
        return figures_from_sql(found, limit, check_in_seconds)


def rows(body: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """One row per number: (figure, requirement, key, value); nested keys joined with ':'
    (by_kind:manager_request, by_tier:lead:p50, distribution:counts:3)."""
    out: list[tuple[str, str, str, str]] = []
    for figure, values in body.items():
        if not isinstance(values, dict):
            continue
        requirement = str(values.get("requirement", ""))
        for key, value in values.items():
            if key != "requirement":
                out += [(figure, requirement, k, v) for k, v in _flat(key, value)]
    return out


def _flat(key: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flat(f"{key}:{k}", v)]
    if isinstance(value, list):
        return [kv for n, v in enumerate(value) for kv in _flat(f"{key}:{n}", v)]
    return [(key, "" if value is None else str(value))]


def as_csv(body: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows(body))
    return out.getvalue()
