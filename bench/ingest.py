"""Ingest benchmark (issue 4, Performance): the poll pipeline over N synthetic feeds served on loopback.

    python bench/ingest.py                 # N = 100, 250, 500, each in a fresh process
    python bench/ingest.py --n 500         # one size
    python bench/ingest.py --n 500 --parser feedparser   # the first poll with feedparser instead

Each feed has 50 items with 0.5-2 KB HTML descriptions and the namespaces real feeds carry (content:encoded,
dc:creator, media:content, atom:link); 2% of the items are about normalization (see RELEVANT_SHARE), so
topics, tagging and clustering do real work. The server runs in its own process (as a remote site would),
serves every feed with ETag and Last-Modified, and can be told to drop them. Three polls with a file-backed
SQLite store in a temp dir:
1. first: every body is new;
2. 304: every source answers 304 Not Modified;
3. unchanged: validators dropped, the same bodies come back with 200 and their hash says nothing changed.
Peak memory is the process's maximum resident set size (the pipeline's process, not the server's).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ITEMS = 50
# The share of items about normalization: 30 of 2,301 entries (1.3%) in the saved 2020 BBC/CNN/Guardian feeds of
# ../shared/corpus, on the days of the UAE and Bahrain announcements; 2% keeps the benchmark on the heavy side.
RELEVANT_SHARE = 0.02
BASE = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
_WORDS_TEXT = (
    "g o v e r n m e n t m i n i s t e r e c o n o m y m a r k e t s t o r m f o o t b a l l e l e c t i"
    " o n c o u r t p o l i c e h e a l t h s c h o o l c l i m a t e e n e r g y o i l p r i c e s v i s"
    " i t s u m m i t b a n k t r a d e b u d g e t p a r l i a m e n t p r o t e s t f e s t i v a l m u"
    " s e u m a i r p o r t r a i l w a y h o s p i t a l f a r m e r s w i l d f i r e d r o u g h t i n"
    " f l a t i o n e x p o r t s t o u r i s m s t a r t u p v a c c i n e r e s e a r c h u n i v e r s"
    " i t y o r c h e s t r a l e a g u e c h a m p i o n"
)
_WORDS = _WORDS_TEXT.split()
_COUNTRIES = ["UAE", "Bahrain", "Morocco", "Sudan", "Kazakhstan", "Saudi Arabia", "Oman", "Indonesia"]
_RELEVANT = [
    "{c} and Israel agree to normalize relations",
    "Israel, {c} sign normalization deal at White House",
    "{c} to join Abraham Accords, US official says",
    "Netanyahu hails {c} decision to establish ties with Israel",
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def make_feed(index: int, seed: int = 7) -> bytes:
    """One synthetic RSS 2.0 feed, deterministic for (index, seed)."""
    rng = random.Random(seed * 100_003 + index)
    host = f"outlet{index}.example"
    items = []
    for j in range(ITEMS):
        when = BASE - timedelta(minutes=17 * j + index)
        if rng.random() < RELEVANT_SHARE:
            title = rng.choice(_RELEVANT).format(c=rng.choice(_COUNTRIES))
        else:
            title = _sentence(rng, rng.randint(6, 12))[:-1]
        paragraphs, size = [], rng.randint(500, 2000)
        while sum(len(p) for p in paragraphs) < size:
            paragraphs.append(
                f'<p>{_sentence(rng, 12)} <a href="https://{host}/tag/{rng.choice(_WORDS)}">{rng.choice(_WORDS)}'
                f"</a> <strong>{_sentence(rng, 5)}</strong> {_sentence(rng, 10)}</p>"
            )
        html = "".join(paragraphs)
        link = f"https://{host}/news/{index}-{j}-{title.lower().replace(' ', '-')[:40]}?utm_source=rss"
        items.append(
            f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{host}-{j}</guid><pubDate>{format_datetime(when)}</pubDate>'
            f"<dc:creator>Reporter {rng.randint(1, 40)}</dc:creator><category>World</category>"
            f"<description><![CDATA[{html}]]></description>"
            f"<content:encoded><![CDATA[{html}<p>{_sentence(rng, 20)}</p>]]></content:encoded>"
            f'<media:content url="https://{host}/img/{j}.jpg" medium="image" width="800" height="450"/></item>'
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/'
        'content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>Outlet {index} News</title><link>https://{host}/</link><description>News</description>"
        f'<atom:link href="https://{host}/rss" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{format_datetime(BASE)}</lastBuildDate>{''.join(items)}</channel></rss>"
    )
    return body.encode()


def serve(n: int, port: int, ready: Any) -> None:
    """The feed server (child process): /feed/{i} with validators unless POST /mode?validators=0."""
    bodies = [make_feed(i) for i in range(n)]
    etags = [f'"{hashlib.sha1(body).hexdigest()}"' for body in bodies]
    modified = format_datetime(BASE, usegmt=True)
    mode = {"validators": True}

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if not mode["validators"]:
            return web.Response(body=bodies[i], content_type="application/rss+xml")
        headers = {"ETag": etags[i], "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etags[i] or request.headers.get("If-Modified-Since") == modified:
            return web.Response(status=304, headers=headers)
        return web.Response(body=bodies[i], content_type="application/rss+xml", headers=headers)

    async def set_mode(request: web.Request) -> web.Response:
        mode["validators"] = request.query.get("validators") != "0"
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/feed/{i}", feed)
    app.router.add_post("/mode", set_mode)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def feedparser_parse() -> Callable[..., Any]:
    """feedparser behind the pipeline's parser interface, for the comparison run."""
    import feedparser

    from bot.news.models import Entry, ParsedFeed, Source
    from bot.news.parse import clean_summary

    def parse(body: bytes, *, source: Source, content_type: str | None = None) -> ParsedFeed:
        parsed = feedparser.parse(body)
        entries = []
        for item in parsed.entries:
            stamp = item.get("published_parsed")
            published = datetime(*stamp[:6], tzinfo=UTC) if stamp else None
            entries.append(
                Entry(
                    title=item.get("title", ""),
                    link=item.get("link", ""),
                    summary=clean_summary(item.get("summary", "")),
                    published=published,
                    guid=item.get("id"),
                )
            )
        return ParsedFeed(parsed.feed.get("title"), parsed.feed.get("link"), tuple(entries))

    return parse


async def run(n: int, parser: str) -> dict[str, float]:
    from bot.news.fetch import Fetcher, make_session
    from bot.news.models import Source
    from bot.news.pipeline import Poller
    from bot.store.database import create_engine, migrate
    from bot.store.news import NewsStore

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(n, port, ready), daemon=True)
    server.start()
    ready.wait(60)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        await migrate(engine)
        try:
            async with make_session(guarded=False) as session:
                for _ in range(100):  # wait for the server to listen
                    try:
                        async with session.post(f"http://127.0.0.1:{port}/mode?validators=1") as answer:
                            await answer.read()
                        break
                    except OSError:
                        await asyncio.sleep(0.05)
                clock = lambda: datetime.now(UTC)  # noqa: E731
                # one loopback host stands in for N outlets' hosts: no per-host spacing or limit here
                fetcher = Fetcher(session, clock=clock, per_host_limit=n, host_min_interval=0)
                parse = feedparser_parse() if parser == "feedparser" else None
                poller = (
                    Poller(NewsStore(engine), fetcher, clock, parse=parse)
                    if parse
                    else Poller(NewsStore(engine), fetcher, clock)
                )
                sources = [Source(f"http://127.0.0.1:{port}/feed/{i}", f"Outlet {i}") for i in range(n)]
                phases = ["first"] if parser == "feedparser" else ["first", "304", "unchanged"]
                for phase in phases:
                    if phase == "unchanged":
                        async with session.post(f"http://127.0.0.1:{port}/mode?validators=0") as answer:
                            await answer.read()
                    start = time.perf_counter()
                    report = await poller.poll(sources, force=True)
                    figures[phase] = time.perf_counter() - start
                    statuses: dict[str, int] = {}
                    for source in report.sources:
                        statuses[source.status] = statuses.get(source.status, 0) + 1
                    figures[f"{phase}_stories"] = len(report.new_stories) + len(report.updated_stories)
                    stories = figures[f"{phase}_stories"]
                    print(f"  {phase:>9}: {figures[phase]:6.3f} s  {statuses}  stories {stories:.0f}")
                    print("             stages (s): " + " ".join(f"{k} {v:.2f}" for k, v in report.timings))
        finally:
            await engine.dispose()
            server.terminate()
            server.join()
    figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS: {figures['peak_mb']:.0f} MB")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="number of feeds (repeatable); default 100 250 500")
    parser.add_argument("--parser", choices=["ours", "feedparser"], default="ours")
    args = parser.parse_args()
    sizes = args.n or [100, 250, 500]
    if len(sizes) == 1:
        print(f"N = {sizes[0]} feeds x {ITEMS} items, parser {args.parser}")
        from bot import aio

        aio.run(run(sizes[0], args.parser))  # the bot's loop (uvloop where installed)
        return 0
    for size in sizes:  # a fresh process per size, so peak memory is that size's
        subprocess.run([sys.executable, __file__, "--n", str(size), "--parser", args.parser], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
