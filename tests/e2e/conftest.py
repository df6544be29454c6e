"""End-to-end fixtures: the Discord API emulator, the real bot started against it, and the local outlets' feeds
(tests/e2e/newsroom.py) that the delivery and configuration tests feed it with."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.discord_emulator.fixtures import EmulatorHandle, bot, bot_settings, emulator, sources_file
from tests.e2e.newsroom import BotLauncher, Newsroom, launcher

__all__ = ["bot", "bot_settings", "bots", "emulator", "newsroom", "newsroom_settings", "sources_file"]


@pytest.fixture
async def newsroom() -> AsyncIterator[Newsroom]:
    async with Newsroom() as room:
        yield room


@pytest.fixture
def newsroom_settings() -> dict[str, Any]:
    """The bot's settings beside the newsroom's sources; a test may parametrize it."""
    return {"POLL_INTERVAL": 1}


@pytest.fixture
async def bots(
    emulator: EmulatorHandle, tmp_path: Path, newsroom: Newsroom, newsroom_settings: dict[str, Any]
) -> AsyncIterator[BotLauncher]:
    """Starts the bot, reading the newsroom's feeds, when the test asks (after it has set the news up), and again
    after a stop."""
    sources = tmp_path / "newsroom-sources.toml"
    sources.write_text(newsroom.sources_toml())
    async with launcher(emulator, tmp_path / "bot.db", sources, newsroom_settings) as started:
        yield started
