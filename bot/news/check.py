"""`python -m bot check [URL, file or folder ...]`: read sources once and print the stories found.

Imported by the command line parser, so module level imports stay light (no fetcher, no sources file).

For an admin trying sources and topics, and for saved feeds of past days: no Discord token, no configured
database (a temporary in-memory SQLite store through the same `NewsStore`), every entry counts whatever its age
unless `--since` limits it, and stories group by the articles' own times. Scores do not depend on the clock
(bot.news.stories.score), so saved feeds of 2020 rank as they did on their day. With `--all`, every article says
why it matched (its terms) and why it joined a story, started one (with the event read from it) or was left out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from bot.countries import by_key
from bot.news.matching import Topic
from bot.news.models import DetectedEvent, Source, Story
from bot.news.pipeline import Decision, Poller, PollReport
from bot.news.topics import QueryError, parse_query
from bot.store.database import create_engine, migrate
from bot.store.news import NewsStore

FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".json", ".feed"})
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class CheckError(ValueError):
    """A command-line input that cannot be used; the message says how to fix it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="URL|FILE|FOLDER",
        help="feeds to read; a folder means every feed file in it; none means the built-in sources",
    )
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="QUERY",
        help="match this topic query instead of the built-in topic (repeatable: any of them), to see what a topic "
        "alone matches; e.g. --topic '\"Abraham Accords\" OR normaliz*'",
    )
    parser.add_argument("--since", metavar="AGE|DATE", help="skip entries older than this: 48h, 7d, or 2020-08-13")
    parser.add_argument("--all", action="store_true", help="also list every article with its decision and why")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def parse_since(text: str, now: datetime) -> datetime:
    """`48h`, `30m`, `7d`, `2w` before now, or an ISO date or time (UTC unless it says otherwise)."""
    found = _DURATION.match(text)
    if found:
        return now - timedelta(**{_UNITS[found.group(2).lower()]: int(found.group(1))})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CheckError(f"--since {text!r}: give an age such as 48h or 7d, or a date such as 2020-08-13") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_sources(arguments: Sequence[str]) -> tuple[Source, ...]:
    """URLs as given, files as paths, folders as every feed file in them (sorted); none means built-in sources."""
    if not arguments:
        from bot.news.sources import load_sources

        return load_sources(None)
    found: list[Source] = []
    for argument in arguments:
        scheme = urlsplit(argument).scheme.lower()
        if scheme in {"http", "https", "file"}:
            found.append(Source(argument, urlsplit(argument).hostname or argument))
            continue
        path = Path(argument).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FEED_SUFFIXES)
            if not files:
                raise CheckError(f"{argument}: no feed files ({', '.join(sorted(FEED_SUFFIXES))}) in this folder")
            found.extend(Source(str(p.resolve()), p.name) for p in files)
        elif path.is_file():
            found.append(Source(str(path.resolve()), path.name))
        else:
            raise CheckError(f"{argument}: not a URL (http, https, file), a file or a folder")
    return tuple({source.url: source for source in found}.values())


def _countries(keys: Sequence[str]) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for key in keys:
        try:
            country = by_key(key)
        except KeyError:
            out.append({"code": None, "name": key})
            continue
        out.append({"code": country.iso2, "name": country.name})
    return out


def _event(event: DetectedEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"kind": event.kind.value, "countries": _countries(event.countries)}


def story_json(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "url": story.url,
        "published": story.published.isoformat(),
        "outlets": list(story.outlets),
        "articles": [
            {"title": a.title, "url": a.url, "outlet": a.outlet, "published": a.published.isoformat()}
            for a in story.articles
        ],
        "countries": _countries(story.countries),
        "event": _event(story.event),
        "topics": list(story.topics),
        "score": story.score,
    }


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "title": decision.title,
        "url": decision.url,
        "outlet": decision.outlet,
        "published": decision.published.isoformat(),
        "source": decision.source_url,
        "topics": list(decision.topics),
        "matched_terms": list(decision.matched_terms),
        "decision": "skipped" if decision.skipped else ("story" if decision.topics else "not relevant"),
        "why": decision.reason,
    }


def report_json(report: PollReport, stories: Sequence[Story], *, explain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sources": [{"url": s.url, "status": s.status, "entries": s.entries, "error": s.error} for s in report.sources],
        "stories": [story_json(story) for story in stories],
    }
    if explain:
        out["articles"] = [_decision_json(d) for d in report.decisions]
    return out


def print_text(data: dict[str, Any], out: TextIO) -> None:
    """The JSON object, laid out for a person."""
    for source in data["sources"]:
        error = f": {source['error']}" if source["error"] else ""
        print(f"{source['status']:>12}  {source['entries']:>4} entries  {source['url']}{error}", file=out)
    print(f"\n{len(data['stories'])} stories", file=out)
    for story in data["stories"]:
        countries = ", ".join(c["code"] or c["name"] for c in story["countries"]) or "-"
        event = story["event"]
        what = "no event" if event is None else f"{event['kind']} ({', '.join(c['name'] for c in event['countries'])})"
        print(f"\n#{story['id']} [{story['score']:.2f}] {story['title']}", file=out)
        print(f"    {story['published']}  {countries}  {what}  topics: {', '.join(story['topics'])}", file=out)
        for article in story["articles"]:
            print(f"    - {article['outlet']}: {article['title']}  <{article['url']}>", file=out)
    if "articles" in data:
        print(f"\n{len(data['articles'])} new articles", file=out)
        for article in data["articles"]:
            terms = ", ".join(article["matched_terms"]) or "none"
            print(f"  {article['decision']:>12}  {article['title']}  (terms: {terms}; {article['why']})", file=out)


async def run_check(
    args: argparse.Namespace, *, out: TextIO = sys.stdout, clock: Callable[[], datetime] | None = None
) -> int:
    """Run the check; 0 when at least one source was read, 1 when none could be, 2 for unusable input."""
    now_fn = clock or (lambda: datetime.now(UTC))
    try:
        topics = [Topic(query, parse_query(query)) for query in args.topic]  # named by their text
        since = parse_since(args.since, now_fn()) if args.since else None
        sources = resolve_sources(args.sources)
    except QueryError as exc:
        print(f"error: --topic: {exc} (at column {exc.position + 1})", file=sys.stderr)
        return 2
    except (CheckError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from bot.news.fetch import Fetcher, make_session  # the fetcher's dependencies only when checking

    engine = create_engine("sqlite:///:memory:")
    try:
        await migrate(engine)
        store = NewsStore(engine)
        async with make_session(guarded=False) as session:
            fetcher = Fetcher(session, clock=now_fn)
            poller = Poller(store, fetcher, now_fn, topics=topics, include_default=not topics)
            report = await poller.poll(sources, since=since, force=True, explain=args.all)
        stories = await store.all_stories()
    finally:
        await engine.dispose()
    stories.sort(key=lambda s: (-s.score, s.published, s.id))
    data = report_json(report, stories, explain=args.all)
    if args.json:
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        print_text(data, out)
    readable = any(s.status in {"ok", "not_modified"} for s in report.sources)
    return 0 if readable or not sources else 1
