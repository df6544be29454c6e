"""Responsiveness benchmark (issue 10): slash commands answered while the bot reads the news, against the Discord
API emulator, with the bot as its own process.

    python bench/responsiveness.py                   # 500 feeds, 10,000 stored stories, 3 runs
    python bench/responsiveness.py --feeds 2000 --runs 1
    POLL_WORKERS=1 python bench/responsiveness.py    # the bot's settings pass through (default: a worker per core)

Set-up, once: the emulator (`python -m tests.discord_emulator`, its own process, as Discord is remote); 500 feeds
from bench/newsfeeds.py, each on its own loopback address, served by a process of their own; a SQLite database
with 10,000 stored stories (written as bench/delivery.py writes them). Each run copies that database and starts
`python -m bot` on it (DISCORD_API_BASE and DISCORD_GATEWAY_URL pointing at the emulator, SOURCES_FILE naming the
feeds). The bot polls every source at start. From the moment it logs that it is ready, `/members`, `/timeline`
and `/latest` are sent in turn every 200 ms, each through the emulator's control API as a user would, and timed
from sending to the answer the user sees. Commands sent before the bot logs the end of its first poll ("poll: ..."
from bot.news.service) count as "during the poll"; then the same goes on for `--idle` seconds, "idle", to compare.
Printed per command and phase, over all runs: p50, p99 and max answer time, and how many took more than Discord's
3 seconds and how many were never answered (with the emulator's reason, such as "expired 10062": no response
within 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.delivery import EmulatorProcess, percentile, store_stories
from bench.newsfeeds import FeedServer, sources_toml
from tests.discord_emulator.fixtures import EmulatorHandle, settings_for

ROOT = Path(__file__).resolve().parent.parent

COMMANDS: tuple[tuple[str, dict[str, Any]], ...] = (("members", {}), ("timeline", {}), ("latest", {"count": 10}))
DEADLINE = 3.0  # Discord's window for an interaction's first answer


@dataclass(frozen=True, slots=True)
class Sample:
    command: str
    phase: str  # "poll" or "idle"
    seconds: float | None  # None: never answered
    outcome: str = "answered"  # else the emulator's status and error, such as "expired 10062"


class BotProcess:
    """`python -m bot` against the emulator; its log lines are read as they come, to see readiness and polls."""

    def __init__(self, emulator: EmulatorHandle, database: Path, sources: Path, workdir: Path) -> None:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "LOG_"))}
        self.env = {
            **keep,
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": emulator.token,
            "DISCORD_API_BASE": emulator.api_base,
            "DISCORD_GATEWAY_URL": emulator.gateway_url,
            "DATABASE_URL": f"sqlite:///{database}",
            "SOURCES_FILE": str(sources),
            "LOG_LEVEL": "INFO",
        }
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None
        self.ready = asyncio.Event()
        self.polled = asyncio.Event()
        self.poll_line = ""
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self.workdir, env=self.env, stderr=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        while line := (await self.process.stderr.readline()).decode(errors="replace"):
            self.lines.append(line)
            if "ready as" in line:
                self.ready.set()
            if "bot.news.service" in line and "poll:" in line and not self.polled.is_set():
                self.poll_line = line.strip()
                self.polled.set()

    async def wait(self, event: asyncio.Event, what: str, within: float) -> None:
        try:
            async with asyncio.timeout(within):
                await event.wait()
        except TimeoutError:
            raise RuntimeError(f"the bot did not {what} within {within:.0f} s:\n" + "".join(self.lines[-30:])) from None

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader


async def ask(emulator: EmulatorHandle, command: str, options: dict[str, Any], phase: str) -> Sample:
    started = time.perf_counter()
    answer = await emulator.ask(command, options, wait=30)
    elapsed = time.perf_counter() - started
    if answer["status"] == "answered" and answer["error"] is None:
        return Sample(command, phase, elapsed)
    error = answer["error"] or {}
    return Sample(command, phase, None, f"{answer['status']} {error.get('code', '')}".strip())


async def one_run(emulator: EmulatorHandle, seeded: Path, sources: Path, workdir: Path, idle: float) -> list[Sample]:
    database = workdir / "bot.db"
    shutil.copy(seeded, database)
    bot = BotProcess(emulator, database, sources, workdir)
    tasks: list[asyncio.Task[Sample]] = []
    started = time.perf_counter()
    await bot.start()
    try:
        await bot.wait(bot.ready, "log that it is ready", 120)
        ready = time.perf_counter()
        idle_until: float | None = None
        number = 0
        while idle_until is None or time.perf_counter() < idle_until:
            if idle_until is None and bot.polled.is_set():
                idle_until = time.perf_counter() + idle
            phase = "idle" if bot.polled.is_set() else "poll"
            command, options = COMMANDS[number % len(COMMANDS)]
            tasks.append(asyncio.create_task(ask(emulator, command, options, phase)))
            number += 1
            await asyncio.sleep(0.2)
            if idle_until is None and time.perf_counter() - ready > 600:
                raise RuntimeError("the first poll did not end within 10 minutes")
        samples = list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await bot.stop()
    during = sum(1 for sample in samples if sample.phase == "poll")
    ended = (idle_until - idle - started) if idle_until else 0.0
    print(
        f"  run: ready {ready - started:.1f} s after start; {during} commands sent during the first poll, which "
        f"ended {ended:.1f} s after start ({bot.poll_line.split('poll: ')[-1]})"
    )
    troubles = [line.strip() for line in bot.lines if " ERROR " in line or " WARNING " in line]
    if troubles:
        print(f"    the bot logged {len(troubles)} warning(s) or error(s), the first: {troubles[0][:300]}")
    return samples


def summary(samples: list[Sample]) -> str:
    answered = [sample.seconds for sample in samples if sample.seconds is not None]
    missing = len(samples) - len(answered)
    if not answered:
        return f"{len(samples)} sent, none answered"
    slow = sum(1 for seconds in answered if seconds > DEADLINE)
    p50, p99 = 1000 * percentile(answered, 0.5), 1000 * percentile(answered, 0.99)
    line = (
        f"{len(samples):3d} sent: p50 {p50:6.0f} ms, p99 {p99:6.0f} ms, max {1000 * max(answered):6.0f} ms; "
        f"over 3 s: {slow}; unanswered: {missing}"
    )
    if missing:
        outcomes: dict[str, int] = {}
        for sample in samples:
            if sample.seconds is None:
                outcomes[sample.outcome] = outcomes.get(sample.outcome, 0) + 1
        line += " (" + ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items()) + ")"
    return line


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # figures as they come
    emulator_process = EmulatorProcess()
    remote = emulator_process.start()
    try:
        async with aiohttp.ClientSession() as session:
            emulator = EmulatorHandle(remote, session)  # type: ignore[arg-type]  # reads addresses and token only
            with FeedServer(args.feeds, now=datetime.now(UTC)) as feeds, tempfile.TemporaryDirectory() as folder:
                workdir = Path(folder)
                sources = workdir / "sources.toml"
                sources.write_text(sources_toml(feeds.urls))
                seeded = workdir / "seeded.db"
                began = time.perf_counter()
                await store_stories(settings_for(emulator, seeded, sources), args.stories)
                print(
                    f"{args.stories} stories stored in {time.perf_counter() - began:.1f} s; {args.feeds} feeds, each "
                    f"on its own address; a command every 200 ms from the bot's readiness; {args.runs} run(s)"
                )
                samples: list[Sample] = []
                for _ in range(args.runs):
                    samples += await one_run(emulator, seeded, sources, workdir, args.idle)
    finally:
        emulator_process.stop()
    for phase, title in (("poll", "during the first poll"), ("idle", "idle, after it")):
        print(f"{title}:")
        for command, _ in COMMANDS:
            chosen = [sample for sample in samples if sample.phase == phase and sample.command == command]
            print(f"  /{command:9} {summary(chosen) if chosen else 'none sent'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of commands after the first poll")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
