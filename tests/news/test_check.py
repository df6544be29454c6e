"""`python -m bot check` on saved feeds of 13-14 August 2020 (copied from ../shared/corpus/2020)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.news.check import CheckError, add_arguments, parse_since, resolve_sources, run_check

SAVED = Path(__file__).parent / "saved"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


async def check_json(*argv: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = await run_check(args(*argv, "--json"), out=out, clock=lambda: NOW)
    return code, json.loads(out.getvalue())


async def test_a_folder_of_saved_feeds_lists_the_uae_story_across_outlets() -> None:
    code, data = await check_json(str(SAVED))
    assert code == 0
    assert [s["status"] for s in data["sources"]] == ["ok"] * 6
    assert all(s["entries"] > 0 for s in data["sources"])
    uae = [s for s in data["stories"] if {"AE", "IL"} <= {c["code"] for c in s["countries"]}]
    story = max(uae, key=lambda s: len(s["outlets"]))
    assert len(story["outlets"]) == 3  # BBC, CNN and the Guardian in one story
    assert len(story["articles"]) == 3
    assert all(a["published"].startswith("2020-08-13") for a in story["articles"])
    # events.py reads the 13 August announcement as an accession announced (intent_to_join; signed 15 September)
    assert story["event"]["kind"] in {"intent_to_join", "joined", "signing"}
    assert story["event"]["countries"] == [{"code": "AE", "name": "United Arab Emirates"}]
    assert story["topics"] == ["accords"]
    assert story is data["stories"][0]  # the most important story of those days comes first
    assert set(story) == {
        "id",
        "title",
        "url",
        "published",
        "outlets",
        "articles",
        "countries",
        "event",
        "topics",
        "score",
    }
    assert "articles" not in data  # only with --all


async def test_all_explains_every_article_and_since_limits_by_date() -> None:
    code, data = await check_json(str(SAVED / "2020-08-13-bbc.xml"), "--all", "--since", "2020-08-13T20:00")
    assert code == 0
    decisions = {a["url"]: a for a in data["articles"]}
    uae = next(a for a in decisions.values() if "UAE" in a["title"])
    assert uae["decision"] == "story"
    assert uae["matched_terms"]
    assert any(a["decision"] == "not relevant" and a["matched_terms"] == [] for a in decisions.values())
    assert any(a["decision"] == "skipped" for a in decisions.values())
    assert all(a["published"] >= "2020-08-13T20:00" for a in decisions.values() if a["decision"] != "skipped")


async def test_a_topic_of_ones_own_replaces_the_built_in_one() -> None:
    """`--topic` shows what that topic alone matches: the built-in topic's stories are not mixed in."""
    code, data = await check_json(str(SAVED / "2020-08-13-bbc.xml"), "--topic", "covid* OR coronavirus")
    assert code == 0
    topics = {topic for story in data["stories"] for topic in story["topics"]}
    assert topics == {"covid* OR coronavirus"}


async def test_text_output_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert await run_check(args(str(SAVED / "2020-08-13-cnn.xml")), out=out, clock=lambda: NOW) == 0
    text = out.getvalue()
    assert "stories" in text
    assert "UAE" in text


async def test_bad_input_is_refused_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_check(args("--topic", '"unclosed'), out=io.StringIO(), clock=lambda: NOW) == 2
    assert "--topic" in capsys.readouterr().err
    assert await run_check(args(str(SAVED / "missing.xml")), out=io.StringIO(), clock=lambda: NOW) == 2
    assert "missing.xml" in capsys.readouterr().err


def test_since_accepts_ages_and_dates() -> None:
    assert parse_since("48h", NOW) == datetime(2025, 12, 30, tzinfo=UTC)
    assert parse_since("2w", NOW) == datetime(2025, 12, 18, tzinfo=UTC)
    assert parse_since("2020-08-13", NOW) == datetime(2020, 8, 13, tzinfo=UTC)
    with pytest.raises(CheckError, match="48h"):
        parse_since("yesterday", NOW)


def test_a_folder_means_its_feed_files_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.xml").write_text("<rss/>")
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("not a feed")
    sources = resolve_sources([str(tmp_path), "http://127.0.0.1:8080/feed"])
    assert [Path(s.url).name for s in sources[:2]] == ["a.json", "b.xml"]
    assert sources[2].url == "http://127.0.0.1:8080/feed"
    assert all(s.trusted for s in sources)
    with pytest.raises(CheckError, match="no feed files"):
        resolve_sources([str(tmp_path / "empty")] if (tmp_path / "empty").mkdir() is None else [])


async def test_all_says_why_each_article_joined_a_story_or_started_one() -> None:
    day = [str(SAVED / f"2020-08-13-{outlet}.xml") for outlet in ("bbc", "cnn", "guardian")]
    code, data = await check_json(*day, "--all")
    assert code == 0
    uae = sorted(
        (a["published"], a["why"]) for a in data["articles"] if a["decision"] == "story" and "UAE" in a["title"]
    )
    assert len(uae) == 3
    # the first report starts the story and names the event it read; the others join it as the same event
    assert uae[0][1] == "new story: its event, intent_to_join (AE), is in no story of the window, nor a similar title"
    assert all(why.startswith("joined a story: same event as the story's article: ") for _, why in uae[1:])
