"""Fleet benchmark (issue 13): one alert to many channels through two gateway processes, against the emulator.

    python bench/fleet.py                          # 2,000 channels in 200 servers, with and without Redis
    python bench/fleet.py --channels 500 --guilds 50 --budget redis

A fleet as an operator runs it, every part a process of its own: the emulator (four shards recommended), one
`python -m bot worker` and two `python -m bot gateway` of two shards each, on PostgreSQL (BENCH_DATABASE_URL, or
TEST_DATABASE_URL, or postgresql://postgres@127.0.0.1:5432/test; a schema of its own, dropped after). The servers,
channels and subscriptions are created first (the servers through the emulator, the subscriptions through the
Delivery core); then the worker's first poll finds one story (the UAE-Israel deal told by BBC, CNN and the Guardian
from local feeds) and each gateway alerts the channels of its shards.

Reported per budget (`redis`: one shared Redis budget, REDIS_URL; `share`: each gateway half of the global limit):
messages per second over all gateways from the first alert to the last (Discord's limit is 50/s for the token; the
goal is at least 45/s), the 429s among message requests and how many were global (the goal: none), and the time
from the story being stored to the first and to the last message. Message times come from the emulator's snowflake
ids; the story's time is when the poll that stored it saw its first article.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.delivery import EmulatorProcess, created_at, make_channels
from bot.delivery.service import Delivery
from bot.store.database import async_url, create_engine, migrate
from bot.store.news import NewsStore
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import Newsroom

ROOT = Path(__file__).resolve().parent.parent


async def run_fleet(budget: str, guilds: int, channels: int, base_url: str, workdir: Path) -> None:
    process = EmulatorProcess("--shards", "4")
    remote = process.start()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with aiohttp.ClientSession() as session, Newsroom() as newsroom:
            emulator = EmulatorHandle(remote, session)  # type: ignore[arg-type]
            pairs = await make_channels(emulator, guilds, channels)
            engine = create_engine(database_url)
            await migrate(engine)
            delivery = Delivery(engine, NewsStore(engine), lambda: datetime.now(UTC), max_article_age=None)
            for guild in {g for g, _ in pairs}:
                await delivery.ensure_guild(guild)
            for guild, channel in pairs:
                # the UAE deal of 2020 published today is a follow-up (score 2 with two outlets): 2 alerts it
                await delivery.subscribe(guild, channel, mode="alerts", min_importance=2)
            await engine.dispose()
            sources = workdir / "sources.toml"
            sources.write_text(newsroom.sources_toml())
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "SHARD_"))},
                "PYTHONPATH": str(ROOT),
                "DISCORD_TOKEN": remote.token,
                "DISCORD_API_BASE": remote.api_base,
                "DISCORD_GATEWAY_URL": remote.gateway_url,
                "DATABASE_URL": database_url,
                "SOURCES_FILE": str(sources),
                "POLL_INTERVAL": "600",
                "LOG_LEVEL": "WARNING",
            }
            if budget == "redis":
                env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
            for shards in ("0-1", "2-3"):
                processes.append(
                    subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
                        [sys.executable, "-m", "bot", "gateway"],
                        env={**env, "SHARD_COUNT": "4", "SHARD_IDS": shards},
                        cwd=workdir,
                        stderr=(workdir / f"gateway-{shards}.log").open("wb"),
                    )
                )
            await asyncio.sleep(8)  # the gateways connect and rebuild their jobs
            before = len((await emulator.requests())["requests"])
            newsroom.publish("bbc", "cnn", "guardian")
            processes.append(
                subprocess.Popen(  # noqa: ASYNC220 - the poll is what is measured, from the story stored on
                    [sys.executable, "-m", "bot", "worker"],
                    env=env,
                    cwd=workdir,
                    stderr=(workdir / "worker.log").open("wb"),
                )
            )
            deadline = time.monotonic() + 300
            while True:
                report = await emulator.requests()
                posts = [
                    e for e in report["requests"][before:] if e["method"] == "POST" and e["path"].endswith("/messages")
                ]
                if sum(1 for e in posts if e["status"] == 200) >= len(pairs) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            times: list[float] = []
            for _, channel in pairs:
                messages = await emulator.channel_messages(channel)
                if len(messages) != 1:
                    raise RuntimeError(f"channel {channel} got {len(messages)} alert(s)")
                times.append(created_at(messages[0]["id"]))
            engine = create_engine(database_url)
            stored = await NewsStore(engine).recent_stories(datetime.now(UTC) - timedelta(hours=1))
            await engine.dispose()
            story_at = min(s.first_seen for s in stored).timestamp()
            first, last = min(times), max(times)
            limited = sum(1 for e in posts if e["status"] == 429)
            print(f"{budget}: {len(pairs)} channels in {guilds} servers through 2 gateways (each checked: one alert)")
            print(f"  messages per second, first to last alert: {(len(times) - 1) / (last - first):.1f}/s (goal >= 45)")
            print(
                f"  429s among message requests: {limited} of {len(posts)}, global: "
                f"{report['global_rate_limited']} (goal: none)"
            )
            to_first, to_last = first - story_at, last - story_at
            print(f"  from the story stored to the first alert: {to_first:.1f} s, to the last: {to_last:.1f} s")
    finally:
        for child in processes:
            child.terminate()
        for child in processes:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        process.stop()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    base_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    async_url(base_url)  # a malformed URL fails here, before anything starts
    for budget in args.budget or ["redis", "share"]:
        with tempfile.TemporaryDirectory() as workdir:
            await run_fleet(budget, args.guilds, args.channels, base_url, Path(workdir))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guilds", type=int, default=200)
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--budget", action="append", choices=("redis", "share"))
    asyncio.run(main(parser.parse_args()))
