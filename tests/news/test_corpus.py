"""Golden test on the development corpus (../shared/corpus): 1,935 real BBC, CNN and Guardian items of 2020.

Measured with this code: the default topic finds all 14 relevant items with no false positive. Events: of the
12 labelled items, the countries agree on all 12 and the kind on 9 (an announced agreement to normalize, such as
"Israel and UAE strike deal to normalise relations", is intent_to_join, as the labels have it).
The rest: two "other" labels (a phone link, a first flight) for which no EventKind exists, and the Guardian's
"Israel signs historic deal with UAE", which we read as a signing.
"""

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bot.news.events import detect_event
from bot.news.gazetteer import tag_countries
from bot.news.topics import default_query

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

pytestmark = pytest.mark.skipif(not (CORPUS / "labels.jsonl").exists(), reason="the shared corpus is not here")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _items() -> list[tuple[dict[str, object], str, str]]:
    feeds: dict[tuple[str, str], tuple[str, str]] = {}
    for path in sorted(CORPUS.glob("2020/*/*.xml")):
        feed = str(path.relative_to(CORPUS))
        for item in ET.parse(path).getroot().iter("item"):
            feeds[(feed, item.findtext("link") or "")] = (
                item.findtext("title") or "",
                item.findtext("description") or "",
            )
    out = []
    for line in (CORPUS / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        title, summary = feeds[(label["feed"], label["link"])]
        out.append((label, title, _text(summary)))
    return out


def test_default_topic_precision_and_recall() -> None:
    query = default_query()
    items = _items()
    assert len(items) == 1935
    matched = [bool(query.match(title, summary)) for _, title, summary in items]
    relevant = [bool(label["relevant"]) for label, _, _ in items]
    true_positives = sum(m and r for m, r in zip(matched, relevant, strict=True))
    false_positives = sum(m and not r for m, r in zip(matched, relevant, strict=True))
    assert sum(relevant) == 14
    assert true_positives / sum(relevant) == 1.0  # recall
    assert false_positives == 0  # precision 1.0 on this corpus


def test_events_agree_with_labels() -> None:
    labelled = [(label, title, summary) for label, title, summary in _items() if label["event"]]
    assert len(labelled) == 12
    strict = countries_agree = 0
    for label, title, summary in labelled:
        expected = label["event"]
        assert isinstance(expected, dict)
        event = detect_event(title, summary, tag_countries(title, summary))
        kind = event.kind.value if event else None
        strict += kind == expected["kind"]
        countries_agree += event is not None and list(event.countries) == expected["countries"]
    assert countries_agree == 12
    assert strict >= 9


def test_no_event_on_items_without_a_normalization_angle() -> None:
    spurious = [
        title
        for label, title, summary in _items()
        if not label["relevant"] and detect_event(title, summary, tag_countries(title, summary)) is not None
    ]
    assert spurious == []
