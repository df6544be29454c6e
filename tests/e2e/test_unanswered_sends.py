"""A message Discord posted while the bot never heard back, sent again after Discord's nonce window: adopted from
the channel's history, not posted twice (before, a restart more than about five minutes after a crash posted it
again, as Discord had forgotten the nonce)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import running_bot
from tests.discord_emulator.fixtures import EmulatorHandle, pointed_at, settings_for
from tests.discord_emulator.server import Emulator
from tests.e2e.newsroom import Newsroom, eventually, quick


class Shift:
    """One offset for the emulator's clock and the bot's: both jump ahead together."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def emulator(self) -> float:
        return time.time() + self.seconds

    def bot(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.seconds)


@pytest.fixture
async def shifted() -> AsyncIterator[tuple[EmulatorHandle, Shift]]:
    shift = Shift()
    server = Emulator(clock=shift.emulator)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield EmulatorHandle(server, session), shift
    finally:
        await server.stop()


async def test_a_message_posted_without_an_answer_is_adopted_after_the_nonce_window(
    shifted: tuple[EmulatorHandle, Shift], tmp_path: Path
) -> None:
    emulator, shift = shifted
    async with Newsroom() as newsroom:
        sources = tmp_path / "sources.toml"
        sources.write_text(newsroom.sources_toml())
        settings = settings_for(emulator, tmp_path / "bot.db", sources, POLL_INTERVAL=1)
        with pointed_at(emulator):
            async with running_bot(settings, clock=shift.bot, guild_ready_timeout=0.1) as bot:
                quick(bot)
                runner = bot.deliveries
                runner.retry_base, runner.retry_max = 100.0, 300.0  # the retry waits past the window below
                news = await emulator.channel_id("news")
                answer = await emulator.ask(
                    "subscribe", {"channel": str(news), "mode": "alerts", "min_importance": 0}, user="admin", wait=10
                )
                assert answer["status"] == "answered", answer
                # Discord posts the alert, and every answer is lost (discord.py's own retries included).
                await emulator.fault("POST", r"^/channels/\d+/messages$", 429, count=5, after=True)
                newsroom.publish("bbc")
                posted = await eventually(
                    lambda: emulator.channel_messages(news), lambda found: len(found) == 1, what="the alert posted"
                )
                await eventually(
                    bot.services.delivery.pending,
                    lambda rows: len(rows) == 1 and rows[0].error is not None,
                    what="the bot waiting to try again",
                )
                shift.seconds += 6 * 60  # past Discord's nonce window (and the bot's): the nonce is forgotten
                await eventually(
                    bot.services.delivery.pending, lambda rows: rows == [], within=10, what="the row settled"
                )
                again = await emulator.channel_messages(news)
                assert [m["id"] for m in again] == [posted[0]["id"]]  # adopted, not posted twice
