"""Digest schedules in plain words, and when they fire.

The grammar (case and extra spaces do not matter; times are `HH:MM`, `9am` or `9:30pm`):

| typed | canonical | fires |
| --- | --- | --- |
| `daily 09:00`, `daily at 9am` | `daily 09:00` | every day at 09:00 on the zone's clock |
| `twice daily 20:00 8am` | `twice daily 08:00 20:00` | every day at both times |
| `weekly mon 09:00`, `weekly Monday at 9am` | `weekly mon 09:00` | every Monday at 09:00 |
| `every 6h`, `every 2 hours`, `every 30 min` | `every 6h`, `every 2h`, `every 30m` | at fixed elapsed intervals |

Wall-clock schedules (daily, twice daily, weekly) follow the zone's clock across DST: a 09:00 digest stays at
09:00 local. A time the clocks skip fires once at the end of the gap; a time they repeat fires once, at its
first occurrence (`_wallclock`).

`every N` is elapsed time, not wall-clock time: firings are exactly N apart, forever, anchored at local midnight
of 2024-01-01 in the subscription's zone. So `every 6h` in Europe/London fires at 00:00, 06:00, 12:00 and 18:00
GMT, which are 01:00, 07:00... during British Summer Time; in a zone without DST it stays on the hour. We chose
elapsed time because a digest that covers "the last 6 hours" should cover 6 hours, also on the night the
clocks change. Intervals run from 15 minutes (digest floods otherwise) to 7 days, in whole minutes.

APScheduler: `to_trigger` gives an `IntervalTrigger` for `every N` and a `WallClockTrigger` (below) for the
others. APScheduler 3.11's `CronTrigger` does not implement the DST rules above: it fires a daily 01:30 twice
on a fall-back night and a skipped 02:30 at 03:30 instead of 03:00 (measured in America/New_York, 2025).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery._wallclock import (
    ScheduleError,
    first_instant,
    format_clock_time,
    local_date,
    parse_clock_time,
    require_aware,
)

__all__ = [
    "DailySchedule",
    "IntervalSchedule",
    "Schedule",
    "ScheduleError",
    "WallClockTrigger",
    "WeeklySchedule",
    "parse_schedule",
    "to_trigger",
]

MIN_INTERVAL = timedelta(minutes=15)
MAX_INTERVAL = timedelta(days=7)
# The origin of `every N` firings; a Monday, so `every 7d` fires on Mondays at local midnight.
INTERVAL_ANCHOR_DATE = date(2024, 1, 1)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {
    **{name: index for index, name in enumerate(WEEKDAYS)},
    **{
        name: index
        for index, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 1),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 60),
    **dict.fromkeys(("d", "day", "days"), 1440),
}
_INTERVAL = re.compile(r"^(?P<count>\d+)\s*(?P<unit>[a-z]+)$")

ACCEPTED = "daily 09:00, twice daily 08:00 20:00, weekly mon 09:00 or every 6h"


@dataclass(frozen=True)
class DailySchedule:
    """Every day at one or two wall-clock times (`daily 09:00`, `twice daily 08:00 20:00`)."""

    times: tuple[time, ...]

    period: ClassVar[timedelta] = timedelta(days=1)

    def __post_init__(self) -> None:
        if not self.times or len(self.times) > 2 or tuple(sorted(set(self.times))) != self.times:
            raise ValueError(f"times must be one or two distinct times in order, got {self.times!r}")

    @property
    def text(self) -> str:
        clock = " ".join(format_clock_time(value) for value in self.times)
        return f"daily {clock}" if len(self.times) == 1 else f"twice daily {clock}"

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first firing strictly after `moment`, as aware UTC."""
        return _next_wall_clock(self.times, None, moment, tz)


@dataclass(frozen=True)
class WeeklySchedule:
    """One weekday (0 = Monday) at one wall-clock time (`weekly mon 09:00`)."""

    weekday: int
    at: time

    period: ClassVar[timedelta] = timedelta(days=7)

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")

    @property
    def text(self) -> str:
        return f"weekly {WEEKDAYS[self.weekday]} {format_clock_time(self.at)}"

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first firing strictly after `moment`, as aware UTC."""
        return _next_wall_clock((self.at,), self.weekday, moment, tz)


@dataclass(frozen=True)
class IntervalSchedule:
    """Every `interval` of elapsed time, anchored at local midnight of `INTERVAL_ANCHOR_DATE` (`every 6h`)."""

    interval: timedelta

    def __post_init__(self) -> None:
        if not MIN_INTERVAL <= self.interval <= MAX_INTERVAL or self.interval % timedelta(minutes=1):
            raise ValueError(f"interval must be whole minutes from 15 minutes to 7 days, got {self.interval}")

    @property
    def period(self) -> timedelta:
        return self.interval

    @property
    def text(self) -> str:
        minutes = self.interval // timedelta(minutes=1)
        if minutes % 1440 == 0:
            return f"every {minutes // 1440}d"
        if minutes % 60 == 0:
            return f"every {minutes // 60}h"
        return f"every {minutes}m"

    def anchor(self, tz: ZoneInfo) -> datetime:
        """The instant the firings are counted from, in `tz`."""
        return first_instant(INTERVAL_ANCHOR_DATE, time(0, 0), tz)

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first firing strictly after `moment`, as aware UTC."""
        anchor = self.anchor(tz)
        steps = (require_aware(moment).astimezone(UTC) - anchor) // self.interval + 1
        return anchor + steps * self.interval


Schedule = DailySchedule | WeeklySchedule | IntervalSchedule


def latest_at_or_before(schedule: Schedule, moment: datetime, tz: ZoneInfo) -> datetime:
    """The last firing at or before `moment`: what names the run due now (two processes agree on it)."""
    moment = require_aware(moment).astimezone(UTC)
    firing = schedule.next_after(moment - schedule.period - timedelta(days=1), tz)
    latest = firing
    while firing <= moment:
        latest, firing = firing, schedule.next_after(firing, tz)
    return latest


def _next_wall_clock(times: tuple[time, ...], weekday: int | None, moment: datetime, tz: ZoneInfo) -> datetime:
    """Walk the wall-clock slots in order; `first_instant` never goes backwards, so the first one past wins."""
    moment = require_aware(moment).astimezone(UTC)
    # Start two days back: a slot whose time was skipped can land on the next local date.
    day = local_date(moment, tz) - timedelta(days=2)
    for offset in range(11):
        candidate = day + timedelta(days=offset)
        if weekday is not None and candidate.weekday() != weekday:
            continue
        for wall in times:
            instant = first_instant(candidate, wall, tz)
            if instant > moment:
                return instant
    raise AssertionError("unreachable: every schedule fires at least once in any nine days")


def parse_schedule(text: str) -> Schedule:
    """Read a schedule typed by an admin; `ScheduleError` says what was wrong and what is accepted."""
    # "at" and "and" read naturally ("weekly monday at 9am", "twice daily 8am and 8pm") and carry nothing.
    words = [word for word in text.strip().lower().replace(",", " ").split() if word not in ("at", "and")]
    if not words:
        raise ScheduleError(f"the schedule is empty; use {ACCEPTED}")
    head = words[0]
    if head == "daily":
        return _parse_daily(words[1:])
    if head == "twice" and words[1:2] == ["daily"]:
        return _parse_twice_daily(words[2:])
    if head == "weekly":
        return _parse_weekly(words[1:])
    if head == "every":
        return _parse_interval(words[1:])
    raise ScheduleError(f"{text.strip()!r} is not a schedule; use {ACCEPTED}")


def _parse_daily(words: list[str]) -> DailySchedule:
    example = "daily 09:00"
    if len(words) != 1:
        raise ScheduleError(f"daily takes one time, e.g. {example!r} (two times: 'twice daily 08:00 20:00')")
    return DailySchedule((parse_clock_time(words[0], example),))


def _parse_twice_daily(words: list[str]) -> DailySchedule:
    example = "twice daily 08:00 20:00"
    if len(words) != 2:
        raise ScheduleError(f"twice daily takes two times, e.g. {example!r}")
    first, second = (parse_clock_time(word, example) for word in words)
    if first == second:
        raise ScheduleError(f"twice daily needs two different times, e.g. {example!r}")
    return DailySchedule(tuple(sorted((first, second))))


def _parse_weekly(words: list[str]) -> WeeklySchedule:
    example = "weekly mon 09:00"
    if len(words) != 2:
        raise ScheduleError(f"weekly takes a day and a time, e.g. {example!r}")
    weekday = _WEEKDAY_NAMES.get(words[0])
    if weekday is None:
        raise ScheduleError(f"{words[0]!r} is not a day; use mon, tue, wed, thu, fri, sat or sun, e.g. {example!r}")
    return WeeklySchedule(weekday, parse_clock_time(words[1], example))


def _parse_interval(words: list[str]) -> IntervalSchedule:
    example = "every 6h"
    match = _INTERVAL.match("".join(words))
    unit = _UNITS.get(match["unit"]) if match else None
    if match is None or unit is None:
        raise ScheduleError(f"every takes a number and a unit (m, h or d), e.g. {example!r} or 'every 30m'")
    interval = timedelta(minutes=int(match["count"]) * unit)
    if interval < MIN_INTERVAL:
        raise ScheduleError(
            f"'every {' '.join(words)}' is too often; the shortest interval is 15 minutes ('every 15m')"
        )
    if interval > MAX_INTERVAL:
        raise ScheduleError(
            f"'every {' '.join(words)}' is too long; the longest interval is 7 days ('every 7d', or 'weekly mon 09:00')"
        )
    return IntervalSchedule(interval)


class WallClockTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler ships no type information
    """An APScheduler 3 trigger that fires exactly when `schedule.next_after` says, DST rules included.

    It pickles as the schedule's text and the zone's name, so a persistent job store survives a change to
    this class's internals.
    """

    __slots__ = ("schedule", "timezone")

    def __init__(self, schedule: DailySchedule | WeeklySchedule, tz: ZoneInfo) -> None:
        self.schedule = schedule
        self.timezone = tz

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        """After a firing, the next one even if already past (misfire handling decides); else the first from `now`."""
        if previous_fire_time is not None:
            return self.schedule.next_after(previous_fire_time, self.timezone)
        # Firings fall on whole minutes, so "strictly after now - 1 µs" is "at or after now".
        return self.schedule.next_after(now - timedelta(microseconds=1), self.timezone)

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "schedule": self.schedule.text, "timezone": self.timezone.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        schedule = parse_schedule(state["schedule"])
        if isinstance(schedule, IntervalSchedule):
            raise ValueError(f"a WallClockTrigger cannot hold {schedule.text!r}")
        self.schedule = schedule
        self.timezone = ZoneInfo(state["timezone"])

    def __str__(self) -> str:
        return f"wallclock[{self.schedule.text} {self.timezone.key}]"

    def __repr__(self) -> str:
        return f"<WallClockTrigger ({self.schedule.text!r}, timezone={self.timezone.key!r})>"


def to_trigger(schedule: Schedule, tz: ZoneInfo) -> BaseTrigger:
    """The APScheduler trigger whose firings are `schedule.next_after`'s."""
    if isinstance(schedule, IntervalSchedule):
        seconds = math.floor(schedule.interval.total_seconds())
        return IntervalTrigger(seconds=seconds, start_date=schedule.anchor(tz), timezone=UTC)
    return WallClockTrigger(schedule, tz)
