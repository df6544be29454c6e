"""Many servers, one bot: what one server's own sources report never reaches another server.

Two servers on the emulator. Server A adds a feed of its own that fabricates an accession ("Qatar signs the
Abraham Accords") told by two outlets; the operator's sources (the newsroom) carry the UAE story. Server B must see
nothing of Qatar anywhere: channel, /latest, /story, /members, /timeline, /digest preview, /watch test, /status.
Server A sees it, marked as its own sources' news, and never as a "reported" accession.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from bot.discord_app.client import AccordWatchBot
from bot.discord_app.story_render import OWN_SOURCES
from bot.store.news import NewsStore
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import BotLauncher, Item, Newsroom, eventually, rss, until

FABRICATOR_HOST = "127.0.0.9"
QATAR = (
    Item(
        "Qatar signs the Abraham Accords with Israel",
        "https://outlet-d.example/qatar-signs",
        "Qatar signed the Abraham Accords with Israel at the White House on Tuesday, Outlet D reports.",
    ),
    Item(
        "Qatar signs Abraham Accords, joining UAE and Bahrain",
        "https://outlet-e.example/qatar-abraham-accords",
        "Qatar has signed the Abraham Accords with Israel, Outlet E reports.",
    ),
)


@pytest.fixture
async def fabricator() -> AsyncIterator[str]:
    """Server A's own feed, on a loopback address of its own, carrying the fabricated accession from two outlets
    (each item names its outlet, as aggregators' feeds do)."""
    body = rss("Fabricated Wire", list(QATAR), datetime.now(UTC))
    for outlet, item in zip(("Outlet D", "Outlet E"), QATAR, strict=True):
        host = item.link.split("/")[2]
        body = body.replace(
            f"<link>{item.link}</link>".encode(),
            f'<link>{item.link}</link><source url="https://{host}/">{outlet}</source>'.encode(),
        )

    async def feed(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/wire.xml", feed)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, FABRICATOR_HOST, 0).start()
    try:
        yield f"http://{FABRICATOR_HOST}:{runner.addresses[0][1]}/wire.xml"
    finally:
        await runner.cleanup()


def texts(answer: dict[str, Any]) -> str:
    """Everything an answer shows: its contents and embeds."""
    return str([(m["content"], m["embeds"]) for m in answer["messages"]])


async def qatar_story(bot: AccordWatchBot) -> int:
    async def find() -> list[int]:
        stories = await NewsStore(bot.services.engine).all_stories()
        return [s.id for s in stories if "Qatar" in s.title]

    found: list[int] = await eventually(find, bool, within=15, what="the fabricated Qatar story stored")
    return found[0]


@pytest.mark.parametrize("newsroom_settings", [{"POLL_INTERVAL": 1, "SERVER_SOURCES_ALLOW": f"{FABRICATOR_HOST}/32"}])
async def test_a_servers_own_sources_never_reach_another_server(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom, fabricator: str
) -> None:
    bot = await bots.start()
    guild_a = int((await emulator.state())["guilds"][0]["id"])
    guild_b = int((await emulator.call("POST", "/guilds", {"name": "Server B"}))["id"])
    await until(lambda: bot.get_guild(guild_b) is not None, what="the bot in server B")
    news_a, news_b = await emulator.channel_id("news", 0), await emulator.channel_id("news", 1)
    for guild, channel in ((guild_a, news_a), (guild_b, news_b)):
        answer = await emulator.ask(
            "subscribe",
            {"channel": str(channel), "mode": "both", "min_importance": 0},
            user="admin",
            guild_id=guild,
            wait=10,
        )
        assert answer["status"] == "answered", answer
    added = await emulator.ask(
        "sources", {"url": fabricator}, subcommand="add", user="admin", guild_id=guild_a, wait=10
    )
    assert "Added **Fabricated Wire**" in texts(added), added
    newsroom.publish("bbc", "cnn")
    qatar = await qatar_story(bot)

    def mentions_qatar(messages: list[dict[str, Any]]) -> bool:
        return "Qatar" in str(messages)

    a_messages = await eventually(
        lambda: emulator.channel_messages(news_a),
        lambda found: mentions_qatar(found) and "UAE" in str(found),
        within=15,
        what="server A's alerts: Qatar (its own source) and the UAE story",
    )
    await eventually(
        lambda: emulator.channel_messages(news_b), lambda found: "UAE" in str(found), within=15, what="B's UAE alert"
    )
    await asyncio.sleep(1.5)  # more polls and delivery rounds: still nothing of Qatar for B

    # Server B: nothing, anywhere
    assert not mentions_qatar(await emulator.channel_messages(news_b))
    asked: dict[str, dict[str, Any]] = {
        "latest": await emulator.ask("latest", {"count": 20}, guild_id=guild_b),
        "members": await emulator.ask("members", guild_id=guild_b),
        "timeline": await emulator.ask("timeline", {"country": "Qatar"}, guild_id=guild_b),
        "preview": await emulator.ask(
            "digest", {"channel": str(news_b)}, subcommand="preview", guild_id=guild_b, channel_id=news_b
        ),
        "watch test": await emulator.ask(
            "watch", {"query": "Qatar"}, subcommand="test", user="admin", guild_id=guild_b
        ),
        "status": await emulator.ask("status", guild_id=guild_b),
    }
    for name, answer in asked.items():
        assert answer["status"] == "answered", (name, answer)
        assert "Qatar signs" not in texts(answer), (name, answer)
        assert "Fabricated" not in texts(answer), (name, answer)
        assert "outlet-d" not in texts(answer), (name, answer)
    unknown = await emulator.ask("story", {"id": qatar}, guild_id=guild_b)
    assert texts(unknown) == str([(f"There is no story {qatar}.", [])]), unknown  # as for a number never used
    assert "matches no story" in texts(asked["watch test"])

    # Server A: its own sources' news, marked so, never a reported accession
    alert = next(m for m in a_messages if mentions_qatar([m]))
    assert OWN_SOURCES in str(alert["embeds"])
    assert "2 outlets" in alert["embeds"][0]["description"], alert["embeds"]
    story = await emulator.ask("story", {"id": qatar}, guild_id=guild_a)
    assert "Qatar signs" in texts(story)
    assert OWN_SOURCES in texts(story)
    for guild in (guild_a, guild_b):
        members = await emulator.ask("members", guild_id=guild)
        timeline = await emulator.ask("timeline", {"country": "Qatar"}, guild_id=guild)
        assert "Qatar" not in texts(members), members
        assert "reported" not in texts(timeline), timeline
