"""The fault suite's rig: the bot as a real process (`python -m bot`, as a platform runs it) against the in-process
Discord emulator and local outlet feeds, on SQLite or PostgreSQL; killed, stopped and restarted by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.database import create_engine
from bot.store.schema import deliveries
from tests.discord_emulator.fixtures import EmulatorHandle, emulator
from tests.e2e.newsroom import Newsroom

__all__ = ["BotProcess", "Rig", "bot_env", "emulator", "rig"]

ROOT = Path(__file__).resolve().parents[2]
_OUTBOX_COLUMNS = (
    *("id", "channel_id", "kind", "story_ids", "state", "attempts", "error", "attempted_at", "next_try_at"),
    *("claimed_by", "claimed_until", "created_at"),
)


def posted_stories(messages: list[dict[str, Any]]) -> Counter[str]:
    """How many times each story was posted in these messages: as an alert (the story number in its footer) or in
    a summary of the alerts past a channel's cap for a round (each line names its story)."""
    counts: Counter[str] = Counter()
    for message in messages:
        for embed in message["embeds"]:
            footer = embed.get("footer", {}).get("text", "")
            if footer.startswith("Story "):
                counts[footer.split(" ")[1]] += 1
            elif footer.startswith("Alerts summary"):
                counts.update(re.findall(r"/story (\d+)", embed.get("description", "")))
    return counts


class BotProcess:
    """One `python -m bot` process; its log (stderr) goes to a file, read by the tests."""

    def __init__(self, env: dict[str, str], log: Path, *, role: str = "run") -> None:
        self.env = env
        self.log = log
        self.role = role
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, within: float = 60.0, *, ready: str = "ready as") -> None:
        start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", self.role, cwd=self.log.parent, env=self.env, stderr=out, stdout=out
            )
        deadline = time.monotonic() + within
        while ready not in self.log.read_text(errors="replace")[start:]:
            if self.process.returncode is not None:
                raise AssertionError(f"the bot exited at start:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot was not ready in {within:g} s:\n{self.text()}")
            await asyncio.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def terminate(self, within: float = 30.0) -> int:
        """SIGTERM, as a platform stops a worker on a deploy; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(within):
            return await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


class Rig:
    """The emulator, the outlets and the bot process, with the helpers every fault test needs."""

    def __init__(self, emulator: EmulatorHandle, newsroom: Newsroom, bot: BotProcess, database_url: str) -> None:
        self.emulator = emulator
        self.newsroom = newsroom
        self.bot = bot
        self.database_url = database_url

    async def channels(self, count: int) -> list[int]:
        """`count` channels to deliver to: #news and new ones."""
        ids = [await self.emulator.channel_id("news")]
        for index in range(1, count):
            created = await self.emulator.call("POST", "/channels", {"name": f"news-{index}"})
            ids.append(int(created["id"]))
        return ids

    async def ask(self, command: str, options: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        answer = await self.emulator.ask(command, options, wait=15, **kwargs)
        assert answer["status"] == "answered", answer
        return answer

    async def subscribe_all(self, channels: list[int], topic: str, word: str) -> None:
        await self.ask("watch", {"name": topic, "query": word}, subcommand="add", user="admin")
        for channel in channels:
            await self.ask(
                "subscribe",
                {"channel": str(channel), "mode": "alerts", "min_importance": 0, "topics": topic},
                user="admin",
            )

    async def alerts(self, channels: list[int]) -> dict[int, Counter[str]]:
        """Per channel, how many times each story was posted (`posted_stories`)."""
        return {channel: posted_stories(await self.emulator.channel_messages(channel)) for channel in channels}

    async def messages(self, channels: list[int]) -> int:
        return sum([len(await self.emulator.channel_messages(channel)) for channel in channels])

    async def delivered(self, channels: list[int]) -> int:
        return sum(sum(counts.values()) for counts in (await self.alerts(channels)).values())

    async def wait_delivered(self, channels: list[int], at_least: int, within: float) -> int:
        """Wait until at least `at_least` stories were posted over these channels."""
        deadline = time.monotonic() + within
        while True:
            count = await self.delivered(channels)
            if count >= at_least:
                return count
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{count} of {at_least} messages after {within:g} s\n{await self.shortfall(channels)}\n"
                    f"{self.bot.text()[-4000:]}"
                )
            await asyncio.sleep(0.1)

    async def shortfall(self, channels: list[int]) -> str:
        """What a failed wait needs to be understood: each channel's posts, and the outbox rows not sent yet (their
        state, tries, last error, claim and next try), as the bot's database has them."""
        posted = {channel: sum(counts.values()) for channel, counts in (await self.alerts(channels)).items()}
        lines = [f"stories posted per channel: {posted}"]
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(deliveries).where(deliveries.c.state != "sent"))
                for row in rows.mappings():
                    lines.append(
                        "unsent: " + ", ".join(f"{key}={row[key]}" for key in _OUTBOX_COLUMNS if row[key] is not None)
                    )
        except Exception as exc:  # the diagnosis must not hide the failure it explains
            lines.append(f"(the outbox could not be read: {exc!r})")
        finally:
            await engine.dispose()
        return "\n".join(lines)

    async def assert_each_once(self, channels: list[int], stories: int, within: float = 60.0) -> None:
        """Every channel has every story's alert, and none twice (waiting up to `within` for the last ones)."""
        await self.wait_delivered(channels, len(channels) * stories, within)
        await asyncio.sleep(1.5)  # more rounds: nothing more may come
        alerts = await self.alerts(channels)
        doubled = {channel: [s for s, n in counts.items() if n > 1] for channel, counts in alerts.items()}
        assert not any(doubled.values()), f"posted twice: {doubled}"
        short = {channel: len(counts) for channel, counts in alerts.items() if len(counts) != stories}
        assert not short, f"channels missing stories: {short}"


def bot_env(emulator: EmulatorHandle, database_url: str, sources: Path, **settings: str) -> dict[str, str]:
    """The environment of a bot process against this emulator: this database, these sources, polls every second;
    none of the caller's own bot settings leak in."""
    prefixes = ("DISCORD_", "DATABASE_", "DEV_GUILD", "SHARD_", "REDIS_", "HEALTH_")
    keep = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": emulator.token,
        "DISCORD_API_BASE": emulator.api_base,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DATABASE_URL": database_url,
        "SOURCES_FILE": str(sources),
        "POLL_INTERVAL": "1",
        "POLL_WORKERS": "1",  # a few small feeds: one worker to start, not one per core
        "LOG_LEVEL": "INFO",
        **settings,
    }


@pytest.fixture
async def rig(emulator: EmulatorHandle, database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with Newsroom() as newsroom:
        sources = tmp_path / "sources.toml"
        sources.write_text(newsroom.sources_toml())
        bot = BotProcess(bot_env(emulator, database_url, sources), tmp_path / "bot.log")
        try:
            yield Rig(emulator, newsroom, bot, database_url)
        finally:
            with contextlib.suppress(ProcessLookupError):
                await bot.stop()
