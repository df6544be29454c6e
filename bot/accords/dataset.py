"""Load the curated accords dataset (data/accords.toml) into a validated `Knowledge`.

The dataset is edited by hand, so every fact is checked at start and a bad entry stops the bot with a message
that names the entry and its problem ("events[12] (2021-01-06 signing): unknown country 'Sudn'"): a typo must
never reach a channel as a wrong answer. Entries are numbered from 0 in file order.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from bot.accords.model import Confidence, KeyDate, Knowledge, Member, Status, TimelineEvent
from bot.countries import Country, lookup

# Nothing the accords track predates the end of the Cold War; an earlier date is a typo (2002 for 2020...).
EARLIEST = date(1990, 1, 1)
_CONFIDENCES: tuple[Confidence, ...] = ("confirmed", "reported")
_KIND = re.compile(r"[a-z]+(?:_[a-z]+)*")
_MEMBER_FIELDS = frozenset({"country", "status", "since", "signed", "key_dates", "sources", "note"})
_EVENT_FIELDS = frozenset({"date", "countries", "kind", "summary", "source_url", "confidence"})
_TOP_FIELDS = frozenset({"members", "events"})


class DatasetError(Exception):
    """The dataset cannot be trusted; the message names the entry and what is wrong with it."""


def load_knowledge(path: Path | None = None) -> Knowledge:
    """Read and validate the dataset: the one shipped in the package unless `path` names another."""
    if path is None:
        return _shipped_knowledge()
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DatasetError(f"{name}: cannot be read: {error}") from error
    return _parse_text(name, text)


@cache
def _shipped_knowledge() -> Knowledge:
    """Read once: `Knowledge` is immutable, and its first use during a poll (the clusterer's accessions) took
    20-35 ms of the event loop, a stall every answer to a user would wait out; the bot reads it at start instead."""
    text = resources.files("bot.accords").joinpath("data", "accords.toml").read_text(encoding="utf-8")
    return _parse_text("accords.toml", text)


def _parse_text(name: str, text: str) -> Knowledge:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DatasetError(_decode_error_message(name, text, error)) from error
    return parse_knowledge(raw)


def parse_knowledge(raw: Mapping[str, object]) -> Knowledge:
    """Validate a decoded dataset; split from the file reading so the checks stand on their own."""
    unknown = sorted(set(raw) - _TOP_FIELDS)
    if unknown:
        raise DatasetError(f"dataset: unknown table {unknown[0]!r} (expected 'members' and 'events')")
    members = tuple(_member(f"members[{i}]", entry) for i, entry in enumerate(_tables(raw, "members")))
    events = tuple(_event(f"events[{i}]", entry) for i, entry in enumerate(_tables(raw, "events")))
    _check_members_unique(members)
    _check_members_in_timeline(members, events)
    # sorted() is stable, and stays so with reverse=True: events of one day keep their order in the file.
    newest_first = tuple(sorted(events, key=lambda event: event.date, reverse=True))
    kinds = tuple(sorted({event.kind for event in events}))
    ordered_members = tuple(sorted(members, key=lambda member: (member.since, member.country.name)))
    return Knowledge(members=ordered_members, events=newest_first, kinds=kinds)


def _decode_error_message(name: str, text: str, error: tomllib.TOMLDecodeError) -> str:
    """Point at the entry holding the syntax error: tomllib only gives a line number."""
    found = re.search(r"at line (\d+)", str(error))
    if found is None:
        return f"{name}: not valid TOML: {error}"
    line = int(found.group(1))
    counts = {"members": -1, "events": -1}
    entry = ""
    for row in text.splitlines()[:line]:
        header = re.fullmatch(r"\s*\[\[\s*(members|events)\s*\]\]\s*(?:#.*)?", row)
        if header:
            counts[header.group(1)] += 1
            entry = f"{header.group(1)}[{counts[header.group(1)]}]"
    where = f"{entry} " if entry else ""
    return f"{name}: {where}not valid TOML: {error}"


def _tables(raw: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise DatasetError(f"{key}: must be an array of tables ([[{key}]])")
    return cast(list[Mapping[str, object]], value)


def _member(where: str, entry: Mapping[str, object]) -> Member:
    country_text = entry.get("country")
    if isinstance(country_text, str):
        where = f"{where} ({country_text})"
    _check_fields(where, entry, _MEMBER_FIELDS, optional=frozenset({"note"}))
    country = _country(where, entry["country"])
    status_text = _text(where, entry, "status")
    try:
        status = Status(status_text)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise DatasetError(f"{where}: unknown status {status_text!r} (known: {known})") from None
    since = _date(where, "since", entry["since"])
    key_dates = _key_dates(where, entry["key_dates"])
    if since not in {key.date for key in key_dates}:
        raise DatasetError(f"{where}: since {since.isoformat()} is not one of its key dates")
    return Member(
        country=country,
        status=status,
        since=since,
        signed=_text(where, entry, "signed"),
        key_dates=key_dates,
        sources=_sources(where, entry["sources"]),
        note=_text(where, entry, "note", required=False),
    )


def _event(where: str, entry: Mapping[str, object]) -> TimelineEvent:
    when, kind = entry.get("date"), entry.get("kind")
    if isinstance(when, date | str) and isinstance(kind, str):
        label = when.isoformat() if isinstance(when, date) else when
        where = f"{where} ({label} {kind})"
    _check_fields(where, entry, _EVENT_FIELDS)
    event_date = _date(where, "date", entry["date"])
    kind = _text(where, entry, "kind")
    if not _KIND.fullmatch(kind):
        raise DatasetError(f"{where}: kind {kind!r} must be lowercase words joined by underscores")
    countries_raw = entry["countries"]
    if not isinstance(countries_raw, list) or not countries_raw:
        raise DatasetError(f"{where}: countries must be a non-empty list")
    countries = tuple(_country(where, item) for item in countries_raw)
    if len({country.key for country in countries}) != len(countries):
        raise DatasetError(f"{where}: a country is listed twice")
    confidence = _text(where, entry, "confidence")
    if confidence not in _CONFIDENCES:
        raise DatasetError(f"{where}: unknown confidence {confidence!r} (known: confirmed, reported)")
    return TimelineEvent(
        date=event_date,
        countries=countries,
        kind=kind,
        summary=_text(where, entry, "summary"),
        source_url=_url(where, entry["source_url"]),
        confidence=confidence,
    )


def _check_fields(
    where: str, entry: Mapping[str, object], known: frozenset[str], optional: frozenset[str] = frozenset()
) -> None:
    # An unknown field is most often a misspelt known one ("sorce"), which would otherwise read as missing.
    extra = sorted(set(entry) - known)
    if extra:
        raise DatasetError(f"{where}: unknown field {extra[0]!r}")
    missing = sorted(known - optional - set(entry))
    if missing:
        raise DatasetError(f"{where}: missing {missing[0]!r}")


def _text(where: str, entry: Mapping[str, object], key: str, *, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise DatasetError(f"{where}: {key} must be text")
    value = value.strip()
    if required and not value:
        raise DatasetError(f"{where}: {key} is empty")
    return value


def _date(where: str, key: str, value: object) -> date:
    # TOML has a date type (since = 2020-09-15), but a quoted ISO date is accepted too.
    if isinstance(value, datetime):
        raise DatasetError(f"{where}: {key} must be a date without a time, got {value.isoformat()}")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise DatasetError(f"{where}: {key} {value!r} is not a valid ISO date (YYYY-MM-DD)") from None
    if not isinstance(value, date):
        raise DatasetError(f"{where}: {key} must be a date")
    if value < EARLIEST:
        raise DatasetError(f"{where}: {key} {value.isoformat()} is before {EARLIEST.isoformat()}")
    return value


def _country(where: str, value: object) -> Country:
    if not isinstance(value, str):
        raise DatasetError(f"{where}: a country must be a name or code, got {value!r}")
    country = lookup(value)
    if country is None:
        raise DatasetError(f"{where}: unknown country {value!r}")
    return country


def _url(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise DatasetError(f"{where}: a source must be a URL, got {value!r}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in value.strip()):
        raise DatasetError(f"{where}: source {value!r} is not an http(s) URL")
    return value.strip()


def _sources(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise DatasetError(f"{where}: sources must be a non-empty list of URLs")
    return tuple(_url(where, item) for item in value)


def _key_dates(where: str, value: object) -> tuple[KeyDate, ...]:
    if not isinstance(value, list) or not value:
        raise DatasetError(f"{where}: key_dates must be a non-empty list")
    result: list[KeyDate] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise DatasetError(f"{where}: key_dates[{i}] must be a table {{ date = ..., what = ... }}")
        entry = cast(Mapping[str, object], item)
        _check_fields(f"{where} key_dates[{i}]", entry, frozenset({"date", "what"}))
        result.append(
            KeyDate(
                date=_date(f"{where} key_dates[{i}]", "date", entry["date"]),
                what=_text(f"{where} key_dates[{i}]", entry, "what"),
            )
        )
    return tuple(sorted(result, key=lambda key: key.date))


def _check_members_unique(members: Sequence[Member]) -> None:
    seen: dict[str, int] = {}
    for i, member in enumerate(members):
        if member.country.key in seen:
            first = seen[member.country.key]
            raise DatasetError(f"members[{i}] ({member.country.name}): duplicate of members[{first}]")
        seen[member.country.key] = i


def _check_members_in_timeline(members: Sequence[Member], events: Sequence[TimelineEvent]) -> None:
    """/members and /timeline must tell the same story: the date a country joined is an event naming it."""
    named = {(event.date, country.key) for event in events for country in event.countries}
    for i, member in enumerate(members):
        if (member.since, member.country.key) not in named:
            raise DatasetError(
                f"members[{i}] ({member.country.name}): no timeline event on its since date "
                f"{member.since.isoformat()} names {member.country.name}"
            )
