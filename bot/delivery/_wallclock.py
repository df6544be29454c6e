"""Wall-clock times in a zone turned into UTC instants, with one rule for the hours DST removes or repeats.

A wall time `w` on a date means `first_instant(w)`: the first instant at which the zone's clock shows `w` or
later. That gives one answer for every wall time, and it never goes backwards as `w` moves forward:
- a time that exists once is itself;
- a time the clocks repeat (01:30 on a fall-back night) is its first occurrence;
- a time the clocks skip (02:30 on a spring-forward night in New York) is the first valid instant after the
  gap, the moment of the change (03:00 local).
`last_instant` differs only for repeated times, which it gives at their second occurrence; quiet hours end
there so that the repeated hour stays quiet.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class ScheduleError(ValueError):
    """The user typed a schedule, timezone or quiet-hours range we cannot read; the message says what works."""


_TIME = re.compile(r"^(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)?$")


def parse_clock_time(text: str, example: str) -> time:
    """Read `09:00`, `9:00`, `9am` or `9:30pm` (minutes only: digests need no seconds)."""
    match = _TIME.match(text.strip().lower())
    problem = f"{text.strip()!r} is not a time; use 24-hour HH:MM or 9am / 9:30pm, e.g. {example!r}"
    if match is None:
        raise ScheduleError(problem)
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    ampm = match["ampm"]
    if ampm is None:
        if match["minute"] is None or hour > 23:
            # A bare number is more likely a typo than an hour; ask for HH:MM.
            raise ScheduleError(problem)
    else:
        if not 1 <= hour <= 12:
            raise ScheduleError(f"{text.strip()!r}: with am/pm the hour runs from 1 to 12, e.g. {example!r}")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if minute > 59:
        raise ScheduleError(f"{text.strip()!r}: minutes run from 00 to 59, e.g. {example!r}")
    return time(hour, minute)


def format_clock_time(value: time) -> str:
    """The canonical spelling, which `parse_clock_time` reads back."""
    return f"{value.hour:02d}:{value.minute:02d}"


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date the zone's clock shows at `moment`."""
    return require_aware(moment).astimezone(tz).date()


def require_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: a naive time here is always a bug, and guessing its zone hides it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}; pass a timezone-aware (UTC) datetime")
    return moment


def first_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the clock in `tz` shows `wall` on `day`, or later (see module docstring)."""
    early = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the earlier offset for a repeated time
    late = early.replace(fold=1)
    early_utc = early.astimezone(UTC)
    if _exists(early, early_utc, tz):
        return early_utc
    # In a gap: fold=0 uses the offset before the change (a later instant), fold=1 the offset after it (an
    # earlier instant); the change itself lies in (late_utc, early_utc]. Transitions fall on whole seconds.
    return _first_with_offset(late.astimezone(UTC), early_utc, late.utcoffset(), tz)


def last_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Like `first_instant`, but a repeated time is given at its second occurrence."""
    first = first_instant(day, wall, tz)
    local = datetime.combine(day, wall, tzinfo=tz).replace(fold=1)
    second = local.astimezone(UTC)
    if second > first and _exists(local, second, tz):
        return second
    return first


def _exists(local: datetime, as_utc: datetime, tz: ZoneInfo) -> bool:
    return as_utc.astimezone(tz).replace(tzinfo=None, fold=0) == local.replace(tzinfo=None, fold=0)


def _first_with_offset(low: datetime, high: datetime, offset: timedelta | None, tz: ZoneInfo) -> datetime:
    """Binary search in (low, high] for the first whole second whose offset is `offset` (the new one)."""
    lo = 0  # `low` itself still has the old offset
    hi = int((high - low).total_seconds())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).utcoffset() == offset:
            hi = mid
        else:
            lo = mid
    return low + timedelta(seconds=hi)
