"""Quiet hours: parsing, ranges across midnight, and one unbroken quiet stretch per night across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.quiet_hours import QuietHours, parse_quiet_hours
from bot.delivery.schedules import ScheduleError

UTC_ZONE = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")  # GMT->BST 2025-03-30 01:00 UTC
NEW_YORK = ZoneInfo("America/New_York")  # EST->EDT 2025-03-09 07:00 UTC, EDT->EST 2025-11-02 06:00 UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("22:00-07:00", "22:00-07:00"),
        (" 22:00 - 07:00 ", "22:00-07:00"),
        ("10pm-7am", "22:00-07:00"),
        ("22:00 – 07:00", "22:00-07:00"),
        ("22:00 to 7:00", "22:00-07:00"),
        ("13:00-14:00", "13:00-14:00"),
    ],
)
def test_parse_gives_canonical_text_that_round_trips(typed: str, canonical: str) -> None:
    quiet = parse_quiet_hours(typed)
    assert quiet.text == canonical
    assert parse_quiet_hours(quiet.text) == quiet


def test_parse_builds_the_expected_value() -> None:
    assert parse_quiet_hours("22:00-07:00") == QuietHours(time(22, 0), time(7, 0))
    assert parse_quiet_hours("22:00-07:00").spans_midnight
    assert not parse_quiet_hours("13:00-14:00").spans_midnight


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "'' is not a range; use start-end, e.g. '22:00-07:00' or '13:00-14:00'"),
        ("22:00", "'22:00' is not a range; use start-end, e.g. '22:00-07:00' or '13:00-14:00'"),
        ("22:00-", "'22:00-' is not a range; use start-end, e.g. '22:00-07:00' or '13:00-14:00'"),
        ("22:00-07:00-08:00", "'22:00-07:00-08:00' is not a range; use start-end, e.g. '22:00-07:00' or '13:00-14:00'"),
        ("25:00-07:00", "'25:00' is not a time; use 24-hour HH:MM or 9am / 9:30pm, e.g. '22:00-07:00'"),
        ("late-early", "'late' is not a time; use 24-hour HH:MM or 9am / 9:30pm, e.g. '22:00-07:00'"),
        ("22:00-10pm", "'22:00-10pm' starts and ends at the same time; use e.g. '22:00-07:00'"),
    ],
)
def test_parse_errors_say_what_is_wrong_and_what_works(typed: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_quiet_hours(typed)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (utc(2025, 7, 1, 21, 59), False),
        (utc(2025, 7, 1, 22), True),
        (utc(2025, 7, 1, 23, 59), True),
        (utc(2025, 7, 2, 0), True),
        (utc(2025, 7, 2, 6, 59), True),
        (utc(2025, 7, 2, 7), False),
        (utc(2025, 7, 2, 12), False),
    ],
)
def test_contains_across_midnight(moment: datetime, quiet: bool) -> None:
    assert parse_quiet_hours("22:00-07:00").contains(moment, UTC_ZONE) is quiet


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (utc(2025, 7, 1, 11), False),
        (utc(2025, 7, 1, 12), True),
        (utc(2025, 7, 1, 12, 59), True),
        (utc(2025, 7, 1, 13), False),
    ],
)
def test_contains_in_the_day_uses_the_zone_clock(moment: datetime, quiet: bool) -> None:
    # 13:00-14:00 BST is 12:00-13:00 UTC in July.
    assert parse_quiet_hours("13:00-14:00").contains(moment, LONDON) is quiet


def test_end_after_is_the_moment_itself_when_not_quiet() -> None:
    moment = utc(2025, 7, 1, 12, 0, 5)
    assert parse_quiet_hours("22:00-07:00").end_after(moment, UTC_ZONE) == moment


def test_spring_forward_night_is_an_hour_shorter() -> None:
    # London 2025-03-29 22:00 GMT (22:00 UTC) to 2025-03-30 07:00 BST (06:00 UTC).
    quiet = parse_quiet_hours("22:00-07:00")
    assert quiet.end_after(utc(2025, 3, 30, 3), LONDON) == utc(2025, 3, 30, 6)
    assert quiet.end_after(utc(2025, 3, 29, 22), LONDON) == utc(2025, 3, 30, 6)
    assert quiet.contains(utc(2025, 3, 30, 5, 59), LONDON)
    assert not quiet.contains(utc(2025, 3, 30, 6), LONDON)
    assert not quiet.contains(utc(2025, 3, 29, 21, 59), LONDON)


def test_start_in_the_skipped_hour_counts_from_the_change() -> None:
    # New York 02:30 does not exist on 2025-03-09; quiet starts at 03:00 EDT (07:00 UTC), ends 06:00 EDT (10:00).
    quiet = parse_quiet_hours("02:30-06:00")
    assert not quiet.contains(utc(2025, 3, 9, 6, 59), NEW_YORK)
    assert quiet.contains(utc(2025, 3, 9, 7), NEW_YORK)
    assert quiet.end_after(utc(2025, 3, 9, 7), NEW_YORK) == utc(2025, 3, 9, 10)


def test_fall_back_night_keeps_the_repeated_hour_quiet() -> None:
    # 22:00 EDT on 11-01 (02:00 UTC) to 01:30 at its second occurrence, 01:30 EST (06:30 UTC).
    quiet = parse_quiet_hours("22:00-01:30")
    assert quiet.contains(utc(2025, 11, 2, 5, 45), NEW_YORK)  # 01:45 EDT
    assert quiet.contains(utc(2025, 11, 2, 6, 15), NEW_YORK)  # 01:15 EST
    assert not quiet.contains(utc(2025, 11, 2, 6, 30), NEW_YORK)
    assert quiet.end_after(utc(2025, 11, 2, 3), NEW_YORK) == utc(2025, 11, 2, 6, 30)
    # The night before, an ordinary one: 22:00-01:30 EDT is 02:00-05:30 UTC.
    assert quiet.end_after(utc(2025, 11, 1, 3), NEW_YORK) == utc(2025, 11, 1, 5, 30)


def test_overlapping_quiet_stretches_are_followed_to_their_real_end() -> None:
    # 01:40 to 01:30 the next day: on the fall-back night the stretch begun on 11-01 ends at 01:30 EST (06:30 UTC),
    # after the next one began at 01:40 EDT (05:40 UTC); so nothing goes out until 11-03 01:30 EST (06:30 UTC).
    quiet = parse_quiet_hours("01:40-01:30")
    assert quiet.end_after(utc(2025, 11, 2, 6), NEW_YORK) == utc(2025, 11, 3, 6, 30)


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_quiet_hours("22:00-07:00").contains(datetime(2025, 7, 1), UTC_ZONE)  # noqa: DTZ001  # the point


clock_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
ranges = st.tuples(clock_times, clock_times).filter(lambda pair: pair[0] != pair[1]).map(lambda p: QuietHours(*p))
zones = st.sampled_from(
    ("UTC", "Europe/London", "America/New_York", "Asia/Jerusalem", "Australia/Sydney", "Australia/Lord_Howe")
)
# hypothesis takes naive bounds and attaches the zone itself.
moments = st.datetimes(datetime(1990, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC))  # noqa: DTZ001


@given(ranges, zones, moments)
def test_end_after_is_not_quiet_and_comes_within_a_day(quiet: QuietHours, zone: str, moment: datetime) -> None:
    tz = ZoneInfo(zone)
    end = quiet.end_after(moment, tz)
    assert end >= moment
    assert not quiet.contains(end, tz)
    assert quiet.contains(moment, tz) == (end != moment)
    # Within a day, a little more across a clock change, and up to two days when a change swallows the whole
    # open window (the example below).
    assert end - moment <= timedelta(days=2, hours=2)
    assert parse_quiet_hours(quiet.text) == quiet


def test_a_clock_change_that_swallows_the_open_window_holds_until_the_next_days() -> None:
    """Quiet 02:01-02:00 leaves 02:00-02:01 open; on Israel's spring-forward night (2012-03-30, 02:00 -> 03:00)
    that minute does not exist, so an alert held at 02:01 the night before waits until the next night's 02:00."""
    quiet, tz = QuietHours(time(2, 1), time(2, 0)), ZoneInfo("Asia/Jerusalem")
    held = datetime(2012, 3, 29, 0, 1, tzinfo=UTC)  # 02:01 in Israel
    assert quiet.end_after(held, tz) == datetime(2012, 3, 30, 23, 0, tzinfo=UTC)  # 02:00 IDT on the 31st


@given(ranges, moments)
def test_in_a_zone_without_dst_contains_is_the_plain_clock_range(quiet: QuietHours, moment: datetime) -> None:
    now = moment.time().replace(second=0, microsecond=0)
    in_evening_part, in_morning_part = now >= quiet.start, now < quiet.end
    expected = (in_evening_part or in_morning_part) if quiet.spans_midnight else (in_evening_part and in_morning_part)
    assert quiet.contains(moment, UTC_ZONE) is expected
