"""Schedules: the grammar, the firing times across DST (expected instants worked out by hand from the zone
rules), and the APScheduler triggers agreeing with `next_after`."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.schedules import (
    DailySchedule,
    IntervalSchedule,
    Schedule,
    ScheduleError,
    WallClockTrigger,
    WeeklySchedule,
    parse_schedule,
    to_trigger,
)

# The 2025 changes these cases rely on (zone rules, UTC instants):
# Europe/London     GMT->BST 03-30 01:00, BST->GMT 10-26 01:00
# America/New_York  EST->EDT 03-09 07:00, EDT->EST 11-02 06:00
# Asia/Jerusalem    IST->IDT 03-28 00:00, IDT->IST 10-25 23:00
# Australia/Sydney  AEDT->AEST 04-05 16:00, AEST->AEDT 10-04 16:00
# Pacific/Apia skipped 2011-12-30 entirely (-10 -> +14 at 2011-12-30 10:00 UTC).
DST_ZONES = ("Europe/London", "America/New_York", "Asia/Jerusalem", "Australia/Sydney")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("daily 09:00", "daily 09:00"),
        ("  Daily   9:00 ", "daily 09:00"),
        ("daily at 9am", "daily 09:00"),
        ("daily 9:30pm", "daily 21:30"),
        ("daily 12am", "daily 00:00"),
        ("daily 12pm", "daily 12:00"),
        ("daily 23:59", "daily 23:59"),
        ("twice daily 20:00 08:00", "twice daily 08:00 20:00"),
        ("twice daily 8am and 8pm", "twice daily 08:00 20:00"),
        ("Twice Daily 08:00, 20:00", "twice daily 08:00 20:00"),
        ("weekly mon 09:00", "weekly mon 09:00"),
        ("weekly Monday at 9am", "weekly mon 09:00"),
        ("weekly sunday 18:30", "weekly sun 18:30"),
        ("weekly thurs 07:05", "weekly thu 07:05"),
        ("every 6h", "every 6h"),
        ("every 6 hours", "every 6h"),
        ("every 2 hours", "every 2h"),
        ("every 1 hour", "every 1h"),
        ("every 30m", "every 30m"),
        ("every 30 minutes", "every 30m"),
        ("every 15 min", "every 15m"),
        ("every 90m", "every 90m"),
        ("every 120m", "every 2h"),
        ("every 36h", "every 36h"),
        ("every 48h", "every 2d"),
        ("every 1 day", "every 1d"),
        ("every 7d", "every 7d"),
    ],
)
def test_parse_gives_canonical_text_that_round_trips(typed: str, canonical: str) -> None:
    schedule = parse_schedule(typed)
    assert schedule.text == canonical
    assert parse_schedule(schedule.text) == schedule


def test_parse_builds_the_expected_values() -> None:
    assert parse_schedule("daily 9am") == DailySchedule((time(9, 0),))
    assert parse_schedule("twice daily 20:00 08:00") == DailySchedule((time(8, 0), time(20, 0)))
    assert parse_schedule("weekly sun 18:30") == WeeklySchedule(6, time(18, 30))
    assert parse_schedule("every 2 hours") == IntervalSchedule(timedelta(hours=2))


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "the schedule is empty; use daily 09:00, twice daily 08:00 20:00, weekly mon 09:00 or every 6h"),
        (
            "hourly",
            "'hourly' is not a schedule; use daily 09:00, twice daily 08:00 20:00, weekly mon 09:00 or every 6h",
        ),
        ("daily", "daily takes one time, e.g. 'daily 09:00' (two times: 'twice daily 08:00 20:00')"),
        ("daily 08:00 20:00", "daily takes one time, e.g. 'daily 09:00' (two times: 'twice daily 08:00 20:00')"),
        ("daily 25:00", "'25:00' is not a time; use 24-hour HH:MM or 9am / 9:30pm, e.g. 'daily 09:00'"),
        ("daily 9", "'9' is not a time; use 24-hour HH:MM or 9am / 9:30pm, e.g. 'daily 09:00'"),
        ("daily noon", "'noon' is not a time; use 24-hour HH:MM or 9am / 9:30pm, e.g. 'daily 09:00'"),
        ("daily 13pm", "'13pm': with am/pm the hour runs from 1 to 12, e.g. 'daily 09:00'"),
        ("daily 09:60", "'09:60': minutes run from 00 to 59, e.g. 'daily 09:00'"),
        ("twice daily 08:00", "twice daily takes two times, e.g. 'twice daily 08:00 20:00'"),
        ("twice daily 08:00 8am", "twice daily needs two different times, e.g. 'twice daily 08:00 20:00'"),
        ("weekly 09:00", "weekly takes a day and a time, e.g. 'weekly mon 09:00'"),
        (
            "weekly funday 09:00",
            "'funday' is not a day; use mon, tue, wed, thu, fri, sat or sun, e.g. 'weekly mon 09:00'",
        ),
        ("every often", "every takes a number and a unit (m, h or d), e.g. 'every 6h' or 'every 30m'"),
        ("every 2 fortnights", "every takes a number and a unit (m, h or d), e.g. 'every 6h' or 'every 30m'"),
        ("every 10m", "'every 10m' is too often; the shortest interval is 15 minutes ('every 15m')"),
        (
            "every 8 days",
            "'every 8 days' is too long; the longest interval is 7 days ('every 7d', or 'weekly mon 09:00')",
        ),
    ],
)
def test_parse_errors_say_what_is_wrong_and_what_works(typed: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(typed)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "zone", "moment", "expected"),
    [
        # A 09:00 digest stays at 09:00 local on both sides of each change.
        ("daily 09:00", "Europe/London", utc(2025, 3, 29, 9), utc(2025, 3, 30, 8)),
        ("daily 09:00", "Europe/London", utc(2025, 10, 25, 12), utc(2025, 10, 26, 9)),
        ("daily 09:00", "Asia/Jerusalem", utc(2025, 3, 27, 12), utc(2025, 3, 28, 6)),
        ("daily 09:00", "Asia/Jerusalem", utc(2025, 10, 25, 12), utc(2025, 10, 26, 7)),
        # Skipped times fire once, when the clocks change.
        ("daily 01:30", "Europe/London", utc(2025, 3, 29, 2), utc(2025, 3, 30, 1)),
        ("daily 02:30", "America/New_York", utc(2025, 3, 8, 12), utc(2025, 3, 9, 7)),
        ("daily 02:30", "America/New_York", utc(2025, 3, 9, 7), utc(2025, 3, 10, 6, 30)),
        ("daily 02:30", "Australia/Sydney", utc(2025, 10, 4, 12), utc(2025, 10, 4, 16)),
        ("weekly fri 02:30", "Asia/Jerusalem", utc(2025, 3, 25), utc(2025, 3, 28)),
        ("daily 09:00", "Pacific/Apia", utc(2011, 12, 29, 20), utc(2011, 12, 30, 10)),
        ("daily 09:00", "Pacific/Apia", utc(2011, 12, 30, 10), utc(2011, 12, 30, 19)),
        # Repeated times fire once, at the first occurrence.
        ("daily 01:30", "Europe/London", utc(2025, 10, 25, 12), utc(2025, 10, 26, 0, 30)),
        ("daily 01:30", "Europe/London", utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)),
        ("daily 01:30", "America/New_York", utc(2025, 11, 1, 12), utc(2025, 11, 2, 5, 30)),
        ("daily 01:30", "America/New_York", utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)),
        ("daily 02:30", "Australia/Sydney", utc(2025, 4, 5, 12), utc(2025, 4, 5, 15, 30)),
        ("daily 02:30", "Australia/Sydney", utc(2025, 4, 5, 15, 30), utc(2025, 4, 6, 16, 30)),
        # Two times a day, and days of the week.
        ("twice daily 08:00 20:00", "America/New_York", utc(2025, 3, 8, 14), utc(2025, 3, 9, 1)),
        ("twice daily 08:00 20:00", "America/New_York", utc(2025, 3, 9, 1), utc(2025, 3, 9, 12)),
        ("weekly mon 09:00", "Australia/Sydney", utc(2025, 4, 1), utc(2025, 4, 6, 23)),
        ("weekly mon 09:00", "UTC", utc(2025, 7, 7, 9), utc(2025, 7, 14, 9)),
        ("weekly sun 23:30", "Asia/Kolkata", utc(2025, 7, 1), utc(2025, 7, 6, 18)),
        # Elapsed intervals, counted from local midnight of 2024-01-01.
        ("every 6h", "Europe/London", utc(2025, 7, 1, 10), utc(2025, 7, 1, 12)),
        ("every 6h", "America/New_York", utc(2025, 7, 1, 10), utc(2025, 7, 1, 11)),
        ("every 6h", "Asia/Kolkata", utc(2025, 7, 1, 10), utc(2025, 7, 1, 12, 30)),
        ("every 6h", "Australia/Sydney", utc(2025, 7, 1, 10), utc(2025, 7, 1, 13)),
        ("every 7d", "UTC", utc(2025, 7, 1), utc(2025, 7, 7)),
        ("every 90m", "UTC", utc(2024, 1, 1, 1, 30), utc(2024, 1, 1, 3)),
        ("every 90m", "UTC", utc(2023, 12, 31, 23, 59), utc(2024, 1, 1)),
    ],
)
def test_next_after_matches_hand_worked_instants(text: str, zone: str, moment: datetime, expected: datetime) -> None:
    fired = parse_schedule(text).next_after(moment, ZoneInfo(zone))
    assert fired == expected
    assert fired.tzinfo is UTC


def test_next_after_accepts_any_aware_moment_and_refuses_naive_ones() -> None:
    schedule = parse_schedule("daily 09:00")
    london = ZoneInfo("Europe/London")
    in_tokyo = datetime(2025, 7, 1, 18, tzinfo=ZoneInfo("Asia/Tokyo"))  # 09:00 UTC, 10:00 BST
    assert schedule.next_after(in_tokyo, london) == utc(2025, 7, 2, 8)
    with pytest.raises(ValueError, match="naive"):
        schedule.next_after(datetime(2025, 7, 1), london)  # noqa: DTZ001  # the point of the test


def firings_by_next_after(schedule: Schedule, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    fired = []
    moment = schedule.next_after(start - timedelta(microseconds=1), tz)
    while moment < end:
        fired.append(moment)
        moment = schedule.next_after(moment, tz)
    return fired


def firings_by_trigger(schedule: Schedule, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Drive the trigger the way APScheduler's scheduler does: first from `now`, then from the last firing."""
    trigger = to_trigger(schedule, tz)
    fired: list[datetime] = []
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment < end:
        fired.append(moment)
        moment = trigger.get_next_fire_time(moment, moment)
    return fired


@pytest.mark.parametrize("zone", DST_ZONES)
@pytest.mark.parametrize(
    "text",
    [
        "daily 09:00",
        "daily 01:30",
        "daily 02:30",
        "twice daily 00:30 02:15",
        "weekly sun 02:00",
        "every 6h",
        "every 45m",
    ],
)
def test_trigger_agrees_with_next_after_over_a_year(zone: str, text: str) -> None:
    schedule = parse_schedule(text)
    tz = ZoneInfo(zone)
    start, end = utc(2025, 1, 1), utc(2026, 1, 1)
    by_trigger = firings_by_trigger(schedule, tz, start, end)
    assert by_trigger == firings_by_next_after(schedule, tz, start, end)
    expected_count = {"daily": 365, "twice": 730, "weekly": 52, "every": int(timedelta(days=365) / schedule.period)}
    assert len(by_trigger) == expected_count[text.split()[0]]


def test_trigger_types_and_pickling() -> None:
    tz = ZoneInfo("Asia/Jerusalem")
    wall = to_trigger(parse_schedule("twice daily 08:00 20:00"), tz)
    assert isinstance(wall, WallClockTrigger)
    assert str(wall) == "wallclock[twice daily 08:00 20:00 Asia/Jerusalem]"
    restored = pickle.loads(pickle.dumps(wall))
    assert restored.schedule == wall.schedule
    assert restored.timezone == tz
    now = utc(2025, 3, 27, 12)
    assert restored.get_next_fire_time(None, now) == utc(2025, 3, 27, 18)
    interval = to_trigger(parse_schedule("every 6h"), tz)
    assert pickle.loads(pickle.dumps(interval)).get_next_fire_time(None, now) == utc(2025, 3, 27, 16)


def test_trigger_first_firing_may_be_now_itself() -> None:
    """APScheduler asks for the first firing at or after `now`; a job added at 09:00 sharp fires at 09:00."""
    trigger = to_trigger(parse_schedule("daily 09:00"), ZoneInfo("UTC"))
    assert trigger.get_next_fire_time(None, utc(2025, 7, 1, 9)) == utc(2025, 7, 1, 9)


# Zones with unusual rules: 30-minute DST (Lord Howe), half-hour offsets (Kolkata, Tehran), a skipped day (Apia),
# southern-hemisphere DST (Sydney, Santiago), DST at midnight (Havana, Santiago).
PROPERTY_ZONES = (
    *DST_ZONES,
    "UTC",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Pacific/Apia",
    "America/Santiago",
    "America/Havana",
)
clock_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
schedules: st.SearchStrategy[Schedule] = st.one_of(
    st.builds(lambda at: DailySchedule((at,)), clock_times),
    st.sets(clock_times, min_size=2, max_size=2).map(lambda pair: DailySchedule(tuple(sorted(pair)))),
    st.builds(WeeklySchedule, st.integers(0, 6), clock_times),
    st.builds(IntervalSchedule, st.integers(15, 7 * 1440).map(lambda minutes: timedelta(minutes=minutes))),
)
# hypothesis takes naive bounds and attaches the zone itself.
moments = st.datetimes(datetime(1990, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC))  # noqa: DTZ001
# The longest a clock change stretches a period: an hour, with room for historical two-hour changes.
DST_SLACK = timedelta(hours=3)


@given(schedules, st.sampled_from(PROPERTY_ZONES), moments)
def test_next_after_is_strictly_after_and_within_one_period(schedule: Schedule, zone: str, moment: datetime) -> None:
    fired = schedule.next_after(moment, ZoneInfo(zone))
    assert moment < fired <= moment + schedule.period + DST_SLACK
    assert parse_schedule(schedule.text) == schedule


@given(schedules, st.sampled_from(PROPERTY_ZONES), moments)
def test_next_after_lands_on_the_schedule(schedule: Schedule, zone: str, moment: datetime) -> None:
    tz = ZoneInfo(zone)
    fired = schedule.next_after(moment, tz)
    if isinstance(schedule, IntervalSchedule):
        assert (fired - schedule.anchor(tz)) % schedule.interval == timedelta(0)
        return
    local = fired.astimezone(tz)
    wall_times = schedule.times if isinstance(schedule, DailySchedule) else (schedule.at,)
    at_a_clock_change = (fired - timedelta(seconds=1)).astimezone(tz).utcoffset() != local.utcoffset()
    if at_a_clock_change and local.time() not in wall_times:
        return  # a skipped time, fired at the end of the gap
    assert local.time() in wall_times
    assert local.fold == 0  # first occurrence of a repeated time
    if isinstance(schedule, WeeklySchedule):
        assert local.weekday() == schedule.weekday


@given(schedules, st.sampled_from(PROPERTY_ZONES), moments, st.integers(0, 3 * 86_400))
def test_next_after_never_goes_backwards(schedule: Schedule, zone: str, moment: datetime, later: int) -> None:
    tz = ZoneInfo(zone)
    first = schedule.next_after(moment, tz)
    assert first <= schedule.next_after(moment + timedelta(seconds=later), tz)
    # Asking from just before the firing finds that same firing: it is not skipped over.
    assert schedule.next_after(first - timedelta(microseconds=1), tz) == first
