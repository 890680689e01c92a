"""The days a records query asks for (GET /api/records and GET /api/reports): `from` and `to` in
the organisation's time zone, both included, at most MAX_RANGE_DAYS, and the format; checked
before anything is read, so a bad query is a 400 naming its field, never half an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telephony.errors import InvalidRequest

MAX_RANGE_DAYS = 366
FORMATS = ("json", "csv")


@dataclass(frozen=True)
class DayRange:
    """A query's days in the organisation's time zone, both included, as epoch seconds [start,
    end), and the format asked for: what GET /api/records and GET /api/reports both read."""

    first: date
    last: date
    fmt: str
    zone: ZoneInfo
    start: float
    end: float


def day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the days first..last (both included) in this time zone."""
    return datetime.combine(first, time(0), zone), datetime.combine(last + timedelta(days=1), time(0), zone)


def day_range(args: dict[str, str], zone: ZoneInfo, doing: str) -> DayRange:
    """`from`, `to` and `format` checked before anything is read, so a bad query is a 400 naming
    its field; `doing` ("Export", "Report") words the range's limit."""
    first, last = day_arg(args, "from"), day_arg(args, "to")
    if last < first:
        raise InvalidRequest("'to' must be the same day as 'from' or later.", code="invalid_query", field="to")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRequest(f"{doing} at most {MAX_RANGE_DAYS} days at a time.", code="range_too_long", field="to")
    fmt = (args.get("format") or "json").strip().lower()
    if fmt not in FORMATS:
        raise InvalidRequest("'format' must be json or csv.", code="invalid_query", field="format")
    try:
        start, end = (at.timestamp() for at in day_bounds(first, last, zone))
    except OverflowError:
        raise InvalidRequest("'to' is too far from today to hold escalations.", code="invalid_query", field="to") from None
    return DayRange(first, last, fmt, zone, start, end)


def day_arg(args: dict[str, str], field: str) -> date:
    raw = (args.get(field) or "").strip()
    if not raw:
        raise InvalidRequest(f"'{field}' is required (YYYY-MM-DD).", code="missing_field", field=field)
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"'{field}' must be a date, YYYY-MM-DD.", code="invalid_query", field=field) from None


