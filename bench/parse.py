"""Feed parsing speed and agreement: feedparser (the reference), fastfeedparser, and bot.news.parse.

Run: `python bench/parse.py [N]` (N synthetic feeds, default 200). Prints feeds/s for each parser on the corpus
(../shared/corpus/2020/*/*.xml) and on the synthetic feeds, how often fastfeedparser and bot.news.parse agree with
feedparser on titles, links, dates and summaries, and how each copes with an entity bomb and broken XML.
"""

from __future__ import annotations

import html
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import fastfeedparser
import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.news.models import Source
from bot.news.parse import clean_summary, clean_text, parse_date, parse_feed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "2020"
SOURCE = Source(url="https://example.com/feed", name="bench")
WORDS = [
    "Israel",
    "UAE",
    "Bahrain",
    "Morocco",
    "Sudan",
    "accords",
    "normalization",
    "peace",
    "signing",
    "embassy",
    "talks",
    "minister",
]


def synthetic_feed(rng: random.Random, items: int = 50) -> bytes:
    start = datetime(2020, 9, 15, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Synthetic</title>'
        "<link>https://example.com/</link><description>bench</description>"
        '<atom:link href="https://example.com/feed" rel="self" type="application/rss+xml"/>'
    ]
    for i in range(items):
        title = " ".join(rng.choices(WORDS, k=8))
        paragraphs: list[str] = []
        target = rng.randint(500, 2000)
        while sum(len(p) for p in paragraphs) < target:
            paragraphs.append(f"<p>{' '.join(rng.choices(WORDS, k=12))} <a href='https://e.com/{i}'>link</a></p>")
        when = format_datetime(start - timedelta(minutes=17 * i))
        parts.append(
            f"<item><title>{title}</title><link>https://example.com/a/{i}?utm_source=rss</link>"
            f'<guid isPermaLink="false">id-{i}</guid><pubDate>{when}</pubDate><dc:creator>Reporter {i}</dc:creator>'
            f"<description>{html.escape(''.join(paragraphs))}</description>"
            f'<media:content url="https://example.com/{i}.jpg" medium="image"/></item>'
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def rate(parse: Callable[[bytes], Any], bodies: list[bytes], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for body in bodies:
            parse(body)
    return repeat * len(bodies) / (time.perf_counter() - started)


def agreement(corpus: list[bytes]) -> None:
    fields = ("title", "link", "date", "summary")
    scores = {name: dict.fromkeys(fields, 0) for name in ("fastfeedparser", "bot.news.parse")}
    total = 0
    for body in corpus:
        reference = feedparser.parse(body).entries
        fast = fastfeedparser.parse(body)["entries"]
        ours = parse_feed(body, source=SOURCE).entries
        for ref, ffp, own in zip(reference, fast, ours, strict=False):
            total += 1
            expected = (
                clean_text(ref.get("title", "")),
                ref.get("link", ""),
                parse_date(ref.get("published")),
                clean_summary(ref.get("summary", "")),
            )
            ffp_values = (
                clean_text(ffp.get("title", "")),
                ffp.get("link", ""),
                parse_date(ffp.get("published")),
                clean_summary(ffp.get("description", "")),
            )
            own_values = (own.title, own.link, own.published, own.summary)
            for field, want, got_fast, got_own in zip(fields, expected, ffp_values, own_values, strict=True):
                scores["fastfeedparser"][field] += want == got_fast
                scores["bot.news.parse"][field] += want == got_own
    print(f"agreement with feedparser on {total} corpus items (after the same text cleaning):")
    for name, score in scores.items():
        print(f"  {name:15} " + "  ".join(f"{field} {score[field] / max(total, 1):.1%}" for field in fields))


def hostile() -> None:
    lol = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE rss [{lol}]><rss><channel><item><title>&l9;</title>'
    bomb += "<link>https://e.com/1</link></item></channel></rss>"
    broken = b"<rss><channel><title>x</title><item><title>cut &nbsp; off</title><link>https://e.com/2</link><item>"
    for label, body in (("entity bomb", bomb.encode()), ("broken XML", broken)):
        for name, parse in (
            ("feedparser", lambda b: [e.get("title", "")[:40] for e in feedparser.parse(b).entries]),
            ("fastfeedparser", lambda b: [e.get("title", "")[:40] for e in fastfeedparser.parse(b)["entries"]]),
            ("bot.news.parse", lambda b: [e.title[:40] for e in parse_feed(b, source=SOURCE).entries]),
        ):
            started = time.perf_counter()
            try:
                outcome = repr(parse(body))
            except Exception as exc:
                outcome = f"raised {type(exc).__name__}: {str(exc)[:60]}"
            print(f"  {label:11} {name:15} {time.perf_counter() - started:6.3f}s {outcome}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    corpus = [path.read_bytes() for path in sorted(CORPUS.glob("*/*.xml"))]
    rng = random.Random(4)
    synthetic = [synthetic_feed(rng) for _ in range(count)]
    parsers: dict[str, Callable[[bytes], Any]] = {
        "feedparser": feedparser.parse,
        "fastfeedparser": fastfeedparser.parse,
        "bot.news.parse": lambda body: parse_feed(body, source=SOURCE),
    }
    if corpus:
        size = sum(map(len, corpus)) // len(corpus) // 1024
        print(f"corpus: {len(corpus)} files, {size} KB on average")
        for name, parse in parsers.items():
            print(f"  {name:15} {rate(parse, corpus, repeat=1 if name == 'feedparser' else 10):8.0f} feeds/s")
        agreement(corpus)
    size = sum(map(len, synthetic)) // len(synthetic) // 1024
    print(f"synthetic: {count} feeds of 50 items, {size} KB on average")
    for name, parse in parsers.items():
        bodies = synthetic[: max(count // 10, 1)] if name == "feedparser" else synthetic
        print(f"  {name:15} {rate(parse, bodies):8.0f} feeds/s")
    print("hostile input:")
    hostile()


if __name__ == "__main__":
    main()
