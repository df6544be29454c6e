"""Queries over the shipped dataset: members, timeline filters, empty answers that explain, autocomplete."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from bot.accords import (
    Knowledge,
    Status,
    country_choices,
    find_events,
    kind_choices,
    list_members,
    load_knowledge,
    resolve_country,
)
from bot.accords.model import TimelineEvent
from bot.countries import by_key


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def _newest_first(events: tuple[TimelineEvent, ...]) -> bool:
    return all(a.date >= b.date for a, b in pairwise(events))


# --- /members ---------------------------------------------------------------------------------------------------


def test_members_ordered_by_since_and_related_apart(knowledge: Knowledge) -> None:
    view = list_members(knowledge)
    assert [m.country.key for m in view.members] == ["BH", "AE", "MA", "SD", "KZ"]  # same day: by name
    assert [m.country.key for m in view.related] == ["XK", "SOMALILAND"]
    assert all(m.status.is_member for m in view.members)


@pytest.mark.parametrize(
    ("status", "members", "related"),
    [
        (Status.IN_FORCE, ["BH", "AE", "MA"], []),
        (Status.SIGNED_NOT_RATIFIED, ["SD"], []),
        (Status.ANNOUNCED_INTENT, ["KZ"], []),
        (Status.RELATED, [], ["XK", "SOMALILAND"]),
    ],
)
def test_members_filtered_by_status(
    knowledge: Knowledge, status: Status, members: list[str], related: list[str]
) -> None:
    view = list_members(knowledge, status)
    assert [m.country.key for m in view.members] == members
    assert [m.country.key for m in view.related] == related


# --- resolving a country ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["uae", "UAE", "United Arab Emirates", "united arab emirates", "AE", "ae", "emirates"])
def test_the_emirates_by_any_name(knowledge: Knowledge, text: str) -> None:
    assert resolve_country(knowledge, text) == by_key("AE")


def test_accents_and_keys_resolve(knowledge: Knowledge) -> None:
    assert resolve_country(knowledge, "TÜRKIYE") == by_key("TR")
    assert resolve_country(knowledge, "xk") == by_key("XK")
    assert resolve_country(knowledge, "somaliland") == by_key("SOMALILAND")


def test_a_known_country_absent_from_the_knowledge_does_not_resolve(knowledge: Knowledge) -> None:
    assert resolve_country(knowledge, "France") is None  # in bot.countries, not in the dataset
    assert resolve_country(knowledge, "Atlantis") is None


# --- /timeline filters ---------------------------------------------------------------------------------------------


def test_no_filter_gives_every_event_newest_first(knowledge: Knowledge) -> None:
    result = find_events(knowledge)
    assert result.empty_reason is None
    assert len(result.events) == 59
    assert result.events[0].date == date(2026, 5, 29)
    assert result.events[-1].date == date(2020, 8, 13)
    assert _newest_first(result.events)


@pytest.mark.parametrize("text", ["uae", "United Arab Emirates", "AE", "emirates", "  Emirates "])
def test_filter_by_country_under_any_name(knowledge: Knowledge, text: str) -> None:
    result = find_events(knowledge, country=text)
    assert result.empty_reason is None
    assert result.events
    assert all(by_key("AE") in event.countries for event in result.events)
    expected = [e for e in knowledge.events if by_key("AE") in e.countries]
    assert list(result.events) == expected
    assert _newest_first(result.events)


def test_filter_by_year(knowledge: Knowledge) -> None:
    result = find_events(knowledge, year=2023)
    assert {e.date.year for e in result.events} == {2023}
    assert len(result.events) == sum(1 for e in knowledge.events if e.date.year == 2023)
    assert _newest_first(result.events)


@pytest.mark.parametrize("text", ["embassy_opening", "Embassy opening", "EMBASSY OPENING", "embassy-opening"])
def test_filter_by_kind_accepts_spaces_and_any_case(knowledge: Knowledge, text: str) -> None:
    result = find_events(knowledge, kind=text)
    assert [e.date for e in result.events] == [
        date(2023, 9, 4),
        date(2021, 7, 14),
        date(2021, 6, 29),
        date(2021, 3, 14),
        date(2021, 1, 24),
    ]
    assert all(e.kind == "embassy_opening" for e in result.events)


def test_filters_combine(knowledge: Knowledge) -> None:
    result = find_events(knowledge, country="Israel", year=2021, kind="embassy opening")
    assert [(e.date, e.countries[0].key) for e in result.events] == [
        (date(2021, 7, 14), "AE"),
        (date(2021, 6, 29), "IL"),
        (date(2021, 3, 14), "XK"),
        (date(2021, 1, 24), "IL"),
    ]
    sudan_signings = find_events(knowledge, country="SD", kind="signing")
    assert [e.date for e in sudan_signings.events] == [date(2021, 1, 6)]


def test_blank_filters_are_ignored(knowledge: Knowledge) -> None:
    assert find_events(knowledge, country="  ", kind="").events == knowledge.events


def test_events_of_one_day_keep_the_dataset_order(knowledge: Knowledge) -> None:
    result = find_events(knowledge, year=2020)
    same_day = [e for e in result.events if e.date == date(2020, 10, 23)]
    assert [e.kind for e in same_day] == ["announcement", "statement"]


# --- why nothing matched -------------------------------------------------------------------------------------------


def test_unknown_country_is_named(knowledge: Knowledge) -> None:
    result = find_events(knowledge, country="Atlantis", year=2021)
    assert result.events == ()
    assert result.empty_reason == "No country called 'Atlantis' is in the timeline."


def test_unknown_kind_is_named(knowledge: Knowledge) -> None:
    result = find_events(knowledge, kind="coronation")
    assert result.events == ()
    assert result.empty_reason == "'coronation' is not a known kind of event."


@pytest.mark.parametrize("year", [1999, 2024])
def test_a_year_without_any_event(knowledge: Knowledge, year: int) -> None:
    result = find_events(knowledge, year=year, country="Kosovo")
    assert result.events == ()
    assert result.empty_reason == f"No events in {year}; the timeline runs from 2020 to 2026."


def test_every_failing_filter_is_named(knowledge: Knowledge) -> None:
    result = find_events(knowledge, country="Atlantis", kind="coronation", year=1999)
    assert result.empty_reason == (
        "No country called 'Atlantis' is in the timeline. 'coronation' is not a known kind of event. "
        "No events in 1999; the timeline runs from 2020 to 2026."
    )


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"country": "Kosovo", "kind": "signing", "year": 2022}, "Kosovo has no event of kind 'signing' in 2022."),
        ({"country": "Kosovo", "kind": "Signing"}, "Kosovo has no event of kind 'signing'."),
        ({"country": "kz", "year": 2020}, "Kazakhstan has no event in 2020."),
        ({"kind": "intent to join", "year": 2021}, "The timeline has no event of kind 'intent_to_join' in 2021."),
    ],
)
def test_a_combination_that_matches_nothing_is_named(
    knowledge: Knowledge, filters: dict[str, str | int], reason: str
) -> None:
    country, kind, year = filters.get("country"), filters.get("kind"), filters.get("year")
    assert country is None or isinstance(country, str)
    assert kind is None or isinstance(kind, str)
    assert year is None or isinstance(year, int)
    result = find_events(knowledge, country=country, kind=kind, year=year)
    assert result.events == ()
    assert result.empty_reason == reason


def test_an_empty_timeline_says_so() -> None:
    result = find_events(Knowledge(members=(), events=()), year=2021)
    assert result.empty_reason == "No events in 2021; the timeline is empty."


# --- autocomplete --------------------------------------------------------------------------------------------------


def test_country_choices_without_text_list_members_then_related_then_others(knowledge: Knowledge) -> None:
    names = [c.name for c in country_choices(knowledge, "", limit=100)]
    assert names[:5] == ["Bahrain", "Kazakhstan", "Morocco", "Sudan", "United Arab Emirates"]
    assert names[5:7] == ["Kosovo", "Somaliland"]
    assert names[7:] == sorted(names[7:])
    assert "Egypt" in names[7:]
    assert "France" not in names
    assert len(country_choices(knowledge, "")) == 25  # Discord's limit, by default


def test_country_choices_prefix_before_substring_members_first(knowledge: Knowledge) -> None:
    names = [c.name for c in country_choices(knowledge, "s")]
    # "State of Palestine" is an alias of the Palestinian territories, so it is a prefix match.
    prefix = ["Sudan", "Somaliland", "Palestinian territories", "Saudi Arabia", "Serbia", "Somalia", "Syria"]
    assert names[: len(prefix)] == prefix
    assert names[len(prefix) : len(prefix) + 3] == ["Kazakhstan", "United Arab Emirates", "Kosovo"]
    assert "Israel" in names  # contains an s
    assert "Bahrain" not in names


def test_country_choices_match_aliases_and_codes(knowledge: Knowledge) -> None:
    assert country_choices(knowledge, "emir")[0] == by_key("AE")
    assert country_choices(knowledge, "KZ") == [by_key("KZ")]
    assert country_choices(knowledge, "türk") == [by_key("TR"), by_key("TM")]  # Türkiye, then Turkmenistan
    assert country_choices(knowledge, "zzz") == []
    assert len(country_choices(knowledge, "a", limit=3)) == 3


def test_kind_choices(knowledge: Knowledge) -> None:
    assert kind_choices(knowledge, "emb") == ["embassy_opening"]
    assert kind_choices(knowledge, "Embassy Op") == ["embassy_opening"]
    assert kind_choices(knowledge, "opening") == ["embassy_opening", "liaison_office_opening"]
    assert kind_choices(knowledge, "sign") == ["signing"]
    assert kind_choices(knowledge, "an") == ["anniversary", "announcement", "peace_plan", "security_arrangement"]
    assert kind_choices(knowledge, "") == list(knowledge.kinds)[:25]
    assert kind_choices(knowledge, "", limit=100) == list(knowledge.kinds)
