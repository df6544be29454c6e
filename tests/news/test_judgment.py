"""bench/judgment.py scores a labelled folder by the corpus rules: here on a small folder written for the test."""

from __future__ import annotations

import json
from pathlib import Path

from bench.judgment import judge, report

DAY1 = "Thu, 13 Aug 2020 12:00:00 +0000"
DAY1_LATER = "Thu, 13 Aug 2020 18:00:00 +0000"
DAY6 = "Tue, 18 Aug 2020 12:00:00 +0000"


def write_folder(
    folder: Path, items: list[tuple[str, str, str, str, dict[str, object]]], events: object = None
) -> None:
    """Items are (feed, title, link, date, label fields); one RSS file per feed, labels.jsonl, events.json."""
    feeds: dict[str, list[str]] = {}
    labels = []
    for feed, title, link, date, label in items:
        feeds.setdefault(feed, []).append(
            f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate></item>"
        )
        labels.append({"feed": feed, "link": link, "title": title, "event": None, "story": None, **label})
    for feed, parts in feeds.items():
        path = folder / feed
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'<rss version="2.0"><channel><title>{feed}</title>{"".join(parts)}</channel></rss>')
    (folder / "labels.jsonl").write_text("\n".join(json.dumps(label) for label in labels))
    if events is not None:
        (folder / "events.json").write_text(json.dumps(events))


UAE = {"relevant": True, "story": "ae", "event": {"kind": "intent_to_join", "countries": ["AE"]}}


async def test_flagged_items_borderline_and_events_from_the_labels(tmp_path: Path) -> None:
    write_folder(
        tmp_path,
        [
            ("d1/a.xml", "Israel and UAE agree to normalize relations", "https://a.example/1", DAY1, UAE),
            ("d1/b.xml", "UAE and Israel to normalize ties in US-brokered deal", "https://b.example/1", DAY1, UAE),
            ("d1/a.xml", "Football club wins the cup", "https://a.example/2", DAY1, {"relevant": False}),
            # flagged, but borderline: counted neither way
            (
                "d1/b.xml",
                "Bolivia cuts ties with Israel",
                "https://b.example/2",
                DAY1,
                {"relevant": False, "tier": "borderline"},
            ),
            # relevant, but the engine does not see it: a miss
            ("d1/b.xml", "Gulf state mulls its options", "https://b.example/3", DAY1, {"relevant": True}),
        ],
    )
    judgment = await judge(tmp_path)
    assert (judgment.items, judgment.borderline, judgment.relevant) == (5, 1, 3)
    assert judgment.precision == 1.0
    assert judgment.recall == 2 / 3
    assert [label.title for label in judgment.missed] == ["Gulf state mulls its options"]
    assert judgment.events_found == ["ae"]  # expected from the labels: no events.json here
    assert judgment.splits == []
    text = report(judgment, why=True)
    assert "recall    0.67 (2 of 3 relevant items flagged)" in text
    assert "Gulf state mulls its options  [matched no topic]" in text


async def test_events_json_splits_by_time_span_and_merges(tmp_path: Path) -> None:
    one_story = {"relevant": True, "story": "mixed"}
    write_folder(
        tmp_path,
        [
            # one labelled story told as two unrelated events on one day: a split
            ("d1/a.xml", "Bahrain recalls ambassador from Israel", "https://a.example/1", DAY1, one_story),
            ("d1/b.xml", "Morocco and Israel agree to normalize relations", "https://b.example/1", DAY1, one_story),
            # one labelled story five days apart: two stories are allowed by its time span
            (
                "d1/a.xml",
                "Sudan and Israel agree to normalize relations",
                "https://a.example/2",
                DAY1_LATER,
                {"relevant": True, "story": "sd"},
            ),
            (
                "d6/a.xml",
                "Sudan says normalization with Israel will take time",
                "https://a.example/3",
                DAY6,
                {"relevant": True, "story": "sd"},
            ),
            # two labelled events the engine tells as one: a merge
            (
                "d1/b.xml",
                "UAE and Israel agree to normalize relations",
                "https://b.example/2",
                DAY1,
                {"relevant": True, "story": "x"},
            ),
            (
                "d1/a.xml",
                "Israel and the UAE agree to normalize relations",
                "https://a.example/4",
                DAY1,
                {"relevant": True, "story": "y"},
            ),
        ],
        events=[
            {"story": "sd", "kinds": ["intent_to_join"], "countries": ["Sudan"]},
            {"story": "mixed", "kinds": ["suspension"], "countries": ["Bahrain"]},
            {"story": "x", "kinds": ["intent_to_join"], "countries": ["United Arab Emirates"]},
            {"story": "y", "kinds": ["intent_to_join"], "countries": ["UAE"]},
        ],
    )
    judgment = await judge(tmp_path)
    assert judgment.splits == [("mixed", 2, 1)]
    assert judgment.events_expected == 4
    assert {"sd", "x", "y"} <= set(judgment.events_found)
    assert [keys for _, keys in judgment.merges] == [("x", "y")]
