"""IANA timezones for subscriptions: a forgiving lookup and autocomplete choices.

Names come from the standard library's `zoneinfo` (the `tzdata` package where the system has no zone files).
The list is read on first use, not at import.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from bot.delivery._wallclock import ScheduleError

DEFAULT_TIMEZONE = "UTC"
# Shown first when nothing is typed yet: UTC, the accords' members and candidates, then big audiences.
COMMON_TIMEZONES = (
    "UTC",
    "Asia/Jerusalem",
    "Asia/Dubai",
    "Asia/Bahrain",
    "Africa/Casablanca",
    "Africa/Khartoum",
    "Asia/Almaty",
    "Asia/Riyadh",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
# "GMT+3", "UTC-05:00": an offset, as people write it (east of Greenwich is +). The database's fixed-offset zones
# are named the POSIX way, with the sign inverted: UTC+3 is Etc/GMT-3.
_OFFSET = re.compile(r"^(?:gmt|utc)\s*([+-])\s*(\d{1,2})(?::?00)?$")
# Files in the zone database that are not zones a person would pick.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@cache
def _zones() -> dict[str, str]:
    """Lower-case name to proper name, for every zone in the database."""
    names = sorted(name for name in available_timezones() if name not in _NOT_ZONES)
    return {name.lower(): name for name in names}


def _normalise(typed: str) -> str:
    # People type "new york" and "Asia / Dubai"; the database says "America/New_York" and "Asia/Dubai".
    return "/".join(part.strip().replace(" ", "_") for part in typed.strip().lower().split("/"))


def offset_zone(typed: str) -> str | None:
    """The fixed-offset zone a person means by "GMT+3" or "UTC-5" (Etc/GMT-3, Etc/GMT+5), or None."""
    found = _OFFSET.match(typed.strip().lower())
    if found is None:
        return None
    sign, hours = found.group(1), int(found.group(2))
    if hours == 0:
        return "Etc/GMT"
    name = f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return name if name.lower() in _zones() else None


def timezone_label(name: str) -> str:
    """How to show a zone in a list: fixed-offset zones say which offset they are ("Etc/GMT-3 (UTC+3)")."""
    found = re.fullmatch(r"Etc/GMT([+-])(\d{1,2})", name)
    if found is None:
        return name
    return f"{name} (UTC{'-' if found.group(1) == '+' else '+'}{found.group(2)})"


def parse_timezone(name: str) -> ZoneInfo:
    """The zone named `name` (any case; empty means UTC); `ScheduleError` suggests close names otherwise."""
    key = _normalise(name)
    if not key:
        return ZoneInfo(DEFAULT_TIMEZONE)
    meant = offset_zone(name)
    if meant is not None:
        offset = timezone_label(meant).partition("(")[2].rstrip(")") or "UTC"
        raise ScheduleError(
            f"{name.strip()!r} is an offset, not a timezone: for {offset} use {meant} (these names invert the "
            "sign), or better a place such as Europe/Moscow or Asia/Dubai, which follows daylight saving time"
        )
    proper = _zones().get(key)
    if proper is None:
        matches = [name for name in timezone_choices(name, limit=3) if name != DEFAULT_TIMEZONE]
        if not matches:
            close = difflib.get_close_matches(key, list(_zones()), n=3, cutoff=0.85)
            matches = [_zones()[lower] for lower in close]
        hint = f"did you mean {' or '.join(matches)}? Otherwise " if matches else ""
        raise ScheduleError(
            f"{name.strip()!r} is not a timezone; {hint}use an IANA name such as Europe/London or Asia/Dubai"
        )
    return ZoneInfo(proper)


def timezone_choices(typed: str, limit: int = 25) -> list[str]:
    """Autocomplete: names starting with `typed` (or with a part starting with it) first, then containing it."""
    key = _normalise(typed)
    if not key:
        return list(COMMON_TIMEZONES[:limit])
    meant = offset_zone(typed)
    if meant is not None:  # "gmt+3" means UTC+3: offer that zone, not the homonym Etc/GMT+3 (UTC-3)
        return [meant]
    common = {name: rank for rank, name in enumerate(COMMON_TIMEZONES)}
    ranked: list[tuple[int, int, str]] = []
    for lower, proper in _zones().items():
        if lower.startswith(key):
            group = 0
        elif any(part.startswith(key) for part in lower.split("/")[1:]):
            group = 1  # "lon" finds Europe/London
        elif key in lower:
            group = 2
        else:
            continue
        ranked.append((group, common.get(proper, len(common)), proper))
    ranked.sort()
    return [proper for _, _, proper in ranked[:limit]]
