"""Golden tests on the development corpora (../shared/corpus): 2020 (1,935 BBC, CNN and Guardian items) and 2023
(2,847 items of eight outlets), read through `python -m bot check` and scored by bench/judgment.py with the
corpus README's rules.

The bars (issue 12), on each corpus: relevance precision and recall >= 0.95, every expected event found with its
country, no story split, and no two expected events merged into one story. Measured with this code: precision and
recall 1.00 on both, events 10 of 10 (2020) and 9 of 9 (2023), no split, no merge.

Item by item, the events agree with the labels on every country but one (Le Monde's "Israel and Sundan agree...":
the misspelt country is named nowhere, and its story takes Sudan from the other outlets), and on the kind for 9 of
12 items of 2020 (two "other" labels, a phone link and a first flight, for which no kind exists, and the Guardian's
"Israel signs historic deal with UAE", read as a signing) and all 17 of 2023.
"""

import asyncio
import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.judgment import Judgment, judge
from bot.news.events import detect_event
from bot.news.gazetteer import tag_countries

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
FOLDERS = [pytest.param(CORPUS, id="2020"), pytest.param(CORPUS / "2023", id="2023")]

pytestmark = pytest.mark.skipif(not (CORPUS / "labels.jsonl").exists(), reason="the shared corpus is not here")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _items(folder: Path) -> list[tuple[dict[str, object], str, str]]:
    """Every labelled item with its title and plain-text summary, read from the feed files themselves."""
    labels = [json.loads(line) for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    feeds: dict[tuple[str, str], tuple[str, str]] = {}
    for feed in sorted({str(label["feed"]) for label in labels}):
        for item in ET.parse(folder / feed).getroot().iter("item"):
            feeds[(feed, item.findtext("link") or "")] = (
                html.unescape(item.findtext("title") or ""),
                item.findtext("description") or "",
            )
    out = []
    for label in labels:
        title, summary = feeds[(str(label["feed"]), str(label["link"]))]
        out.append((label, title, _text(summary)))
    return out


@pytest.fixture(scope="module", params=FOLDERS)
def judgment(request: pytest.FixtureRequest) -> Judgment:
    """The corpus judged once for the module's tests (a poll of every feed into a temporary store)."""
    folder: Path = request.param
    return asyncio.run(judge(folder))


def test_relevance_precision_and_recall(judgment: Judgment) -> None:
    assert judgment.precision >= 0.95, [label.title for label in judgment.false_alarms]
    assert judgment.recall >= 0.95, [label.title for label in judgment.missed]


def test_every_expected_event_is_found_with_its_country(judgment: Judgment) -> None:
    assert judgment.events_expected > 0
    assert judgment.events_missed == []


def test_no_story_is_split_and_no_two_events_are_merged(judgment: Judgment) -> None:
    assert judgment.splits == []
    assert judgment.merges == []


@pytest.mark.parametrize(("folder", "labelled", "kinds_agree"), [(CORPUS, 12, 9), (CORPUS / "2023", 17, 17)])
def test_events_agree_with_labels(folder: Path, labelled: int, kinds_agree: int) -> None:
    items = [
        (label, title, summary)
        for label, title, summary in _items(folder)
        if label["event"] and label.get("tier") != "borderline"
    ]
    assert len(items) == labelled
    kinds = countries = 0
    for label, title, summary in items:
        expected = label["event"]
        assert isinstance(expected, dict)
        event = detect_event(title, summary, tag_countries(title, summary))
        kinds += event is not None and event.kind.value == expected["kind"]
        countries += event is not None and set(expected["countries"]) <= set(event.countries)
    assert kinds >= kinds_agree
    assert countries >= labelled - 1


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_event_on_items_without_a_normalization_angle(folder: Path) -> None:
    spurious = [
        title
        for label, title, summary in _items(folder)
        if not label["relevant"]
        and label.get("tier") != "borderline"
        and detect_event(title, summary, tag_countries(title, summary)) is not None
    ]
    assert spurious == []
