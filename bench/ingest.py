"""Ingest benchmark (issue 10, "Honest benchmarks"): the first poll of N realistic feeds as a user meets it, beside
the floor and reader 3.26 in the same run.

    python bench/ingest.py                          # 100, 500 and 2,000 feeds; reader 3.26 at 500
    python bench/ingest.py --feeds 500              # one size (repeatable)
    python bench/ingest.py --reader-feeds 100 --reader-feeds 500
    python bench/ingest.py --servers 100            # and 100 servers x 25 topics of their own
    python bench/ingest.py --revisits               # then a 304 poll and an unchanged-body poll
    python bench/ingest.py --feeds 2000 --stalls 35 # and where the event loop was held 35 ms or more

The feeds are bench/newsfeeds.py's (English news with curly quotes, dashes and accented names, the default topic's
words in other senses, a few relevant items each; some Atom, Google News, Arabic, Hebrew and Russian), served by a
process of their own, each feed from its own loopback address (127.0.x.y), so the fetcher's per-host politeness
(two requests at a time, one second apart, per host) stays on as in production.

Each size runs three times; each run starts three fresh processes in turn, so that they share the machine's mood:
1. Accord Watch: process start, imports, migrations of a new SQLite file while the worker processes start (as the
   bot starts them while it logs in), `NewsService.poll_once()` (what the bot's poll job calls; every source is
   due on a first poll), exit. Timed from spawning to exit ("process"), and inside, from the start of the poll
   ("poll"); the stages are the pipeline's own laps (`PollReport.timings`), whatever it reports; the
   peak RSS is the process's maximum resident set; the worker processes that parse and match (as in the bot: one
   per core, `BENCH_WORKERS=n` to choose) are shown apart.
2. The floor: aiohttp fetches of the same feeds (as many at once as our session allows) and fastfeedparser's parse
   of each body: what any poll must at least do. Timed the same way.
3. reader 3.26 (lemon24/reader, installed once into a virtual environment in the temp folder if it is not there;
   skipped, saying why, if it cannot be installed): `add_feed` for each feed, then its first
   `update_feeds(workers=8)`, timed as "poll"; by default at 500 feeds only (about a minute a run).
Printed: min and median of each, the ratios of the minima (ours / floor, reader / ours), the stages, the CPU
seconds each side used during the poll (ours: the bot's process and its workers apart), and how late a task that
sleeps 5 ms woke during our poll (what a slash command would wait for the loop: the issue's bound is 50 ms).
"""

from __future__ import annotations

# Only light imports here: each worker process runs this file again (spawned), as the bot's run bot/__main__.py.
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 3
# the bot's (bot.app) by default: a worker process per core (1 to 4), niced below the loop's process
WORKERS = int(os.environ["BENCH_WORKERS"]) if os.environ.get("BENCH_WORKERS") else None
READER = "reader==3.26"
# reader's vendored feedparser imports sgmllib, which its requirements do not bring (feedparser's own do)
READER_EXTRAS = ("sgmllib3k==1.0.0",)
READER_VENV = Path(tempfile.gettempdir()) / "accord-watch-bench-reader-3.26"

# reader's side, run by the virtual environment's Python: feeds from a file, a database in a temp folder
READER_SCRIPT = """
import json, os, sys, tempfile, time
from reader import make_reader
urls = open(sys.argv[1]).read().split()
with tempfile.TemporaryDirectory() as folder:
    reader = make_reader(os.path.join(folder, "reader.sqlite"))
    for url in urls:
        reader.add_feed(url)
    started = time.perf_counter()
    reader.update_feeds(workers=8)
    poll = time.perf_counter() - started
    entries = reader.get_entry_counts().total
    reader.close()
print(json.dumps({"poll": poll, "entries": entries}))
"""


def rss_mb() -> float:
    """The resident set size now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_rss_mb(work: Any) -> float:
    """The largest peak resident set of the worker processes that parsed and matched (VmHWM, Linux)."""
    peaks = [0.0]
    for pid in work.pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def workers_cpu_seconds(work: Any) -> float:
    """The CPU seconds (user and system) the worker processes have used so far (/proc, Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in work.pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime and stime, fields 14 and 15 of stat
    return total


# --- the measured processes ----------------------------------------------------------------------------------


async def loop_lags(lags: list[float], interval: float = 0.005) -> None:
    """How late the event loop wakes a task that sleeps `interval` (what a slash command waits), until cancelled."""
    import asyncio

    while True:
        started = time.perf_counter()
        await asyncio.sleep(interval)
        lags.append(time.perf_counter() - started - interval)


async def first_poll(
    urls: list[str], database: str, servers: int, control: str | None, stalls: float | None = None
) -> dict[str, Any]:
    """Ours, inside its own process: migrations, then the poll the bot's job runs."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from bot.accords import load_knowledge
    from bot.aio import settle_heap
    from bot.news.matching import Topic
    from bot.news.models import Source
    from bot.news.service import NewsService
    from bot.news.topics import parse_query
    from bot.news.work import ProcessWork
    from bot.store.database import create_engine, migrate
    from bot.store.news import NewsStore

    # As the bot starts (bot.app): the workers start, and learn the topics of the first poll, while the rest opens
    # (there, while it logs in to Discord), and its first poll comes after; so "poll" starts with the workers up and
    # ready to match, and "process" counts their start.
    work = ProcessWork(workers=WORKERS)
    engine = create_engine(f"sqlite:///{database}")
    topics: list[Topic] = []
    if servers:
        from bench.newsfeeds import server_topics

        topics = [Topic(name, parse_query(text)) for name, text in server_topics(servers, 25)]

    async def provider() -> list[Topic]:
        return topics

    sources = [Source(url, f"Outlet {number}") for number, url in enumerate(urls)]
    # As the bot runs it (bot.app): parsing and matching in worker processes, old news judged by MAX_ARTICLE_AGE.
    service = NewsService(
        NewsStore(engine, max_article_age=timedelta(hours=72)),
        sources,
        lambda: datetime.now(UTC),
        default_interval=600,
        topic_provider=provider,
        work=work,
    )
    warming = asyncio.create_task(service.warm_up())
    load_knowledge()  # as the bot reads it at start
    await migrate(engine)
    figures: dict[str, Any] = {"rss_before": rss_mb()}
    try:
        await warming
        settle_heap()  # as the bot does once it is up (bot.app): what start-up made is never collected again
        started, cpu, workers_cpu = time.perf_counter(), time.process_time(), workers_cpu_seconds(work)
        lags: list[float] = []
        probe = asyncio.create_task(loop_lags(lags))
        watch = None
        if stalls:
            from bench.stalls import StallWatch

            watch = StallWatch(stalls)
            watch.start()
        report = await service.poll_once()
        figures["poll"] = time.perf_counter() - started
        probe.cancel()
        if watch is not None:
            figures["stalls"] = await watch.stop()
        figures["lag_max"] = max(lags, default=0.0)
        figures["lags_over_50ms"] = sum(lag > 0.05 for lag in lags)
        figures["lags"] = len(lags)
        figures["cpu"] = time.process_time() - cpu
        figures["workers_cpu"] = workers_cpu_seconds(work) - workers_cpu
        figures["timings"] = list(report.timings)
        figures["statuses"] = _count(source.status for source in report.sources)
        figures["stories"] = len(report.new_stories)
        figures["entries"] = sum(source.entries for source in report.sources)
        if control:  # the same feeds again, all of them, at once
            for phase, validators in (("304", True), ("unchanged", False)):
                await _set_validators(control, validators)
                started = time.perf_counter()
                again = await service.poller.poll(sources, force=True)
                figures[phase] = time.perf_counter() - started
                figures[f"{phase}_statuses"] = _count(source.status for source in again.sources)
        figures["worker_rss"] = worker_peak_rss_mb(service.work)
    finally:
        await service.close()
        await engine.dispose()
    figures["peak_rss"] = peak_rss_mb()
    return figures


async def _set_validators(control: str, validators: bool) -> None:
    """Tell the feed server to send ETag and Last-Modified (so a revisit gets 304s), or not."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(f"{control}{int(validators)}") as answer:
        answer.raise_for_status()


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


async def floor(urls: list[str]) -> dict[str, Any]:
    """The least a poll does: fetch every feed (as many at once as our session allows) and parse each body."""
    import asyncio

    import aiohttp
    import fastfeedparser

    entries = 0

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal entries
        async with session.get(url) as response:
            body = await response.read()
        entries += len(fastfeedparser.parse(body).entries)

    started, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        await asyncio.gather(*(one(session, url) for url in urls))
    poll = time.perf_counter() - started
    return {"poll": poll, "cpu": time.process_time() - cpu, "entries": entries, "peak_rss": peak_rss_mb()}


def child(args: argparse.Namespace) -> int:
    """`--child ours|floor`: one measured process; its figures as one line of JSON."""
    from bot import aio

    urls = Path(args.urls).read_text().split()
    if args.child == "ours":
        figures = aio.run(first_poll(urls, args.database, args.servers, args.control, args.stalls))
    else:
        figures = aio.run(floor(urls))
    print(json.dumps(figures))
    return 0


# --- the parent: runs, figures -----------------------------------------------------------------------------------


@dataclass
class Series:
    """One contender's runs at one size."""

    name: str
    process: list[float] = field(default_factory=list)
    poll: list[float] = field(default_factory=list)
    peak: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    stalls: list[dict[str, Any]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    lag_max: list[float] = field(default_factory=list)
    lags_over: list[int] = field(default_factory=list)
    workers_cpu: list[float] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)

    def add(self, process: float, figures: dict[str, Any]) -> None:
        self.process.append(process)
        self.poll.append(figures["poll"])
        if "cpu" in figures:
            self.cpu.append(figures["cpu"])
        if "lag_max" in figures:
            self.lag_max.append(figures["lag_max"])
            self.lags_over.append(figures["lags_over_50ms"])
        if "workers_cpu" in figures:
            self.workers_cpu.append(figures["workers_cpu"])
        if "peak_rss" in figures:
            self.peak.append(figures["peak_rss"])
        self.stalls.extend(figures.get("stalls", ()))
        for stage, seconds in figures.get("timings", ()):
            self.stages.setdefault(stage, []).append(seconds)
        self.last = figures


def spread(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "-"
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} {unit}"


def run_process(command: list[str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed:\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout.strip().splitlines()[-1])


def reader_python() -> tuple[Path | None, str]:
    """The Python of a virtual environment with reader 3.26, made once; or None and why not."""
    python = READER_VENV / "bin" / "python"
    check = [str(python), "-c", "import reader, sgmllib, sys; sys.exit(reader.__version__ != '3.26')"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(READER_VENV)], check=True, capture_output=True)
        install = [str(python), "-m", "pip", "install", "--quiet", READER, *READER_EXTRAS]
        subprocess.run(install, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        return None, f"cannot install {READER} into {READER_VENV}: {stderr.decode(errors='replace')[-500:] or exc}"
    return python, ""


def measure(size: int, args: argparse.Namespace, reader: Path | None, reader_note: str) -> None:
    from bench.newsfeeds import FeedServer

    with FeedServer(size) as server, tempfile.TemporaryDirectory() as folder:
        urls = Path(folder) / "urls.txt"
        urls.write_text("\n".join(server.urls))
        script = Path(folder) / "reader_poll.py"
        script.write_text(READER_SCRIPT)
        ours, base, theirs = Series("Accord Watch"), Series("floor: aiohttp + fastfeedparser"), Series("reader 3.26")
        reader_here = reader if size in args.reader_feeds else None
        for run in range(RUNS):
            database = Path(folder) / f"run{run}.db"
            command = [sys.executable, __file__, "--child", "ours", "--urls", str(urls), "--database", str(database)]
            command += ["--servers", str(args.servers)]
            if args.stalls:
                command += ["--stalls", str(args.stalls)]
            if args.revisits and run == RUNS - 1:
                command += ["--control", server.mode_url]
            ours.add(*run_process(command))
            base.add(*run_process([sys.executable, __file__, "--child", "floor", "--urls", str(urls)]))
        # reader's runs after ours and the floor's, not between them: each of our runs and the floor's run after it
        # then meet the machine in the same state, neither straight after a minute of reader's eight busy processes
        for _ in range(RUNS if reader_here is not None else 0):
            theirs.add(*run_process([str(reader_here), str(script), str(urls)]))
    topics = f", the default topic and {args.servers} x 25 server topics" if args.servers else ", the default topic"
    print(f"\n{size} feeds ({ours.last['entries']} items{topics}); {RUNS} runs, min / median")
    print(f"  {'':34} {'process':>17} {'poll':>17} {'peak RSS':>17}")
    for series in (ours, base, theirs):
        if series.poll:
            row = f"{spread(series.process):>17} {spread(series.poll):>17} {spread(series.peak, 'MB', 0):>17}"
            print(f"  {series.name:34} {row}")
    print(
        f"  Accord Watch / floor: {min(ours.process) / min(base.process):.1f}x as a process, "
        f"{min(ours.poll) / min(base.poll):.1f}x the poll"
    )
    if theirs.poll:
        print(
            f"  reader 3.26 / Accord Watch: {min(theirs.process) / min(ours.process):.1f}x as a process, "
            f"{min(theirs.poll) / min(ours.poll):.1f}x the poll ({theirs.last['entries']} entries)"
        )
    elif size in args.reader_feeds:
        print(f"  reader 3.26: skipped ({reader_note})")
    print("  stages of our poll: " + ", ".join(f"{stage} {spread(times)}" for stage, times in ours.stages.items()))
    print(
        f"  CPU during the poll: ours {spread(ours.cpu)} in the bot's process and {spread(ours.workers_cpu)} in its "
        f"workers; the floor {spread(base.cpu)}"
    )
    if ours.lag_max:
        holds = [lag * 1000 for lag in ours.lag_max]
        print(
            f"  the event loop during our poll (a task waking every 5 ms): longest wait {max(holds):.0f} ms "
            f"(runs: {', '.join(f'{hold:.0f}' for hold in holds)}), waits over 50 ms: "
            f"{', '.join(str(count) for count in ours.lags_over)} of {ours.last['lags']} (last run)"
        )
    parse, match = ours.stages.get("parse"), ours.stages.get("match")
    if parse and match:
        print(f"  match / parse: {min(match) / min(parse):.2f} (minima)")
    print(
        f"  RSS before the poll (imports, migrations): {ours.last['rss_before']:.0f} MB; peak of the worker "
        f"process (parsing, matching): {ours.last.get('worker_rss', 0):.0f} MB; "
        f"sources {ours.last['statuses']}, new stories {ours.last['stories']}"
    )
    if args.stalls:
        print(f"  where the loop was held {args.stalls:.0f} ms or more, all runs (count, longest, where; gc: a full")
        print("  collection ran during the hold):")
        held: dict[str, list[dict[str, Any]]] = {}
        for stall in ours.stalls:
            held.setdefault(stall["where"], []).append(stall)
        for where, found in sorted(held.items(), key=lambda item: -max(s["ms"] for s in item[1])):
            collected = sum(s["gc"] for s in found)
            gc_note = f", gc {collected}" if collected else ""
            print(f"    {len(found)} x, {max(s['ms'] for s in found)} ms{gc_note}: {where}")
    if "304" in ours.last:
        print(
            f"  revisits: all 304 {ours.last['304']:.2f} s {ours.last['304_statuses']}, "
            f"unchanged bodies {ours.last['unchanged']:.2f} s {ours.last['unchanged_statuses']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, action="append", help="feeds to poll (repeatable; default 100 500 2000)")
    parser.add_argument("--reader-feeds", type=int, action="append", help="sizes at which reader runs (default 500)")
    parser.add_argument("--servers", type=int, default=0, help="servers with 25 topics each (default none)")
    parser.add_argument("--revisits", action="store_true", help="also time a 304 poll and an unchanged poll")
    parser.add_argument(
        "--stalls", type=float, metavar="MS", help="print where the event loop was held MS or more (bench/stalls.py)"
    )
    parser.add_argument("--child", choices=["ours", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--control", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # figures as they come
    if args.child:
        return child(args)
    args.feeds = args.feeds or [100, 500, 2000]
    args.reader_feeds = args.reader_feeds or [500]
    reader, note = (None, "not asked for")
    if any(size in args.reader_feeds for size in args.feeds):
        print(f"preparing {READER} in {READER_VENV} ...", flush=True)
        reader, note = reader_python()
        if reader is None:
            print(f"reader 3.26 will be skipped: {note}")
    from bot.native import state

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; each feed on its own loopback address")
    print(f"news core (bot.native, ACCORD_NATIVE to choose): {state()}")
    for size in args.feeds:
        measure(size, args, reader, note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
