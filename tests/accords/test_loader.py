"""The loader fails loudly on a bad entry, naming the entry and the problem."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.accords import DatasetError, Status, load_knowledge

MEMBER = """
[[members]]
country = "SD"
status = "signed_not_ratified"
since = 2021-01-06
signed = "The Abraham Accords Declaration, with the U.S. only."
sources = ["https://example.org/sudan"]
key_dates = [{ date = 2021-01-06, what = "Declaration signed" }]
"""

EVENT_SIGNING = """
[[events]]
date = 2021-01-06
countries = ["Sudan", "United States"]
kind = "signing"
confidence = "confirmed"
summary = "Sudan signs the Declaration with the U.S."
source_url = "https://example.org/signing"
"""

EVENT_ANNOUNCEMENT = """
[[events]]
date = 2020-10-23
countries = ["SD", "il"]
kind = "announcement"
confidence = "reported"
summary = "Normalization announced."
source_url = "http://example.org/announcement"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accords.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _fails(tmp_path: Path, text: str) -> str:
    with pytest.raises(DatasetError) as caught:
        load_knowledge(_write(tmp_path, text))
    return str(caught.value)


def test_a_small_valid_file_loads(tmp_path: Path) -> None:
    knowledge = load_knowledge(_write(tmp_path, MEMBER + EVENT_ANNOUNCEMENT + EVENT_SIGNING))
    assert [m.country.name for m in knowledge.members] == ["Sudan"]
    assert knowledge.members[0].status is Status.SIGNED_NOT_RATIFIED
    assert [e.date for e in knowledge.events] == [date(2021, 1, 6), date(2020, 10, 23)]  # newest first
    assert [c.key for c in knowledge.events[1].countries] == ["SD", "IL"]  # codes, any case
    assert knowledge.kinds == ("announcement", "signing")


def test_a_quoted_iso_date_is_accepted(tmp_path: Path) -> None:
    text = EVENT_ANNOUNCEMENT.replace("date = 2020-10-23", 'date = "2020-10-23"')
    assert load_knowledge(_write(tmp_path, text)).events[0].date == date(2020, 10, 23)


def test_an_impossible_date_names_the_event(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER + EVENT_SIGNING + EVENT_ANNOUNCEMENT.replace("2020-10-23", '"2021-02-30"'))
    assert message.startswith("events[1] (2021-02-30 announcement): date '2021-02-30' is not a valid ISO date")


def test_an_impossible_bare_toml_date_points_at_its_entry(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER + EVENT_SIGNING + EVENT_ANNOUNCEMENT.replace("2020-10-23", "2021-02-30"))
    assert "events[1] not valid TOML" in message


def test_a_date_before_1990_is_refused(tmp_path: Path) -> None:
    message = _fails(tmp_path, EVENT_ANNOUNCEMENT.replace("2020-10-23", "1979-03-26"))
    assert message == "events[0] (1979-03-26 announcement): date 1979-03-26 is before 1990-01-01"


def test_an_unknown_country_names_the_event(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER + EVENT_SIGNING.replace('"Sudan"', '"Sudn"'))
    assert message == "events[0] (2021-01-06 signing): unknown country 'Sudn'"


def test_an_unknown_member_country_names_the_member(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER.replace('"SD"', '"Atlantis"') + EVENT_SIGNING)
    assert message == "members[0] (Atlantis): unknown country 'Atlantis'"


def test_a_missing_source_names_the_event(tmp_path: Path) -> None:
    text = EVENT_SIGNING.replace('source_url = "https://example.org/signing"\n', "")
    assert _fails(tmp_path, text) == "events[0] (2021-01-06 signing): missing 'source_url'"


def test_a_misspelt_field_is_reported_as_such(tmp_path: Path) -> None:
    text = EVENT_SIGNING.replace("source_url =", "sorce_url =")
    assert _fails(tmp_path, text) == "events[0] (2021-01-06 signing): unknown field 'sorce_url'"


def test_a_source_that_is_not_a_web_address_is_refused(tmp_path: Path) -> None:
    text = EVENT_SIGNING.replace("https://example.org/signing", "ftp://example.org/x")
    expected = "events[0] (2021-01-06 signing): source 'ftp://example.org/x' is not an http(s) URL"
    assert _fails(tmp_path, text) == expected


def test_a_member_without_sources_is_refused(tmp_path: Path) -> None:
    text = MEMBER.replace('sources = ["https://example.org/sudan"]', "sources = []") + EVENT_SIGNING
    assert _fails(tmp_path, text) == "members[0] (SD): sources must be a non-empty list of URLs"


def test_a_bad_status_names_the_member(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER.replace('"signed_not_ratified"', '"joined"') + EVENT_SIGNING)
    assert message.startswith("members[0] (SD): unknown status 'joined'")


def test_a_bad_confidence_is_refused(tmp_path: Path) -> None:
    message = _fails(tmp_path, EVENT_SIGNING.replace('"confirmed"', '"rumor"'))
    assert message.startswith("events[0] (2021-01-06 signing): unknown confidence 'rumor'")


def test_an_empty_summary_is_refused(tmp_path: Path) -> None:
    text = EVENT_SIGNING.replace('"Sudan signs the Declaration with the U.S."', '"  "')
    assert _fails(tmp_path, text) == "events[0] (2021-01-06 signing): summary is empty"


def test_since_must_be_a_key_date(tmp_path: Path) -> None:
    text = MEMBER.replace("since = 2021-01-06", "since = 2020-10-23") + EVENT_ANNOUNCEMENT + EVENT_SIGNING
    assert _fails(tmp_path, text) == "members[0] (SD): since 2020-10-23 is not one of its key dates"


def test_a_member_needs_a_timeline_event_on_its_since_date(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER + EVENT_ANNOUNCEMENT)
    assert message == "members[0] (Sudan): no timeline event on its since date 2021-01-06 names Sudan"


def test_a_duplicate_member_is_refused(tmp_path: Path) -> None:
    message = _fails(tmp_path, MEMBER + MEMBER.replace('"SD"', '"Sudan"') + EVENT_SIGNING)
    assert message == "members[1] (Sudan): duplicate of members[0]"


def test_an_unreadable_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot be read"):
        load_knowledge(tmp_path / "missing.toml")


def test_the_shipped_dataset_is_read_once() -> None:
    """The bot reads it at start; a later use (the clusterer's accessions, during a poll) must not read it again."""
    assert load_knowledge() is load_knowledge()
