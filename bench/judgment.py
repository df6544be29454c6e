"""News judgment on a labelled corpus (issue 12): relevance, events and splits, scored by the corpus rules.

    python bench/judgment.py ../shared/corpus            # 2020: labels.jsonl beside the 2020 folder
    python bench/judgment.py ../shared/corpus/2023       # 2023: labels.jsonl and events.json inside
    python bench/judgment.py --why ../shared/corpus/2023 # also why each wrong item was flagged or left out
    python bench/judgment.py --timing ../shared/corpus ../shared/corpus/2023   # speed of matching and clustering

A folder holds `labels.jsonl` (one line per item: `feed` relative to the folder, `link`, `relevant`, optional
`tier`, `event`, `story`) and optionally `events.json`. The feeds the labels name are read by the product's own
path, `python -m bot check --all --json` (parse, identity, topics, countries, events, clustering, store), so the
figures are what an operator would see. Scoring rules (../shared/corpus/README.md):
- an item is flagged when its link is among a story's articles; borderline items (`tier` borderline) count
  neither way; precision and recall are over the other items;
- an expected event is found when the story that holds most of its story's items (ties: the higher score)
  carries an acceptable kind and every expected country among its event's countries. Without `events.json`
  the expected events come from the labels: each story whose items carry events expects one of their kinds and
  all their countries; the kind `other` (no event kind fits, such as a first flight) asks only that the story
  names the countries;
- a labelled story is split when its flagged items lie in more stories than its time span forces: a story spans
  at most the clustering window, so items a week apart are allowed apart, items of one day are not. Splits
  count the labelled stories split;
- merges (printed, not a bar of the issue) count the stories that hold items of two labelled stories which both
  expect an event: two events told as one. Commentary (a labelled story with no expected event) joining an event's
  story is no merge.

`--timing` measures the match stage (`TopicMatcher.tag` on every item of the folders) and clustering (every
matched article into a `Clusterer`), three runs each, and prints min and median.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.countries import lookup
from bot.news.check import add_arguments, run_check
from bot.news.matching import TopicMatcher
from bot.news.models import Article, Entry, Source
from bot.news.parse import parse_feed
from bot.news.stories import DEFAULT_WINDOW, Clusterer
from bot.news.urls import canonical_url

ANY_KIND = "other"  # a label kind no EventKind fits: only the countries are asked for


@dataclass(frozen=True, slots=True)
class Label:
    feed: str
    link: str
    title: str
    relevant: bool
    borderline: bool
    story: str | None
    kind: str | None
    countries: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExpectedEvent:
    story: str
    kinds: frozenset[str]
    countries: tuple[str, ...]  # country keys


@dataclass(frozen=True, slots=True)
class EngineStory:
    id: int
    title: str
    kind: str | None
    event_countries: tuple[str, ...]
    countries: tuple[str, ...]
    score: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine did with one article: its story (None when left out), time and the reason it gave."""

    story: int | None
    published: datetime
    why: str


@dataclass(slots=True)
class Judgment:
    folder: str
    items: int = 0
    borderline: int = 0
    relevant: int = 0
    true_positives: int = 0
    false_alarms: list[Label] = field(default_factory=list)
    missed: list[Label] = field(default_factory=list)
    events_found: list[str] = field(default_factory=list)
    events_missed: list[tuple[str, str]] = field(default_factory=list)  # story key, what the engine said
    splits: list[tuple[str, int, int]] = field(default_factory=list)  # story key, stories, stories allowed
    merges: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # story title, labelled stories
    why: dict[str, str] = field(default_factory=dict)  # link -> the engine's reason, for wrong items

    @property
    def precision(self) -> float:
        flagged = self.true_positives + len(self.false_alarms)
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.relevant if self.relevant else 1.0

    @property
    def events_expected(self) -> int:
        return len(self.events_found) + len(self.events_missed)

    @property
    def split_count(self) -> int:
        return len(self.splits)


def load_labels(folder: Path) -> list[Label]:
    labels = []
    for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        event = raw.get("event") or {}
        labels.append(
            Label(
                feed=raw["feed"],
                link=raw["link"],
                title=raw["title"],
                relevant=bool(raw["relevant"]),
                borderline=raw.get("tier") == "borderline",
                story=raw.get("story"),
                kind=event.get("kind"),
                countries=tuple(event.get("countries") or ()),
            )
        )
    return labels


def _country_key(name: str) -> str:
    country = lookup(name)
    if country is None:
        raise ValueError(f"events.json: unknown country {name!r}")
    return country.key


def expected_events(folder: Path, labels: Sequence[Label]) -> list[ExpectedEvent]:
    """`events.json` when the folder has one, else one event per labelled story whose items carry events."""
    path = folder / "events.json"
    if path.exists():
        return [
            ExpectedEvent(raw["story"], frozenset(raw["kinds"]), tuple(_country_key(c) for c in raw["countries"]))
            for raw in json.loads(path.read_text(encoding="utf-8"))
        ]
    kinds: dict[str, set[str]] = defaultdict(set)
    countries: dict[str, dict[str, None]] = defaultdict(dict)
    for label in labels:
        if label.story and label.kind and not label.borderline:
            kinds[label.story].add(label.kind)
            countries[label.story].update(dict.fromkeys(label.countries))
    return [ExpectedEvent(story, frozenset(kinds[story]), tuple(countries[story])) for story in kinds]


async def run_engine(feeds: Sequence[Path], now: datetime) -> tuple[dict[str, Decision], dict[int, EngineStory]]:
    """Every article's decision (by canonical link) and the stories, from `python -m bot check --all --json`."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = io.StringIO()
    code = await run_check(parser.parse_args([*map(str, feeds), "--all", "--json"]), out=out, clock=lambda: now)
    if code != 0:
        raise RuntimeError(f"check failed with status {code}")
    data: dict[str, Any] = json.loads(out.getvalue())
    stories: dict[int, EngineStory] = {}
    story_of: dict[str, int] = {}
    for raw in data["stories"]:
        event = raw["event"] or {}
        stories[raw["id"]] = EngineStory(
            id=raw["id"],
            title=raw["title"],
            kind=event.get("kind"),
            event_countries=tuple(_key(c) for c in event.get("countries", ())),
            countries=tuple(_key(c) for c in raw["countries"]),
            score=raw["score"],
        )
        for article in raw["articles"]:
            story_of[article["url"]] = raw["id"]
    decisions = {
        raw["url"]: Decision(story_of.get(raw["url"]), datetime.fromisoformat(raw["published"]), raw["why"])
        for raw in data["articles"]
    }
    return decisions, stories


def _key(country: dict[str, str | None]) -> str:
    code, name = country["code"], country["name"] or ""
    if code:
        return code
    found = lookup(name)
    return found.key if found else name


def _pieces_needed(times: Sequence[datetime], window: timedelta) -> int:
    """The fewest stories of span <= window that can hold items published at these times."""
    pieces, start = 0, None
    for moment in sorted(times):
        if start is None or moment - start > window:
            pieces, start = pieces + 1, moment
    return pieces


async def judge(folder: Path, *, window: timedelta = DEFAULT_WINDOW) -> Judgment:
    """Score the engine on one labelled folder (see the module docstring)."""
    labels = load_labels(folder)
    feeds = sorted({folder / label.feed for label in labels})
    now = datetime.now(UTC)
    decisions, stories = await run_engine(feeds, now)
    judgment = Judgment(str(folder), items=len(labels))

    def decision(label: Label) -> Decision | None:
        return decisions.get(canonical_url(label.link))

    def story_of(label: Label) -> int | None:
        found = decision(label)
        return found.story if found else None

    for label in labels:
        if label.borderline:
            judgment.borderline += 1
            continue
        flagged = story_of(label) is not None
        judgment.relevant += label.relevant
        if flagged and label.relevant:
            judgment.true_positives += 1
        elif flagged:
            judgment.false_alarms.append(label)
        elif label.relevant:
            judgment.missed.append(label)
        else:
            continue
        found = decision(label)
        judgment.why[label.link] = found.why if found else "not read"

    by_story: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        if label.story and not label.borderline:
            by_story[label.story].append(label)

    expected_all = expected_events(folder, labels)
    for expected in expected_all:
        counts: dict[int, int] = defaultdict(int)
        for label in by_story[expected.story]:
            story_id = story_of(label)
            if story_id is not None:
                counts[story_id] += 1
        if not counts:
            judgment.events_missed.append((expected.story, "none of its items is in a story"))
            continue
        chosen = stories[max(counts, key=lambda s: (counts[s], stories[s].score, -s))]
        if ANY_KIND in expected.kinds:
            ok = set(expected.countries) <= set(chosen.countries)
        else:
            ok = chosen.kind in expected.kinds and set(expected.countries) <= set(chosen.event_countries)
        if ok:
            judgment.events_found.append(expected.story)
        else:
            got = f"{chosen.kind or 'no event'} ({', '.join(chosen.event_countries) or '-'}) in #{chosen.id}"
            wanted = f"{'/'.join(sorted(expected.kinds))} ({', '.join(expected.countries)})"
            judgment.events_missed.append((expected.story, f"wanted {wanted}, got {got}: {chosen.title}"))

    held_by: dict[int, set[str]] = defaultdict(set)
    for expected in expected_all:
        for label in by_story[expected.story]:
            story_id = story_of(label)
            if story_id is not None:
                held_by[story_id].add(expected.story)
    for story_id, keys in sorted(held_by.items()):
        if len(keys) > 1:
            judgment.merges.append((stories[story_id].title, tuple(sorted(keys))))

    for key, members in sorted(by_story.items()):
        placed = {(label.link, story_of(label)) for label in members if story_of(label) is not None}
        ids = {story_id for _, story_id in placed}
        times = [decisions[canonical_url(link)].published for link, _ in placed]
        allowed = _pieces_needed(times, window)
        if len(ids) > allowed:
            judgment.splits.append((key, len(ids), allowed))
    return judgment


def report(judgment: Judgment, *, why: bool) -> str:
    flagged = judgment.true_positives + len(judgment.false_alarms)
    lines = [
        f"{judgment.folder}: {judgment.items} items, {judgment.relevant} relevant, "
        f"{judgment.borderline} borderline (not counted)",
        f"  precision {judgment.precision:.2f} ({judgment.true_positives} of {flagged} flagged items are relevant)",
        f"  recall    {judgment.recall:.2f} ({judgment.true_positives} of {judgment.relevant} relevant items flagged)",
        f"  events    {len(judgment.events_found)} of {judgment.events_expected} found",
        f"  splits    {judgment.split_count}",
        f"  merges    {len(judgment.merges)}",
    ]

    def item(label: Label) -> str:
        reason = f"  [{judgment.why.get(label.link, '')}]" if why else ""
        return f"      {label.feed}: {label.title}{reason}"

    if judgment.false_alarms:
        lines.append("    false alarms:")
        lines.extend(item(label) for label in judgment.false_alarms)
    if judgment.missed:
        lines.append("    missed items:")
        lines.extend(item(label) for label in judgment.missed)
    for story, what in judgment.events_missed:
        lines.append(f"    missed event {story}: {what}")
    for story, count, allowed in judgment.splits:
        lines.append(f"    split {story}: in {count} stories, {allowed} allowed by its time span")
    for title, keys in judgment.merges:
        lines.append(f"    merged {', '.join(keys)} in one story: {title}")
    return "\n".join(lines)


# --- timing -------------------------------------------------------------------------------------------------


def corpus_entries(folders: Sequence[Path]) -> list[tuple[Source, Entry]]:
    entries = []
    for folder in folders:
        for feed in sorted({folder / label.feed for label in load_labels(folder)}):
            source = Source(str(feed), feed.name)
            parsed = parse_feed(feed.read_bytes(), source=source)
            entries.extend((source, entry) for entry in parsed.entries)
    return entries


def _runs(action: Any, runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def timing(folders: Sequence[Path]) -> str:
    entries = corpus_entries(folders)
    now = datetime.now(UTC)

    def tag_all() -> list[Article]:
        matcher = TopicMatcher()
        matched = []
        for source, entry in entries:
            tagging = matcher.tag(entry.title, entry.summary)
            if tagging.topics:
                published = entry.published or now
                matched.append(
                    Article(
                        url=canonical_url(entry.link),
                        title=entry.title,
                        summary=entry.summary,
                        outlet=entry.outlet or source.name,
                        published=published,
                        first_seen=published,
                        source_url=source.url,
                        countries=tagging.countries,
                        event=tagging.event,
                        topics=tagging.topics,
                        matched_terms=tagging.matched_terms,
                    )
                )
        return matched

    tag_all()  # warm the caches (patterns, rules), as a running bot has
    articles = sorted(tag_all(), key=lambda a: (a.published, a.url))

    def cluster_all() -> None:
        clusterer = Clusterer()
        for article in articles:
            clusterer.place(article)
        clusterer.drafts(now)

    tags, clusters = _runs(tag_all), _runs(cluster_all)
    return (
        f"{len(entries)} items, {len(articles)} matched\n"
        f"  TopicMatcher.tag, every item: min {min(tags) * 1e3:.1f} ms, median {statistics.median(tags) * 1e3:.1f} ms"
        f" ({min(tags) / len(entries) * 1e6:.1f} us per item)\n"
        f"  clustering, matched articles: min {min(clusters) * 1e3:.2f} ms,"
        f" median {statistics.median(clusters) * 1e3:.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("folders", nargs="+", type=Path, help="labelled corpus folders (with labels.jsonl)")
    parser.add_argument("--why", action="store_true", help="print the engine's reason beside each wrong item")
    parser.add_argument("--timing", action="store_true", help="time matching and clustering instead of scoring")
    args = parser.parse_args()
    if args.timing:
        print(timing(args.folders))
        return 0
    for folder in args.folders:
        print(report(asyncio.run(judge(folder)), why=args.why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
