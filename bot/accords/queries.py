"""Questions asked of the accords knowledge: who is a member, what happened when, what to autocomplete.

Plain functions over a loaded `Knowledge`; a front end (Discord today) turns the answers into messages. An empty
answer always says why, naming the filter that matched nothing, so users can fix their input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.accords.model import Knowledge, Member, Status, TimelineEvent
from bot.countries import Country, fold, lookup


@dataclass(frozen=True, slots=True)
class MembersView:
    members: tuple[Member, ...]  # signed (in force or not) or announced, ordered by `since`
    related: tuple[Member, ...]  # related deals, not signatories, ordered by `since`


@dataclass(frozen=True, slots=True)
class TimelineResult:
    events: tuple[TimelineEvent, ...]  # newest first; events of one day keep the dataset's order
    empty_reason: str | None = None  # set when nothing matched: which filter, or which combination, matched nothing


def list_members(knowledge: Knowledge, status: Status | None = None) -> MembersView:
    """Members and related countries apart, so a front end can never show a related country as a member."""
    chosen = sorted(
        (m for m in knowledge.members if status is None or m.status is status),
        key=lambda m: (m.since, m.country.name),
    )
    return MembersView(
        members=tuple(m for m in chosen if m.status.is_member),
        related=tuple(m for m in chosen if m.status is Status.RELATED),
    )


def resolve_country(knowledge: Knowledge, text: str) -> Country | None:
    """The country meant by a name, code, key or alias, only if the knowledge mentions it."""
    country = lookup(text)
    if country is None:
        return None
    return country if country.key in _mentioned(knowledge) else None


def country_choices(knowledge: Knowledge, typed: str, limit: int = 25) -> list[Country]:
    """Autocomplete: prefix matches before substring matches; members, then related, then the rest; then by name."""
    tier = _tiers(knowledge)
    needle = fold(typed)
    ranked: list[tuple[int, int, str, Country]] = []
    for country in _mentioned(knowledge).values():
        terms = [fold(term) for term in (country.name, *country.aliases, country.key, country.iso2 or "") if term]
        match = _match(needle, terms)
        if match is not None:
            ranked.append((match, tier.get(country.key, 2), country.name, country))
    ranked.sort(key=lambda row: row[:3])
    return [row[3] for row in ranked[:limit]]


def kind_choices(knowledge: Knowledge, typed: str, limit: int = 25) -> list[str]:
    """Autocomplete for event kinds: prefix matches first, then substring matches, alphabetical within each."""
    needle = _normal_kind(typed)
    ranked: list[tuple[int, str]] = []
    for kind in knowledge.kinds:
        match = _match(needle, [kind])
        if match is not None:
            ranked.append((match, kind))
    ranked.sort()
    return [kind for _, kind in ranked[:limit]]


def find_events(
    knowledge: Knowledge, *, country: str | None = None, year: int | None = None, kind: str | None = None
) -> TimelineResult:
    """Events matching every filter given, newest first; when none does, say precisely which filter failed.

    First each filter alone (an unknown country, an unknown kind, a year without events); only when each matches
    something on its own is the combination to blame, and the reason names the filters together.
    """
    country_text = (country or "").strip()
    kind_text = (kind or "").strip()
    reasons: list[str] = []
    wanted_country: Country | None = None
    if country_text:
        wanted_country = resolve_country(knowledge, country_text)
        if wanted_country is None:
            reasons.append(f"No country called '{country_text}' is in the timeline.")
    wanted_kind: str | None = None
    if kind_text:
        wanted_kind = _normal_kind(kind_text)
        if wanted_kind not in knowledge.kinds:
            reasons.append(f"'{kind_text}' is not a known kind of event.")
    if year is not None and not any(event.date.year == year for event in knowledge.events):
        reasons.append(_empty_year(knowledge, year))
    if reasons:
        return TimelineResult((), " ".join(reasons))

    events = tuple(
        event
        for event in knowledge.events
        if (wanted_country is None or wanted_country in event.countries)
        and (year is None or event.date.year == year)
        and (wanted_kind is None or event.kind == wanted_kind)
    )
    if events:
        return TimelineResult(events)
    return TimelineResult((), _combination_reason(wanted_country, year, wanted_kind))


def _mentioned(knowledge: Knowledge) -> dict[str, Country]:
    """Every country the knowledge names, by key: members first, then the countries of events."""
    countries = {member.country.key: member.country for member in knowledge.members}
    for event in knowledge.events:
        for country in event.countries:
            countries.setdefault(country.key, country)
    return countries


def _tiers(knowledge: Knowledge) -> dict[str, int]:
    return {m.country.key: (0 if m.status.is_member else 1) for m in knowledge.members}


def _match(needle: str, terms: Iterable[str]) -> int | None:
    """0 when a term starts with the text, 1 when one contains it, None otherwise; empty text matches all."""
    folded = list(terms)
    if any(term.startswith(needle) for term in folded):
        return 0
    if any(needle in term for term in folded):
        return 1
    return None


def _normal_kind(text: str) -> str:
    """ "Embassy opening", "embassy-opening" and "EMBASSY_OPENING" all mean embassy_opening."""
    return "_".join(fold(text).replace("-", " ").replace("_", " ").split())


def _empty_year(knowledge: Knowledge, year: int) -> str:
    if not knowledge.events:
        return f"No events in {year}; the timeline is empty."
    first, last = knowledge.events[-1].date.year, knowledge.events[0].date.year
    return f"No events in {year}; the timeline runs from {first} to {last}."


def _combination_reason(country: Country | None, year: int | None, kind: str | None) -> str:
    what = f"no event of kind '{kind}'" if kind else "no event"
    when = f" in {year}" if year is not None else ""
    if country is not None:
        return f"{country.name} has {what}{when}."
    return f"The timeline has {what}{when}."


def with_reported(knowledge: Knowledge, reported: Iterable[TimelineEvent]) -> Knowledge:
    """The knowledge with events detected in the news beside the curated ones, newest first.

    Reported events only ever add to the timeline: membership stays as curated (`/members` shows reported
    accessions under their own heading, never as members).
    """
    extra = tuple(reported)
    if not extra:
        return knowledge
    events = tuple(sorted((*knowledge.events, *extra), key=lambda event: event.date, reverse=True))
    return Knowledge(knowledge.members, events, tuple(sorted({event.kind for event in events})))
