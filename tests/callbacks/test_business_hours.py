"""Business hours, holidays, callback windows and deadlines (R-CB-2, R-CB-3, R-CB-7, R-HOURS-1..2).

Office hours of seeds 000/002: 08:00-17:00 Central, Monday to Friday, US holidays. Every expected
instant is written out in UTC; in November 2026 Central is UTC-6 (CST), from 2026-03-08 to
2026-11-01 it is UTC-5 (CDT)."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from telephony.policy.business_hours import (
    BusinessHours,
    Window,
    asap_window,
    callback_slots,
    deadline,
    parse_business_hours,
    speak_window,
)
from telephony.policy.errors import PolicyError

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
FILE = "policies/test.toml"

TABLE = {
    "time_zone": "America/Chicago",
    "days": {d: "08:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": "US",
    "extra_holidays": [],
}


def office(**changes) -> BusinessHours:
    return parse_business_hours({**TABLE, **changes}, FILE)


def ct(*args) -> datetime:
    """A wall-clock time in Chicago."""
    return datetime(*args, tzinfo=CHICAGO)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def windows(*pairs: tuple[datetime, datetime]) -> list[Window]:
    return [Window(start, end) for start, end in pairs]


def assert_utc(*moments: datetime) -> None:
    for moment in moments:
        assert moment.tzinfo is UTC, f"{moment!r} is not in UTC"


# -- parsing the policy table ---------------------------------------------------------------


def test_parse_reads_hours_zone_holidays_and_extras__R_CB_3():
    data = tomllib.loads(
        """
        [business_hours]
        time_zone = "America/Chicago"
        days = { mon = "08:00-17:00", fri = "8:30-16:00", sat = "10:00-12:00" }
        holidays = "US"
        holiday_subdivision = "IL"
        extra_holidays = ["2026-12-24", 2026-12-31]
        """
    )
    hours = parse_business_hours(data["business_hours"], FILE)
    assert hours.zone == CHICAGO
    assert hours.opening == {0: (time(8), time(17)), 4: (time(8, 30), time(16)), 5: (time(10), time(12))}
    assert (hours.holiday_country, hours.holiday_subdivision) == ("US", "IL")
    assert hours.extra_holidays == frozenset({date(2026, 12, 24), date(2026, 12, 31)})
    assert hours.is_holiday(date(2026, 3, 2)), "Casimir Pulaski Day is an Illinois holiday"
    assert not office().is_holiday(date(2026, 3, 2)), "but not a federal one"


@pytest.mark.parametrize(
    "changes, key, words",
    [
        ({"time_zone": "America/Chicgo"}, "business_hours.time_zone", "unknown time zone"),
        ({"time_zone": None}, "business_hours.time_zone", "missing"),
        ({"days": {"mon": "8am-5pm"}}, "business_hours.days.mon", "HH:MM-HH:MM"),
        ({"days": {"mon": 8}}, "business_hours.days.mon", "HH:MM-HH:MM"),
        ({"days": {"tue": "17:00-08:00"}}, "business_hours.days.tue", "closing must be after opening"),
        ({"days": {"wed": "09:00-09:00"}}, "business_hours.days.wed", "closing must be after opening"),
        ({"days": {"thu": "08:00-25:00"}}, "business_hours.days.thu", "not a time of day"),
        ({"days": {"monday": "08:00-17:00"}}, "business_hours.days.monday", "unknown day"),
        ({"days": {}}, "business_hours.days", "must be a table"),
        ({"holidays": "XX"}, "business_hours.holidays", "no holiday calendar"),
        ({"holidays": 1}, "business_hours.holidays", "country code"),
        ({"holiday_subdivision": "ZZ"}, "business_hours.holiday_subdivision", "no subdivision"),
        ({"holidays": "", "holiday_subdivision": "IL"}, "business_hours.holiday_subdivision", "country"),
        ({"extra_holidays": ["2026-12-24", "2026-13-01"]}, "business_hours.extra_holidays[1]", "not a date"),
        ({"extra_holidays": [20261224]}, "business_hours.extra_holidays[0]", "not a date"),
        ({"extra_holidays": [datetime(2026, 12, 24, 9)]}, "business_hours.extra_holidays[0]", "give a date"),
        ({"extra_holidays": "2026-12-24"}, "business_hours.extra_holidays", "list of dates"),
        ({"holiday": "US"}, "business_hours.holiday", "unknown key"),
    ],
)
def test_parse_error_names_file_and_key__R_CB_3(changes, key, words):
    with pytest.raises(PolicyError) as caught:
        parse_business_hours({**TABLE, **changes}, FILE)
    assert (caught.value.file, caught.value.key) == (FILE, key)
    assert words in caught.value.reason


@pytest.mark.parametrize("table", [None, {}, "08:00-17:00"])
def test_parse_missing_table_names_the_table__R_CB_3(table):
    with pytest.raises(PolicyError) as caught:
        parse_business_hours(table, FILE)
    assert caught.value.key == "business_hours"


def test_parse_error_uses_the_given_key_prefix__R_CB_3():
    with pytest.raises(PolicyError) as caught:
        parse_business_hours({**TABLE, "days": {"sun": "x"}}, FILE, key_prefix="sites[1].hours")
    assert caught.value.key == "sites[1].hours.days.sun"


# -- open or closed -------------------------------------------------------------------------


def test_open_from_opening_until_just_before_closing__R_HOURS_1():
    hours = office()
    assert not hours.is_open(ct(2026, 11, 24, 7, 59, 59))
    assert hours.is_open(ct(2026, 11, 24, 8, 0))
    assert hours.is_open(ct(2026, 11, 24, 16, 59, 59))
    assert not hours.is_open(ct(2026, 11, 24, 17, 0))
    assert hours.is_open(utc(2026, 11, 24, 14, 0)), "the same 08:00 CST, given in UTC"
    assert not hours.is_open(utc(2026, 11, 24, 13, 59)), "07:59 CST"
    assert hours.is_open(datetime(2026, 11, 25, 7, 0, tzinfo=ZoneInfo("Asia/Tokyo"))), "16:00 CST Tuesday"


def test_closed_on_weekends_and_us_holidays__R_HOURS_1():
    hours = office()
    assert not hours.is_open(ct(2026, 11, 28, 10, 0)), "Saturday"
    assert not hours.is_open(ct(2026, 11, 29, 10, 0)), "Sunday"
    assert hours.is_holiday(date(2026, 11, 26)) and not hours.is_open(ct(2026, 11, 26, 10, 0)), "Thanksgiving"
    assert hours.is_holiday(date(2026, 7, 3)), "Independence Day observed on the Friday"
    assert not hours.is_holiday(date(2026, 11, 27))
    assert not office(holidays="").is_holiday(date(2026, 11, 26)), "no country: no public holidays"


def test_naive_datetime_is_refused__R_CB_3():
    with pytest.raises(ValueError, match="aware"):
        office().is_open(datetime(2026, 11, 24, 10, 0))


def test_next_opening_is_now_while_open_else_next_business_morning__R_CB_3():
    hours = office()
    now = ct(2026, 11, 24, 10, 20)
    assert hours.next_opening(now) == utc(2026, 11, 24, 16, 20)
    assert_utc(hours.next_opening(now))
    assert hours.next_opening(ct(2026, 11, 24, 6, 0)) == utc(2026, 11, 24, 14, 0)
    assert hours.next_opening(ct(2026, 11, 24, 17, 0)) == utc(2026, 11, 25, 14, 0)
    assert hours.next_opening(ct(2026, 11, 25, 17, 30)) == utc(2026, 11, 27, 14, 0), "Thanksgiving skipped"


# -- callback slots (R-CB-2, R-CB-3) ---------------------------------------------------------


def test_slots_during_the_day_start_on_the_next_hour_after_the_lead_time__R_CB_2():
    got = callback_slots(office(), ct(2026, 11, 24, 10, 20))  # +15 min = 10:35 -> 11:00
    assert got == windows(
        (utc(2026, 11, 24, 17), utc(2026, 11, 24, 19)),
        (utc(2026, 11, 24, 19), utc(2026, 11, 24, 21)),
        (utc(2026, 11, 24, 21), utc(2026, 11, 24, 23)),  # 15:00-17:00: ends exactly at closing
    )
    for w in got:
        assert_utc(w.start, w.end)


def test_slots_lead_time_landing_on_the_hour_is_not_rounded_further__R_CB_2():
    got = callback_slots(office(), ct(2026, 11, 24, 10, 45), count=1)
    assert got == windows((utc(2026, 11, 24, 17), utc(2026, 11, 24, 19)))  # 11:00 CST


def test_slot_that_would_run_past_closing_is_not_offered__R_CB_2_R_CB_3():
    got = callback_slots(office(), ct(2026, 11, 24, 12, 50))  # -> 14:00; 16:00-18:00 does not fit
    assert got == windows(
        (utc(2026, 11, 24, 20), utc(2026, 11, 24, 22)),
        (utc(2026, 11, 25, 14), utc(2026, 11, 25, 16)),
        (utc(2026, 11, 25, 16), utc(2026, 11, 25, 18)),
    )


def test_slot_length_count_and_lead_time_come_from_the_caller__R_CB_2():
    got = callback_slots(office(), ct(2026, 11, 24, 8, 0), length_minutes=180, count=4, earliest_minutes=60)
    assert got == windows(
        (utc(2026, 11, 24, 15), utc(2026, 11, 24, 18)),  # 09:00-12:00
        (utc(2026, 11, 24, 18), utc(2026, 11, 24, 21)),  # 12:00-15:00
        (utc(2026, 11, 25, 14), utc(2026, 11, 25, 17)),  # 15:00-18:00 would pass closing
        (utc(2026, 11, 25, 17), utc(2026, 11, 25, 20)),
    )


def test_after_hours_slots_start_next_business_day__R_CB_3_R_HOURS_1():
    got = callback_slots(office(), ct(2026, 11, 24, 17, 30))
    assert got == windows(
        (utc(2026, 11, 25, 14), utc(2026, 11, 25, 16)),
        (utc(2026, 11, 25, 16), utc(2026, 11, 25, 18)),
        (utc(2026, 11, 25, 18), utc(2026, 11, 25, 20)),
    )
    early = callback_slots(office(), ct(2026, 11, 25, 6, 0), count=1)
    assert early == windows((utc(2026, 11, 25, 14), utc(2026, 11, 25, 16)))


def test_friday_evening_slots_go_to_monday__R_CB_3():
    got = callback_slots(office(), ct(2026, 11, 20, 18, 0), count=2)
    assert got == windows(
        (utc(2026, 11, 23, 14), utc(2026, 11, 23, 16)),
        (utc(2026, 11, 23, 16), utc(2026, 11, 23, 18)),
    )


def test_thanksgiving_is_skipped__R_CB_3():
    got = callback_slots(office(), ct(2026, 11, 25, 16, 30), count=2)
    assert got == windows(
        (utc(2026, 11, 27, 14), utc(2026, 11, 27, 16)),
        (utc(2026, 11, 27, 16), utc(2026, 11, 27, 18)),
    )


def test_policy_extra_holiday_is_skipped__R_CB_3():
    hours = office(extra_holidays=["2026-11-27"])  # the day after Thanksgiving off, then the weekend
    assert hours.is_holiday(date(2026, 11, 27))
    got = callback_slots(hours, ct(2026, 11, 25, 16, 30), count=1)
    assert got == windows((utc(2026, 11, 30, 14), utc(2026, 11, 30, 16)))


def test_half_past_opening_gives_windows_on_the_hour__R_CB_2():
    hours = office(days={d: "08:30-17:00" for d in ("mon", "tue", "wed", "thu", "fri")})
    got = callback_slots(hours, ct(2026, 11, 23, 7, 0))
    assert got == windows(
        (utc(2026, 11, 23, 15), utc(2026, 11, 23, 17)),  # 09:00-11:00
        (utc(2026, 11, 23, 17), utc(2026, 11, 23, 19)),
        (utc(2026, 11, 23, 19), utc(2026, 11, 23, 21)),
    )
    short = office(days={"mon": "16:30-17:00", "tue": "08:00-17:00"})
    got = callback_slots(short, ct(2026, 11, 23, 15, 0), length_minutes=30, count=1)  # opens 16:30
    assert got == windows((utc(2026, 11, 24, 14), utc(2026, 11, 24, 14, 30))), "17:00 Monday is closed"


def test_no_day_with_room_for_a_window_is_an_error_not_a_hang__R_CB_2():
    hours = office(days={"mon": "09:00-10:00"})
    with pytest.raises(ValueError, match="no business day"):
        callback_slots(hours, ct(2026, 11, 23, 7, 0), length_minutes=120)


def test_spring_forward_weekend_next_monday_opens_at_1300_utc__R_CB_3():
    got = callback_slots(office(), ct(2026, 3, 6, 18, 0))  # Friday 18:00 CST = 00:00 UTC Saturday
    assert got == windows(
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 15)),  # Monday 08:00 CDT, not 14:00 UTC as on Friday
        (utc(2026, 3, 9, 15), utc(2026, 3, 9, 17)),
        (utc(2026, 3, 9, 17), utc(2026, 3, 9, 19)),
    )


def test_spring_forward_night_windows_are_two_real_hours__R_CB_2():
    hours = office(days={"sun": "00:00-06:00"})  # 2026-03-08: 02:00 CST jumps to 03:00 CDT
    got = callback_slots(hours, ct(2026, 3, 7, 23, 0))
    assert got == windows(
        (utc(2026, 3, 8, 6), utc(2026, 3, 8, 8)),  # 00:00 CST - 03:00 CDT
        (utc(2026, 3, 8, 8), utc(2026, 3, 8, 10)),  # 03:00 - 05:00 CDT; 05:00-07:00 passes 06:00 CDT
        (utc(2026, 3, 15, 5), utc(2026, 3, 15, 7)),  # next Sunday, 00:00 CDT
    )
    assert all(w.end - w.start == timedelta(hours=2) for w in got)
    rounded = callback_slots(hours, ct(2026, 3, 8, 1, 30), count=1, earliest_minutes=0)
    assert rounded == windows((utc(2026, 3, 8, 8), utc(2026, 3, 8, 10))), "the hour after 01:30 CST is 03:00 CDT"


def test_fall_back_weekend_next_monday_opens_at_1400_utc__R_CB_3():
    got = callback_slots(office(), ct(2026, 10, 30, 18, 0), count=1)  # Friday 18:00 CDT
    assert got == windows((utc(2026, 11, 2, 14), utc(2026, 11, 2, 16)))  # Monday 08:00 CST
    assert callback_slots(office(), ct(2026, 10, 30, 6, 0), count=1) == windows(
        (utc(2026, 10, 30, 13), utc(2026, 10, 30, 15))
    ), "Friday 08:00 is still CDT"


def test_fall_back_night_windows_are_two_real_hours__R_CB_2():
    hours = office(days={"sun": "00:00-06:00"})  # 2026-11-01: 02:00 CDT falls back to 01:00 CST
    got = callback_slots(hours, ct(2026, 10, 31, 23, 0))
    assert got == windows(
        (utc(2026, 11, 1, 5), utc(2026, 11, 1, 7)),  # 00:00 CDT - 01:00 CST
        (utc(2026, 11, 1, 7), utc(2026, 11, 1, 9)),  # 01:00 CST (the second 1 AM) - 03:00 CST
        (utc(2026, 11, 1, 9), utc(2026, 11, 1, 11)),  # 03:00 - 05:00 CST; closes 06:00 CST = 12:00 UTC
    )
    first_one_am = datetime(2026, 11, 1, 1, 30, tzinfo=CHICAGO)  # fold=0: 01:30 CDT = 06:30 UTC
    rounded = callback_slots(hours, first_one_am, count=1, earliest_minutes=0)
    assert rounded == windows((utc(2026, 11, 1, 7), utc(2026, 11, 1, 9))), "next hour is 01:00 CST, not 02:00"


# -- as soon as someone is available (R-CB-2) ------------------------------------------------


def test_asap_window_starts_now_during_hours__R_CB_2():
    window = asap_window(office(), ct(2026, 11, 24, 10, 20))
    assert window == Window(utc(2026, 11, 24, 16, 20), utc(2026, 11, 24, 18, 20))
    assert_utc(window.start, window.end)


def test_asap_window_is_clipped_at_closing__R_CB_2():
    assert asap_window(office(), ct(2026, 11, 24, 16, 10)) == Window(utc(2026, 11, 24, 22, 10), utc(2026, 11, 24, 23))


def test_asap_window_after_hours_is_next_business_morning__R_CB_2_R_CB_3():
    assert asap_window(office(), ct(2026, 11, 24, 17, 30)) == Window(utc(2026, 11, 25, 14), utc(2026, 11, 25, 16))
    assert asap_window(office(), ct(2026, 11, 25, 17, 0), length_minutes=60) == Window(
        utc(2026, 11, 27, 14), utc(2026, 11, 27, 15)
    ), "Thanksgiving skipped"


# -- how the caller hears a window (R-CB-2) --------------------------------------------------


def test_speak_window_today__R_CB_2():
    window = Window(utc(2026, 11, 24, 20), utc(2026, 11, 24, 22))
    assert speak_window(window, CHICAGO, utc(2026, 11, 24, 16, 20)) == "today between 2 PM and 4 PM"


def test_speak_window_tomorrow__R_CB_2():
    window = Window(utc(2026, 11, 25, 15), utc(2026, 11, 25, 17))
    assert speak_window(window, CHICAGO, ct(2026, 11, 24, 17, 30)) == "tomorrow between 9 AM and 11 AM"


def test_speak_window_later_day_by_weekday_and_date__R_CB_2():
    window = Window(utc(2026, 11, 30, 14), utc(2026, 11, 30, 16))
    spoken = speak_window(window, CHICAGO, ct(2026, 11, 25, 16, 30))
    assert spoken == "on Monday, November 30, between 8 AM and 10 AM"


def test_speak_window_noon_and_midnight__R_CB_2():
    noon = Window(utc(2026, 11, 24, 18), utc(2026, 11, 24, 20))
    assert speak_window(noon, CHICAGO, ct(2026, 11, 24, 9)) == "today between 12 PM and 2 PM"
    midnight = Window(utc(2026, 11, 25, 6), utc(2026, 11, 25, 8))
    assert speak_window(midnight, CHICAGO, ct(2026, 11, 24, 9)) == "tomorrow between 12 AM and 2 AM"


def test_speak_window_in_the_callers_time_zone__R_CB_2():
    window = Window(utc(2026, 11, 24, 20), utc(2026, 11, 24, 22))  # 2-4 PM Central
    now = utc(2026, 11, 24, 16, 20)
    assert speak_window(window, NEW_YORK, now) == "today between 3 PM and 5 PM"
    assert speak_window(window, LOS_ANGELES, now) == "today between 12 PM and 2 PM"
    assert speak_window(window, KOLKATA, now) == "tomorrow between 1:30 AM and 3:30 AM"


def test_speak_window_today_and_tomorrow_follow_the_callers_date__R_CB_2():
    window = Window(utc(2026, 11, 25, 14), utc(2026, 11, 25, 16))  # Wednesday 8-10 AM Central
    now = utc(2026, 11, 24, 23, 30)  # Tuesday 17:30 in Chicago, already Wednesday 05:00 in Kolkata
    assert speak_window(window, CHICAGO, now) == "tomorrow between 8 AM and 10 AM"
    assert speak_window(window, KOLKATA, now) == "today between 7:30 PM and 9:30 PM"


# -- deadlines (R-CB-7, R-HOURS-2) -----------------------------------------------------------


def test_deadline_24h_is_24_real_hours__R_CB_7():
    due = deadline(office(), utc(2026, 11, 24, 16, 20), "24h")
    assert due == utc(2026, 11, 25, 16, 20)
    assert_utc(due)


def test_deadline_24h_across_fall_back_is_24_real_hours__R_CB_7():
    due = deadline(office(), ct(2026, 10, 31, 12, 0), "24h")  # 12:00 CDT = 17:00 UTC
    assert due == utc(2026, 11, 1, 17, 0), "11:00 CST on Sunday, not noon"
    assert_utc(due)


def test_deadline_end_of_business_day_during_hours_is_todays_close__R_CB_7_R_HOURS_2():
    due = deadline(office(), ct(2026, 11, 24, 10, 20), "end_of_business_day")
    assert due == utc(2026, 11, 24, 23)
    assert_utc(due)
    assert deadline(office(), ct(2026, 11, 24, 6, 0), "end_of_business_day") == utc(2026, 11, 24, 23)


def test_deadline_end_of_business_day_after_hours_is_next_business_days_close__R_CB_7_R_HOURS_2():
    hours = office()
    assert deadline(hours, ct(2026, 11, 24, 17, 0), "end_of_business_day") == utc(2026, 11, 25, 23)
    assert deadline(hours, ct(2026, 11, 25, 17, 30), "end_of_business_day") == utc(2026, 11, 27, 23), "Thanksgiving"
    assert deadline(hours, ct(2026, 11, 20, 18, 0), "end_of_business_day") == utc(2026, 11, 23, 23), "Friday"
    assert deadline(hours, ct(2026, 3, 6, 18, 0), "end_of_business_day") == utc(2026, 3, 9, 22), "17:00 CDT"


def test_deadline_unknown_rule_is_refused__R_CB_7():
    with pytest.raises(ValueError, match="unknown deadline rule"):
        deadline(office(), utc(2026, 11, 24, 16), "48h")


def test_close_of_business_is_the_close_of_the_next_opening_day__R_CB_7():
    hours = office(days={"mon": "08:00-17:00", "tue": "09:00-12:00"})
    assert hours.close_of_business(ct(2026, 11, 23, 17, 0)) == utc(2026, 11, 24, 18), "Tuesday closes at noon"
