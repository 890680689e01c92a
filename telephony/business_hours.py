"""Business hours, holidays and callback windows (R-CB-2, R-CB-3, R-CB-7, R-HOURS-1..2).
Pure functions of the policy and a moment in time; DST-correct through zoneinfo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_SEARCH_DAYS = 400


@dataclass(frozen=True)
class Window:
    """A callback window: start inclusive, end exclusive, aware datetimes in UTC."""

    start: datetime
    end: datetime


@lru_cache(maxsize=64)
def _calendar(country: str, subdivision: str, year: int):
    return holiday_calendars.country_holidays(country, subdiv=subdivision or None, years=year)


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    opening: dict[int, tuple[time, time]]
    holiday_country: str = ""
    holiday_subdivision: str = ""
    extra_holidays: frozenset[date] = frozenset()

    def __hash__(self) -> int:
        return hash((str(self.zone), tuple(sorted(self.opening.items())), self.holiday_country, self.extra_holidays))

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return bool(self.holiday_country) and day in _calendar(self.holiday_country, self.holiday_subdivision, day.year)

    def day_span(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing of a local calendar day, in UTC; None when closed."""
        hours = self.opening.get(day.weekday())
        if hours is None or self.is_holiday(day):
            return None
        opens = datetime.combine(day, hours[0], self.zone).astimezone(UTC)
        closes = datetime.combine(day, hours[1], self.zone).astimezone(UTC)
        return opens, closes

    def is_open(self, at: datetime) -> bool:
        span = self.day_span(at.astimezone(self.zone).date())
        return bool(span and span[0] <= at < span[1])

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself while open, else the next opening instant (UTC)."""
        day = at.astimezone(self.zone).date()
        for offset in range(_SEARCH_DAYS):
            span = self.day_span(day + timedelta(days=offset))
            if span and at < span[1]:
                return max(at.astimezone(UTC), span[0])
        raise ValueError("no business day within a year: check the policy's business_hours")

    def close_of_business(self, at: datetime) -> datetime:
        """The close of the business day that is open at `at`, or of the next one."""
        opening = self.next_opening(at)
        span = self.day_span(opening.astimezone(self.zone).date())
        assert span is not None
        return span[1]


def parse_business_hours(table: Any, file: str, key_prefix: str = "business_hours") -> BusinessHours:
    from telephony.policy import PolicyError

    def fail(key: str, reason: str) -> PolicyError:
        return PolicyError(file, f"{key_prefix}.{key}" if key else key_prefix, reason)

    if not isinstance(table, dict) or not table:
        raise fail("", 'missing table: give time_zone and days (e.g. mon = "08:00-17:00")')
    zone_name = table.get("time_zone")
    if not isinstance(zone_name, str):
        raise fail("time_zone", "missing: an IANA time zone such as America/Chicago")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("time_zone", f"unknown time zone {zone_name!r}") from None
    days = table.get("days")
    if not isinstance(days, dict) or not days:
        raise fail("days", 'must be a table such as { mon = "08:00-17:00" }')
    opening: dict[int, tuple[time, time]] = {}
    for name, span in days.items():
        if name not in DAYS:
            raise fail(f"days.{name}", f"unknown day; days are {', '.join(DAYS)}")
        match = _SPAN.match(span) if isinstance(span, str) else None
        if not match:
            raise fail(f"days.{name}", "must be HH:MM-HH:MM, e.g. 08:00-17:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise fail(f"days.{name}", f"{span!r} is not a time of day")
        opens, closes = time(h1, m1), time(h2, m2)
        if closes <= opens:
            raise fail(f"days.{name}", "closing must be after opening")
        opening[DAYS.index(name)] = (opens, closes)
    country = table.get("holidays", "")
    subdivision = table.get("holiday_subdivision", "")
    if not isinstance(country, str) or not isinstance(subdivision, str):
        raise fail("holidays", 'must be a country code such as "US"')
    if country:
        try:
            _calendar(country, subdivision, 2026)
        except NotImplementedError:
            raise fail(
                "holidays" if not subdivision else "holiday_subdivision",
                f"no holiday calendar for {country!r} {subdivision!r}",
            ) from None
    extras = table.get("extra_holidays", [])
    if not isinstance(extras, list):
        raise fail("extra_holidays", 'must be a list of dates ("2026-12-24")')
    extra: set[date] = set()
    for i, value in enumerate(extras):
        try:
            extra.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
        except ValueError:
            raise fail(f"extra_holidays[{i}]", f"{value!r} is not a date (YYYY-MM-DD)") from None
    return BusinessHours(zone, opening, country, subdivision, frozenset(extra))


def _next_local_hour(at: datetime, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone)
    if local.minute or local.second or local.microsecond:
        local = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return local.astimezone(UTC)


def callback_slots(
    hours: BusinessHours, now: datetime, *, length_minutes: int = 120, count: int = 3, earliest_minutes: int = 15
) -> list[Window]:
    """The next windows a caller can pick (R-CB-2): on the hour, each inside one business day,
    back to back; after hours, weekends and holidays they start at the next opening (R-CB-3)."""
    length = timedelta(minutes=length_minutes)
    at = _next_local_hour(now + timedelta(minutes=earliest_minutes), hours.zone)
    slots: list[Window] = []
    while len(slots) < count:
        start = hours.next_opening(at)
        start = _next_local_hour(start, hours.zone) if start.astimezone(hours.zone).minute else start
        closes = hours.close_of_business(start)
        if start + length <= closes:
            slots.append(Window(start, start + length))
            at = start + length
        else:
            at = closes
    return slots


def asap_window(hours: BusinessHours, now: datetime, *, length_minutes: int = 120) -> Window:
    """ "As soon as someone is available": from now (or the next opening) for the window length,
    never past closing."""
    start = hours.next_opening(now)
    return Window(start, min(start + timedelta(minutes=length_minutes), hours.close_of_business(start)))


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {suffix}" if moment.minute else f"{hour} {suffix}"


def speak_window(window: Window, zone: ZoneInfo, now: datetime) -> str:
    """How the caller hears a window, in their time zone: "today between 2 PM and 4 PM"."""
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    today = now.astimezone(zone).date()
    if start.date() == today:
        day = "today"
    elif start.date() == today + timedelta(days=1):
        day = "tomorrow"
    else:
        day = f"on {start:%A, %B} {start.day},"
    return f"{day} between {_clock(start)} and {_clock(end)}"


def deadline(hours: BusinessHours, requested_at: datetime, rule: str) -> datetime:
    """R-CB-7: by when a callback must be made: 24 hours, or the end of the business day."""
    if rule == "24h":
        return requested_at + timedelta(hours=24)
    if rule == "end_of_business_day":
        return hours.close_of_business(requested_at)
    raise ValueError(f"unknown deadline rule {rule!r}")
