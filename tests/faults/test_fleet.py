"""A fleet on PostgreSQL as real processes: one worker polls, two gateways of two shards each deliver for the servers
of their shards; killed and restarted, nothing is lost or doubled; a second worker takes over polling.

The emulator recommends four shards and sends each server's events only to the gateway of its shard
((guild_id >> 22) % 4). Eight servers each have channels subscribed to alerts of a topic of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.store.database import create_engine
from bot.store.news import NewsStore
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.discord_emulator.server import Emulator
from tests.e2e.newsroom import Item, Newsroom
from tests.faults.conftest import ROOT, BotProcess, bot_env, posted_stories

SHARDS = 4
SERVERS = 8
CHANNELS_PER_SERVER = 3


class Fleet:
    def __init__(self, emulator: EmulatorHandle, newsroom: Newsroom, env: dict[str, str], workdir: Path) -> None:
        self.emulator = emulator
        self.newsroom = newsroom
        self.env = env
        self.workdir = workdir
        self.processes: list[BotProcess] = []
        self.channels: dict[int, list[int]] = {}  # server -> its subscribed channels

    def process(self, name: str, role: str, **settings: str) -> BotProcess:
        log = self.workdir / f"{name}.log"
        process = BotProcess({**self.env, **settings}, log, role=role)
        self.processes.append(process)
        return process

    def shard_of(self, guild_id: int) -> int:
        return (guild_id >> 22) % SHARDS

    async def servers(self) -> None:
        """Eight servers (the emulator's first one and seven more) with three subscribed channels each."""
        for number in range(1, SERVERS):
            await self.emulator.call("POST", "/guilds", {"name": f"Server {number}"})
        for guild in (await self.emulator.state())["guilds"]:
            guild_id = int(guild["id"])
            channels = [int(c["id"]) for c in guild["channels"] if c["name"] == "news"]
            for number in range(1, CHANNELS_PER_SERVER):
                made = await self.emulator.call("POST", "/channels", {"guild_id": str(guild_id), "name": f"n{number}"})
                channels.append(int(made["id"]))
            self.channels[guild_id] = channels

    async def subscribe(self) -> None:
        for guild_id, channels in self.channels.items():
            topic = {"name": "zebra", "query": "zebrafish"}
            answer = await self.emulator.ask("watch", topic, subcommand="add", user="admin", guild_id=guild_id)
            assert answer["status"] == "answered", answer
            for channel in channels:
                options = {"channel": str(channel), "mode": "alerts", "min_importance": 0, "topics": "zebra"}
                answer = await self.emulator.ask("subscribe", options, user="admin", guild_id=guild_id, wait=10)
                assert answer["status"] == "answered", answer

    async def posted(self) -> dict[int, Counter[str]]:
        """Per channel, how many times each story was posted (`posted_stories`)."""
        return {
            channel: posted_stories(await self.emulator.channel_messages(channel))
            for channels in self.channels.values()
            for channel in channels
        }

    async def wait_each_once(self, stories: int, within: float = 90.0) -> None:
        total = SERVERS * CHANNELS_PER_SERVER * stories
        deadline = time.monotonic() + within
        while True:
            posted = await self.posted()
            count = sum(sum(c.values()) for c in posted.values())
            if count >= total:
                break
            if time.monotonic() > deadline:
                logs = "\n".join(p.text()[-2500:] for p in self.processes)
                raise AssertionError(f"{count} of {total} after {within:g} s\n{logs}")
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        posted = await self.posted()
        doubled = {ch: [s for s, n in c.items() if n > 1] for ch, c in posted.items() if any(n > 1 for n in c.values())}
        assert not doubled, f"posted twice: {doubled}"
        short = {ch: len(c) for ch, c in posted.items() if len(c) != stories}
        assert not short, f"missing: {short}"

    async def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                await process.stop()


@pytest.fixture
async def fleet(database_url: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    server = Emulator(recommended_shards=SHARDS)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, Newsroom() as newsroom:
            emulator = EmulatorHandle(server, session)
            sources = tmp_path / "sources.toml"
            sources.write_text(newsroom.sources_toml())
            env = bot_env(emulator, database_url, sources)
            fleet = Fleet(emulator, newsroom, env, tmp_path)
            try:
                yield fleet
            finally:
                await fleet.stop()
    finally:
        await server.stop()


def zebrafish(count: int, start: int = 0) -> list[Item]:
    return [
        Item(f"Zebrafish z{n}a z{n}b z{n}c", f"https://www.bbc.co.uk/news/zebrafish-{n}", "zebrafish")
        for n in range(start, start + count)
    ]


async def stored_titles(database_url: str) -> Counter[str]:
    engine = create_engine(database_url)
    try:
        return Counter(story.title for story in await NewsStore(engine).all_stories())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_fleet_delivers_each_story_once_through_crashes_and_a_new_worker(
    fleet: Fleet, database_url: str
) -> None:
    await fleet.servers()
    shards = {fleet.shard_of(guild) for guild in fleet.channels}
    assert shards & {0, 1}, f"servers on shards {shards}: both gateways must have some"
    assert shards & {2, 3}, f"servers on shards {shards}: both gateways must have some"
    gateways = [fleet.process("gateway-a", "gateway", SHARD_COUNT="4", SHARD_IDS="0-1")]
    gateways.append(fleet.process("gateway-b", "gateway", SHARD_COUNT="4", SHARD_IDS="2-3"))
    for gateway in gateways:
        await gateway.start()
    await fleet.subscribe()
    worker = fleet.process("worker", "worker")
    await worker.start(ready="worker ready")

    # every channel gets each story once: five alerts and one summary of the other three
    fleet.newsroom.publish_items("bbc", zebrafish(8))
    await fleet.wait_each_once(8)

    # kill -9 a gateway in the middle of a fan-out, then start it again: nothing lost, nothing doubled
    fleet.newsroom.publish_items("bbc", zebrafish(8) + zebrafish(4, start=100))
    await asyncio.sleep(0.8)
    await gateways[0].kill()
    await asyncio.sleep(1)
    await gateways[0].start()
    await fleet.wait_each_once(12)

    # a second worker waits; the first dies; polling goes on, and no story is built twice
    second = fleet.process("worker-2", "worker")
    await second.start(ready="worker ready")
    await worker.kill()
    fleet.newsroom.publish_items("bbc", zebrafish(8) + zebrafish(4, start=100) + zebrafish(3, start=200))
    await fleet.wait_each_once(15, within=120)
    titles = await stored_titles(database_url)
    assert not [title for title, n in titles.items() if n > 1], titles
    assert "this process polls the sources" in second.text()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_gateways_of_the_same_shards_send_each_message_once(fleet: Fleet) -> None:
    """A rolling deploy: the new gateway starts before the old one stops, both for every shard."""
    await fleet.servers()
    first = fleet.process("gateway-1", "gateway", SHARD_COUNT="4", SHARD_IDS="0-3")
    await first.start()
    await fleet.subscribe()
    second = fleet.process("gateway-2", "gateway", SHARD_COUNT="4", SHARD_IDS="0-3")
    await second.start()
    await fleet.process("worker", "worker").start(ready="worker ready")
    fleet.newsroom.publish_items("bbc", zebrafish(4))
    await fleet.wait_each_once(4)


def test_the_fleet_roles_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    env.pop("DISCORD_TOKEN", None)
    for role in ("worker", "gateway"):
        done = subprocess.run(
            [sys.executable, "-m", "bot", role], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: DATABASE_URL: `python -m bot {role}` is for a fleet"), done.stderr
        assert "PostgreSQL" in done.stderr
