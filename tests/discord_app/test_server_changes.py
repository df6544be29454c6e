"""Changes made on Discord's side that the bot must follow, end to end through the emulator (issue 11, item 7).

The bot removed from a server (GUILD_DELETE): deliveries stop, the data is kept for the grace period and purged
after it, and a return within it keeps it. A role granted an admin command in the server's Integrations
settings: Discord shows it the command, and the bot's own check decides."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.discord_app.client import AccordWatchBot
from bot.store.guilds import active_guild_ids
from tests.discord_emulator.fixtures import EmulatorHandle, bot, bot_settings, emulator, sources_file

__all__ = ["bot", "bot_settings", "emulator", "sources_file"]


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def subscribed_server(emulator: EmulatorHandle, bot: AccordWatchBot) -> tuple[int, int]:
    """A second server with a channel subscribed to a daily digest: (guild id, channel id)."""
    created = await emulator.call("POST", "/guilds", {"name": "Leaving soon"})
    guild_id = int(created["id"])
    channel_id = int(next(c["id"] for c in created["channels"] if c["name"] == "news"))
    await until(lambda: _known(bot, guild_id), "the bot sees the new server")
    answer = await emulator.ask(
        "subscribe", {"channel": str(channel_id), "mode": "digest"}, user="admin", guild_id=guild_id, wait=10
    )
    assert answer["status"] == "answered", answer
    assert bot.services.scheduler.get_job(f"digest:{channel_id}") is not None
    return guild_id, channel_id


async def _known(bot: AccordWatchBot, guild_id: int) -> bool:
    return bot.get_guild(guild_id) is not None and guild_id in await active_guild_ids(bot.services.engine)


async def test_removal_stops_deliveries_and_the_data_is_purged_after_30_days(
    emulator: EmulatorHandle, bot: AccordWatchBot
) -> None:
    guild_id, channel_id = await subscribed_server(emulator, bot)
    await emulator.remove_bot(guild_id)

    async def gone() -> bool:
        return guild_id not in await active_guild_ids(bot.services.engine)

    await until(gone, "on_guild_remove marks the server removed")
    assert bot.get_guild(guild_id) is None
    assert bot.services.scheduler.get_job(f"digest:{channel_id}") is None
    delivery = bot.services.delivery
    now = datetime.now(UTC)
    assert await delivery.purge_removed_guilds(now + timedelta(days=29)) == 0  # kept for the grace period
    assert [s.channel_id for s in await delivery.subscriptions(guild_id)] == [channel_id]
    assert await delivery.purge_removed_guilds(now + timedelta(days=31)) == 1
    assert await delivery.subscriptions(guild_id) == []


async def _rejoined(emulator: EmulatorHandle, bot: AccordWatchBot) -> tuple[int, int]:
    guild_id, channel_id = await subscribed_server(emulator, bot)
    await emulator.remove_bot(guild_id)

    async def gone() -> bool:
        return guild_id not in await active_guild_ids(bot.services.engine)

    await until(gone, "on_guild_remove marks the server removed")
    await emulator.call("POST", f"/guilds/{guild_id}/join")
    await until(lambda: _known(bot, guild_id), "on_guild_join marks the server back")
    return guild_id, channel_id


async def test_a_server_that_comes_back_keeps_its_data(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    guild_id, channel_id = await _rejoined(emulator, bot)
    delivery = bot.services.delivery
    assert await delivery.purge_removed_guilds(datetime.now(UTC) + timedelta(days=31)) == 0
    assert [s.channel_id for s in await delivery.subscriptions(guild_id)] == [channel_id]


async def test_a_server_that_comes_back_gets_its_digests_again(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    _, channel_id = await _rejoined(emulator, bot)
    assert bot.services.scheduler.get_job(f"digest:{channel_id}") is not None


async def test_a_role_granted_an_admin_command_still_meets_the_bots_check(
    emulator: EmulatorHandle, bot: AccordWatchBot
) -> None:
    """An admin grants a role /subscribe in Integrations (Discord then shows it to that role); the bot checks
    Manage Server itself and refuses a member without it, saying why; nothing is subscribed."""
    news = await emulator.channel_id("news")
    options = {"channel": str(news), "mode": "alerts"}
    with pytest.raises(AssertionError, match="hidden from user"):
        await emulator.run_command("subscribe", options, user="member")
    helpers = await emulator.add_role("helpers", members=["member"])
    await emulator.command_permissions("subscribe", [{"type": "role", "id": str(helpers), "permission": True}])
    answer = await emulator.ask("subscribe", options, user="member")
    assert answer["ephemeral"]
    assert answer["messages"][0]["content"] == "You need the Manage Server permission to use this command."
    assert await bot.services.delivery.subscriptions(await _guild(emulator)) == []


async def _guild(emulator: EmulatorHandle) -> int:
    return int((await emulator.state())["guilds"][0]["id"])
