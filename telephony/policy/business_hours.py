"""Business hours, holidays and callback windows (R-CB-2, R-CB-3, R-CB-7, R-HOURS-1..2).

Pure functions of the policy and a moment in time, no I/O. Every instant handed back is an aware
datetime in UTC; all arithmetic on durations is done in UTC (real elapsed time) and local wall-clock
times are only used to decide *where* the hours, days and opening times fall, through zoneinfo, so
the US spring-forward and fall-back days come out right."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars

from telephony.policy.errors import PolicyError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KEYS = ("time_zone", "days", "holidays", "holiday_subdivision", "extra_holidays")
DEADLINE_RULES = ("24h", "end_of_business_day")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SEARCH_DAYS = 400
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got naive {at!r}")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """A callback window (R-CB-2): start inclusive, end exclusive, aware datetimes in UTC."""

    start: datetime
    end: datetime


@lru_cache(maxsize=64)
def _calendar(country: str, subdivision: str, year: int) -> Any:
    return holiday_calendars.country_holidays(country, subdiv=subdivision or None, years=year)


@dataclass(frozen=True)
class BusinessHours:
    """When the organisation is open (R-CB-3, R-HOURS-1): opening hours per weekday in the
    policy's time zone, minus public holidays and the policy's own days off."""

    zone: ZoneInfo
    opening: dict[int, tuple[time, time]]  # weekday (Mon=0) -> (open, close), local; missing = closed
    holiday_country: str = ""
    holiday_subdivision: str = ""
    extra_holidays: frozenset[date] = frozenset()

    def __hash__(self) -> int:
        return hash(
            (
                str(self.zone),
                tuple(sorted(self.opening.items())),
                self.holiday_country,
                self.holiday_subdivision,
                self.extra_holidays,
            )
        )

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        if not self.holiday_country:
            return False
        return day in _calendar(self.holiday_country, self.holiday_subdivision, day.year)

    def day_span(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing instants (UTC) of a local calendar day; None when closed."""
        hours = self.opening.get(day.weekday())
        if hours is None or self.is_holiday(day):
            return None
        opens = datetime.combine(day, hours[0], self.zone).astimezone(UTC)
        closes = datetime.combine(day, hours[1], self.zone).astimezone(UTC)
        return opens, closes

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        span = self.day_span(at.astimezone(self.zone).date())
        return bool(span and span[0] <= at < span[1])

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself (in UTC) while open, else the next opening instant (UTC)."""
        at = _utc(at)
        day = at.astimezone(self.zone).date()
        for offset in range(_SEARCH_DAYS):
            span = self.day_span(day + timedelta(days=offset))
            if span and at < span[1]:
                return max(at, span[0])
        raise ValueError("no business day within a year: check the policy's business_hours")

    def close_of_business(self, at: datetime) -> datetime:
        """The "by end of business day" deadline (R-CB-7, R-HOURS-2): the close of the business
        day open at `at`, or, after hours, of the next business day (UTC)."""
        opening = self.next_opening(at)
        span = self.day_span(opening.astimezone(self.zone).date())
        assert span is not None
        return span[1]


def parse_business_hours(table: Any, file: str, key_prefix: str = "business_hours") -> BusinessHours:
    """Read and validate a policy's [business_hours] table; a mistake raises PolicyError naming
    the file and the dotted key (e.g. business_hours.days.mon)."""

    def fail(key: str, reason: str) -> PolicyError:
        return PolicyError(file, f"{key_prefix}.{key}" if key else key_prefix, reason)

    if not isinstance(table, dict) or not table:
        raise fail("", 'missing table: give time_zone and days (e.g. mon = "08:00-17:00")')
    for key in table:
        if key not in KEYS:
            raise fail(str(key), f"unknown key; keys are {', '.join(KEYS)}")

    zone_name = table.get("time_zone")
    if not isinstance(zone_name, str) or not zone_name:
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
            raise fail(f"days.{name}", f"must be HH:MM-HH:MM, e.g. 08:00-17:00, got {span!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise fail(f"days.{name}", f"{span!r} is not a time of day")
        opens, closes = time(h1, m1), time(h2, m2)
        if closes <= opens:
            raise fail(f"days.{name}", f"closing must be after opening, got {span!r}")
        opening[DAYS.index(name)] = (opens, closes)

    country = table.get("holidays", "")
    subdivision = table.get("holiday_subdivision", "")
    if not isinstance(country, str):
        raise fail("holidays", 'must be a country code such as "US"')
    if not isinstance(subdivision, str):
        raise fail("holiday_subdivision", 'must be a subdivision code such as "IL"')
    if subdivision and not country:
        raise fail("holiday_subdivision", "needs a holidays country code")
    if country:
        try:
            _calendar(country, "", date.today().year)
        except NotImplementedError:
            raise fail("holidays", f"no holiday calendar for country {country!r} (codes are like 'US')") from None
        if subdivision:
            try:
                _calendar(country, subdivision, date.today().year)
            except NotImplementedError:
                raise fail("holiday_subdivision", f"{country!r} has no subdivision {subdivision!r}") from None

    extras = table.get("extra_holidays", [])
    if not isinstance(extras, list):
        raise fail("extra_holidays", 'must be a list of dates ("2026-12-24")')
    extra: set[date] = set()
    for i, value in enumerate(extras):
        if isinstance(value, datetime):
            raise fail(f"extra_holidays[{i}]", f"{value!r} is a date and time; give a date (YYYY-MM-DD)")
        if isinstance(value, date):
            extra.add(value)
            continue
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            extra.add(date.fromisoformat(value))
        except ValueError:
            raise fail(f"extra_holidays[{i}]", f"{value!r} is not a date (YYYY-MM-DD)") from None
    return BusinessHours(zone, opening, country, subdivision, frozenset(extra))


def _next_local_hour(at: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at or after `at` that is a full hour on the local clock (UTC). Done in
    real time, so 01:30 CDT on the fall-back day rounds to 01:00 CST, not to 02:00 CST."""
    at = _utc(at)
    local = at.astimezone(zone)
    if not (local.minute or local.second or local.microsecond):
        return at
    return at + timedelta(minutes=60 - local.minute, seconds=-local.second, microseconds=-local.microsecond)


def callback_slots(
    hours: BusinessHours, now: datetime, *, length_minutes: int = 120, count: int = 3, earliest_minutes: int = 15
) -> list[Window]:
    """The next `count` windows a caller can pick (R-CB-2): each starts on a local full hour no
    earlier than now + earliest_minutes, lasts length_minutes and fits inside one business day;
    windows follow each other back to back; after hours, on weekends and holidays they start at
    the next business day's opening (R-CB-3)."""
    if length_minutes <= 0 or count < 0:
        raise ValueError("length_minutes must be positive and count not negative")
    length = timedelta(minutes=length_minutes)
    at = _next_local_hour(_utc(now) + timedelta(minutes=earliest_minutes), hours.zone)
    give_up = at + timedelta(days=_SEARCH_DAYS)
    slots: list[Window] = []
    while len(slots) < count:
        if at > give_up:
            raise ValueError(f"no business day within a year has room for a {length_minutes}-minute window")
        start = hours.next_opening(at)
        on_hour = _next_local_hour(start, hours.zone)
        if on_hour != start:  # opens at e.g. 08:30: the first window starts at 09:00, if still open
            at = on_hour
            continue
        closes = hours.close_of_business(start)
        if start + length <= closes:
            slots.append(Window(start, start + length))
            at = start + length
        else:
            at = closes  # this day has no room left: the next business day
    return slots


def asap_window(hours: BusinessHours, now: datetime, *, length_minutes: int = 120) -> Window:
    """ "As soon as someone is available" (R-CB-2): from now, or after hours from the next
    business day's opening, for length_minutes, never past closing."""
    start = hours.next_opening(now)
    return Window(start, min(start + timedelta(minutes=length_minutes), hours.close_of_business(start)))


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {suffix}" if moment.minute else f"{hour} {suffix}"


def speak_window(window: Window, zone: ZoneInfo, now: datetime) -> str:
    """How the caller hears a window in their own time zone: "today between 2 PM and 4 PM",
    "tomorrow between 9 AM and 11 AM", "on Monday, November 30, between 8 AM and 10 AM"."""
    start, end = _utc(window.start).astimezone(zone), _utc(window.end).astimezone(zone)
    today = _utc(now).astimezone(zone).date()
    if start.date() == today:
        day = "today"
    elif start.date() == today + timedelta(days=1):
        day = "tomorrow"
    else:
        day = f"on {_WEEKDAYS[start.weekday()]}, {_MONTHS[start.month - 1]} {start.day},"
    return f"{day} between {_clock(start)} and {_clock(end)}"


def deadline(hours: BusinessHours, requested_at: datetime, rule: str) -> datetime:
    """R-CB-7: by when the callback must be made (UTC): "24h" is 24 real hours after the request;
    "end_of_business_day" is today's close, or the next business day's if asked after hours."""
    if rule == "24h":
        return _utc(requested_at) + timedelta(hours=24)
    if rule == "end_of_business_day":
        return hours.close_of_business(requested_at)
    raise ValueError(f"unknown deadline rule {rule!r}; rules are {', '.join(DEADLINE_RULES)}")
