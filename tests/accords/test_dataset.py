"""The shipped dataset: every entry valid and sourced, and the facts the bot must never get wrong."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.accords import Knowledge, Member, Status, load_knowledge
from bot.countries import by_key, lookup

RESEARCH_TIMELINE = Path("/work/shared/research/timeline.json")


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def _member(knowledge: Knowledge, key: str) -> Member:
    matches = [m for m in knowledge.members if m.country.key == key]
    assert len(matches) == 1, key
    return matches[0]


def test_the_accession_countries_and_their_statuses(knowledge: Knowledge) -> None:
    statuses = {m.country.key: m.status for m in knowledge.members if m.status.is_member}
    assert statuses == {
        "AE": Status.IN_FORCE,
        "BH": Status.IN_FORCE,
        "MA": Status.IN_FORCE,
        "SD": Status.SIGNED_NOT_RATIFIED,
        "KZ": Status.ANNOUNCED_INTENT,
    }


def test_kazakhstan_announced_intent_on_6_november_2025(knowledge: Knowledge) -> None:
    kazakhstan = _member(knowledge, "KZ")
    assert kazakhstan.status is Status.ANNOUNCED_INTENT
    assert kazakhstan.since == date(2025, 11, 6)
    assert "1992" in kazakhstan.signed  # it joins the Accords; it had relations already


def test_sudan_signed_but_never_ratified(knowledge: Knowledge) -> None:
    sudan = _member(knowledge, "SD")
    assert sudan.status is Status.SIGNED_NOT_RATIFIED
    assert sudan.since == date(2021, 1, 6)
    assert "with the U.S. only" in sudan.signed
    assert "ratified" in sudan.signed  # says it was not
    assert "never" in sudan.note


def test_bahrain_signed_a_declaration_not_a_treaty(knowledge: Knowledge) -> None:
    bahrain = _member(knowledge, "BH")
    assert "Declaration of Peace" in bahrain.signed
    assert "not a treaty" in bahrain.signed
    assert date(2020, 10, 18) in {key.date for key in bahrain.key_dates}


def test_egypt_and_jordan_are_not_members(knowledge: Knowledge) -> None:
    listed = {m.country.key for m in knowledge.members}
    assert "EG" not in listed
    assert "JO" not in listed


def test_kosovo_and_somaliland_are_related_not_members(knowledge: Knowledge) -> None:
    for key in ("XK", "SOMALILAND"):
        member = _member(knowledge, key)
        assert member.status is Status.RELATED
        assert not member.status.is_member


def test_every_entry_is_sourced_with_an_http_url(knowledge: Knowledge) -> None:
    urls = [url for m in knowledge.members for url in m.sources] + [e.source_url for e in knowledge.events]
    assert len(urls) >= len(knowledge.members) + len(knowledge.events)
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https"), url
        assert parts.netloc, url


def test_every_entry_has_text(knowledge: Knowledge) -> None:
    assert all(m.signed and m.key_dates for m in knowledge.members)
    assert all(e.summary and e.countries and e.kind for e in knowledge.events)
    assert {e.confidence for e in knowledge.events} <= {"confirmed", "reported"}


def test_members_are_consistent_with_the_timeline(knowledge: Knowledge) -> None:
    for member in knowledge.members:
        assert member.since in {key.date for key in member.key_dates}, member.country.name
        on_that_day = [e for e in knowledge.events if e.date == member.since and member.country in e.countries]
        assert on_that_day, member.country.name


def test_events_are_newest_first_and_kinds_are_the_sorted_set(knowledge: Knowledge) -> None:
    dates = [event.date for event in knowledge.events]
    assert dates == sorted(dates, reverse=True)
    assert knowledge.kinds == tuple(sorted({event.kind for event in knowledge.events}))


def test_the_timeline_carries_every_researched_event(knowledge: Knowledge) -> None:
    """Same facts as the research (summaries are rewritten); the research's "rumor" is stored as "reported"."""
    if not RESEARCH_TIMELINE.exists():
        pytest.skip("research notes not present in this checkout")
    research = json.loads(RESEARCH_TIMELINE.read_text(encoding="utf-8"))
    assert len(knowledge.events) == len(research) == 59

    def key(when: str, countries: list[str], kind: str, url: str, confidence: str) -> tuple[object, ...]:
        codes = tuple(sorted(country.key for country in map(lookup, countries) if country is not None))
        return (when, codes, kind, url, confidence)

    ours = sorted(
        key(e.date.isoformat(), [c.key for c in e.countries], e.kind, e.source_url, e.confidence)
        for e in knowledge.events
    )
    theirs = sorted(
        key(
            e["date"],
            e["countries"],
            e["kind"],
            e["source_url"],
            "reported" if e["confidence"] == "rumor" else e["confidence"],
        )
        for e in research
    )
    assert ours == theirs
    assert {e.summary for e in knowledge.events}.isdisjoint({e["summary"] for e in research})


def test_ties_on_a_date_keep_the_dataset_order(knowledge: Knowledge) -> None:
    same_day = [e for e in knowledge.events if e.date == date(2021, 1, 24)]
    assert [e.countries[1] for e in same_day] == [by_key("AE"), by_key("MA")]
