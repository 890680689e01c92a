"""The figures of a day range, computed from the escalation records (R-NOTE-3's archive, live
state for escalations not finished yet), so they survive the live keys' expiry. Only what the
records hold: the kind, who took the call (their role is the tier), and the timeline's events."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Forbidden, InvalidRequest
from telephony.records.escalation_record import LEAD_ROLES, MAX_RANGE_DAYS, Records, day_arg

FORMATS = ("json", "csv")
# Events after which a caller is no longer on hold (the first one after caller_on_hold ends it).
HOLD_ENDS = ("caller_connected", "caller_left", "callback_chosen", "callback_refused", "voicemail_left")
CSV_COLUMNS = ("figure", "requirement", "key", "value")


def _at(event: dict[str, str]) -> datetime:
    return datetime.fromisoformat(event["at"])


def _first(timeline: list[dict[str, str]], names: Iterable[str], after: datetime | None = None) -> datetime | None:
    wanted = set(names)
    for event in timeline:
        if event.get("event") in wanted and (after is None or _at(event) >= after):
            return _at(event)
    return None


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


def figures(records: Iterable[dict[str, Any]], hold_limit_seconds: int) -> dict[str, Any]:
    """The figures over these records; pure, so tests can reason about it."""
    by_kind: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    to_lead: list[float] = []
    holds: list[float] = []
    over_limit = 0
    callbacks = Counter({"booked": 0, "reached_in_window": 0, "reached_late": 0, "given_up": 0})
    count = 0
    for record in records:
        count += 1
        timeline: list[dict[str, str]] = record.get("timeline") or []
        by_kind[record.get("kind") or "unknown"] += 1
        by_tier[record.get("taken_by_role") or "not taken"] += 1
        escalated = _first(timeline, ("escalated",))
        if escalated is not None:
            connected = _first(timeline, ("caller_connected",), escalated)
            if connected is not None:
                to_lead.append((connected - escalated).total_seconds())
        on_hold = _first(timeline, ("caller_on_hold",))
        if on_hold is not None:
            ended = _first(timeline, HOLD_ENDS, on_hold)
            if ended is not None:
                held = (ended - on_hold).total_seconds()
                holds.append(held)
                over_limit += held > hold_limit_seconds
        if record.get("callback_status") is not None:
            callbacks["booked"] += 1
            reached = _first(timeline, ("callback_connected",))
            if reached is not None and record.get("callback_window_end"):
                late = reached > datetime.fromisoformat(record["callback_window_end"])
                callbacks["reached_late" if late else "reached_in_window"] += 1
            elif record.get("callback_status") == "no_answer":
                callbacks["given_up"] += 1
    return {
        "escalations": {
            "requirement": "R-NOTE-3",
            "count": count,
            "by_kind": dict(sorted(by_kind.items())),
            "by_tier": dict(sorted(by_tier.items())),
        },
        "escalate_to_lead_seconds": {"requirement": "R-WARM-1", **_seconds(to_lead)},
        "hold": {
            "requirement": "R-HOLD-3",
            "limit_seconds": hold_limit_seconds,
            "holds": len(holds),
            "over_limit": over_limit,
            "share_over_limit": round(over_limit / len(holds), 4) if holds else None,
            "longest_seconds": max(holds) if holds else None,
        },
        "callbacks": {"requirement": "R-CB-1", **callbacks},
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
        first, last = day_arg(args, "from"), day_arg(args, "to")
        if last < first:
            raise InvalidRequest("'to' must be the same day as 'from' or later.", code="invalid_query", field="to")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise InvalidRequest(f"Report at most {MAX_RANGE_DAYS} days at a time.", code="range_too_long", field="to")
        fmt = (args.get("format") or "json").strip().lower()
        if fmt not in FORMATS:
            raise InvalidRequest("'format' must be json or csv.", code="invalid_query", field="format")
        zone = self.ctx.policy.time_zone
        try:
            start = datetime.combine(first, time(0), zone).timestamp()
            end = datetime.combine(last + timedelta(days=1), time(0), zone).timestamp()
        except OverflowError:
            raise InvalidRequest("'to' is too far from today.", code="invalid_query", field="to") from None
        found = figures(self.records.created_between(start, end), self.ctx.policy.hold.limit_seconds)
        body: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(), "time_zone": zone.key, **found}
        name = f"escalation-report-{first.isoformat()}-to-{last.isoformat()}.{fmt}"
        return fmt, body, (as_csv(body) if fmt == "csv" else ""), name


def rows(body: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """One row per number: (figure, requirement, key, value); by_kind/by_tier as kind:<k>, tier:<t>."""
    out: list[tuple[str, str, str, str]] = []
    for figure, values in body.items():
        if not isinstance(values, dict):
            continue
        requirement = str(values.get("requirement", ""))
        for key, value in values.items():
            if key == "requirement":
                continue
            if isinstance(value, dict):
                out += [(figure, requirement, f"{key}:{k}", str(v)) for k, v in value.items()]
            else:
                out.append((figure, requirement, key, "" if value is None else str(value)))
    return out


def as_csv(body: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows(body))
    return out.getvalue()
