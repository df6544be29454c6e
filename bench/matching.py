"""Matching speed beside parsing speed, on the same realistic items, in one process (issue 10, "Matching at parse
speed").

    python bench/matching.py                  # 500 feeds; the default topic alone, then with 100 x 25 server topics
    python bench/matching.py --feeds 200 --servers 100 --per-server 25

The feeds are bench/newsfeeds.py's (curly quotes, accents, the topic's anchor words in other senses, a few relevant
items per feed). Parsing is `bot.news.parse.parse_feed` over every body; matching is `TopicMatcher.tag` over every
entry, as the pipeline calls it. Each is run three times, alternately (this machine is shared, so the two are
compared within the same minute), and the min and median are printed, with how many items the prefilter let
through to a word index and how many matched.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.newsfeeds import make_feed, server_topics
from bot.news.matching import Topic, TopicMatcher
from bot.news.models import Entry, Source
from bot.news.parse import parse_feed
from bot.news.topics import parse_query
from bot.news.urls import split_outlet_suffix

RUNS = 3


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def figures(label: str, times: list[float], items: int) -> str:
    best, median = min(times), statistics.median(times)
    return f"{label}: min {best:.3f} s, median {median:.3f} s ({1e6 * best / items:.1f} µs per item)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--per-server", type=int, default=25)
    args = parser.parse_args()

    bodies = [make_feed(index) for index in range(args.feeds)]
    sources = [Source(f"https://feed{index}.example/rss", f"Outlet {index}") for index in range(args.feeds)]
    entries: list[Entry] = []
    for body, source in zip(bodies, sources, strict=True):
        entries.extend(parse_feed(body, source=source).entries)
    # what the pipeline hands the matcher: the title without an outlet suffix, and the summary
    articles = [(split_outlet_suffix(entry.title, entry.outlet)[0], entry.summary) for entry in entries]
    non_ascii = sum(1 for title, summary in articles if not (title + summary).isascii())
    print(
        f"{args.feeds} feeds, {len(articles)} items ({100 * non_ascii / len(articles):.0f}% hold a non-ASCII character)"
    )

    def parse_all() -> None:
        for body, source in zip(bodies, sources, strict=True):
            parse_feed(body, source=source)

    custom = [Topic(name, parse_query(text)) for name, text in server_topics(args.servers, args.per_server)]
    distinct = len({topic.query for topic in custom})
    for label, topics in (
        ("the default topic", []),
        (f"the default topic and {len(custom)} server topics ({distinct} distinct queries)", custom),
    ):
        matcher = TopicMatcher(topics)
        matched = sum(1 for title, summary in articles if matcher.tag(title, summary).topics)  # warms the caches
        indexed = sum(1 for title, summary in articles if matcher.candidates(title, summary))

        def match_all(matcher: TopicMatcher = matcher) -> None:
            for title, summary in articles:
                matcher.tag(title, summary)

        parse_times, match_times = [], []
        for _ in range(RUNS):
            parse_times.append(timed(parse_all))
            match_times.append(timed(match_all))
        share = 100 / len(articles)
        print(f"with {label}: {indexed * share:.1f}% of the items indexed, {matched * share:.1f}% matched")
        print("  " + figures("parse", parse_times, len(articles)))
        print("  " + figures("match", match_times, len(articles)))
        print(f"  match / parse (min): {min(match_times) / min(parse_times):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
