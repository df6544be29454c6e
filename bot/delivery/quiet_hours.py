"""Quiet hours: a daily wall-clock range (`22:00-07:00`) during which alerts are held, then sent when it ends.

Each night's quiet stretch is one unbroken span of real time, from the first instant the clock shows the start
to the last instant it shows the end (`_wallclock`). So on the night the clocks go back, a range ending inside
the repeated hour stays quiet through both passes of it, and a start or end that the clocks skip counts from
the moment of the change. A range whose end is not after its start spans midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.delivery._wallclock import (
    ScheduleError,
    first_instant,
    format_clock_time,
    last_instant,
    local_date,
    parse_clock_time,
    require_aware,
)

EXAMPLE = "22:00-07:00"
_SEPARATOR = re.compile(r"\s*(?:-|–|—|\bto\b)\s*")


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end` on the zone's clock, every day; `end <= start` means it runs past midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need a start and an end that differ")

    @property
    def text(self) -> str:
        """The canonical spelling, which `parse_quiet_hours` reads back."""
        return f"{format_clock_time(self.start)}-{format_clock_time(self.end)}"

    @property
    def spans_midnight(self) -> bool:
        return self.end < self.start

    def _spans_around(self, moment: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The quiet spans that began on the days around `moment` (one may begin the day before)."""
        today = local_date(moment, tz)
        spans = []
        for offset in (-2, -1, 0, 1):
            day = today + timedelta(days=offset)
            end_day = day + timedelta(days=1) if self.spans_midnight else day
            spans.append((first_instant(day, self.start, tz), last_instant(end_day, self.end, tz)))
        return spans

    def contains(self, moment: datetime, tz: ZoneInfo) -> bool:
        """Whether an alert at `moment` must be held."""
        moment = require_aware(moment).astimezone(UTC)
        return any(start <= moment < end for start, end in self._spans_around(moment, tz))

    def end_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """When an alert held at `moment` may go out (aware UTC): `moment` itself if it is not quiet then."""
        moment = require_aware(moment).astimezone(UTC)
        while True:
            # Spans can touch or overlap (a 23-hour range on a 25-hour day); follow them to the real end.
            ends = [end for start, end in self._spans_around(moment, tz) if start <= moment < end]
            if not ends:
                return moment
            moment = max(ends)


def parse_quiet_hours(text: str) -> QuietHours:
    """Read `22:00-07:00` (also `10pm-7am`, `22:00 to 07:00`); `ScheduleError` says what is accepted."""
    parts = _SEPARATOR.split(text.strip().lower())
    if len(parts) != 2 or not all(parts):
        raise ScheduleError(f"{text.strip()!r} is not a range; use start-end, e.g. {EXAMPLE!r} or '13:00-14:00'")
    start, end = (parse_clock_time(part, EXAMPLE) for part in parts)
    if start == end:
        raise ScheduleError(f"{text.strip()!r} starts and ends at the same time; use e.g. {EXAMPLE!r}")
    return QuietHours(start, end)
