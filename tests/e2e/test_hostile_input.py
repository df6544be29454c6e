"""What a hostile or careless input does to the bot, end to end (the fault suite's findings): NUL in a query, a feed
that cannot be parsed, a flood of matching items, one slow source, a channel that refuses the bot, a member who was
shown an admin command."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import BotLauncher, Item, Newsroom, eventually, rss

LOCAL = "127.0.0.8"


def shown(answer: dict[str, Any]) -> str:
    return str([(m["content"], m["embeds"]) for m in answer["messages"]])


class LocalFeeds:
    """Feeds a server admin adds, on a loopback address of their own: a body per path, an optional delay."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.delays: dict[str, float] = {}
        self.hits: dict[str, int] = {}
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://{LOCAL}:{self.port}/{path}"

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        await asyncio.sleep(self.delays.get(path, 0.0))
        return web.Response(body=self.bodies.get(path, b""), content_type="application/rss+xml")


@pytest.fixture
async def local_feeds() -> AsyncIterator[LocalFeeds]:
    feeds = LocalFeeds()
    app = web.Application()
    app.router.add_get("/{path}", feeds.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, LOCAL, 0).start()
    feeds.port = runner.addresses[0][1]
    try:
        yield feeds
    finally:
        await runner.cleanup()


ALLOW_LOCAL = pytest.mark.parametrize("newsroom_settings", [{"POLL_INTERVAL": 1, "SERVER_SOURCES_ALLOW": LOCAL}])


async def test_a_query_with_a_nul_is_refused_and_nothing_breaks(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    answer = await emulator.ask("watch", {"name": "poison", "query": "Qatar\x00 joins"}, subcommand="add", user="admin")
    assert answer["ephemeral"]
    assert "control characters" in shown(answer), answer
    listed = await emulator.ask("watch", subcommand="list", user="admin")
    assert "poison" not in shown(listed)
    assert "Sorry" not in shown(await emulator.ask("status", user="admin"))


@ALLOW_LOCAL
async def test_a_feed_that_cannot_be_parsed_is_shown_failing_with_why(
    emulator: EmulatorHandle, bots: BotLauncher, local_feeds: LocalFeeds
) -> None:
    await bots.start()
    local_feeds.bodies["wire.xml"] = rss(
        "Okapi Wire", [Item("Okapi", "https://okapi.example/1", "o")], datetime.now(UTC)
    )
    added = await emulator.ask("sources", {"url": local_feeds.url("wire.xml")}, subcommand="add", user="admin", wait=10)
    assert "Added" in shown(added), added
    local_feeds.bodies["wire.xml"] = b"<?xml version='1.0'?><rss><channel><title>Broken"  # truncated garbage

    async def status() -> str:
        return shown(await emulator.ask("status", user="admin"))

    text = await eventually(status, lambda found: "⚠️ Okapi Wire" in found, what="the source shown failing")
    assert "not a feed the bot can read" in text


@ALLOW_LOCAL
async def test_a_flood_of_matching_items_gives_a_channel_a_handful_of_messages_and_polls_go_on(
    emulator: EmulatorHandle, bots: BotLauncher, local_feeds: LocalFeeds
) -> None:
    """Before, 5,000 matching items made 984 alerts to one channel, sent at 1/s while every poll tick was skipped."""
    await bots.start()
    news = await emulator.channel_id("news")
    await emulator.ask("watch", {"name": "zebra", "query": "zebrafish"}, subcommand="add", user="admin")
    await emulator.ask(
        "subscribe", {"channel": str(news), "mode": "alerts", "min_importance": 0}, user="admin", wait=10
    )
    local_feeds.bodies["flood.xml"] = rss(
        "Flood", [Item("Seed zebrafish", "https://flood.example/seed", "s")], datetime.now(UTC)
    )
    await emulator.ask("sources", {"url": local_feeds.url("flood.xml")}, subcommand="add", user="admin", wait=10)
    # 5,000 unrelated stories: each title shares only "zebrafish" with the others
    flood = [Item(f"Zebrafish w{n}a w{n}b w{n}c", f"https://flood.example/{n}", "zebrafish") for n in range(5000)]
    local_feeds.bodies["flood.xml"] = rss("Flood", flood, datetime.now(UTC))
    before = local_feeds.hits.get("flood.xml", 0)

    def summary_in(found: list[dict[str, Any]]) -> bool:
        return any(m["embeds"][0]["footer"]["text"].startswith("Alerts summary") for m in found)

    await eventually(lambda: emulator.channel_messages(news), summary_in, within=60, what="the rest in one summary")
    await asyncio.sleep(3)  # more polls and rounds: nothing more
    messages = await emulator.channel_messages(news)
    assert len(messages) == 6, [m["embeds"][0]["title"] for m in messages]  # five alerts and one summary
    assert local_feeds.hits["flood.xml"] > before + 2  # polls went on meanwhile


@ALLOW_LOCAL
async def test_one_slow_source_delays_no_other_sources_alert(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom, local_feeds: LocalFeeds
) -> None:
    """Before, the poll waited for every fetch before saving anything: one slow source delayed every alert."""
    await bots.start()
    news = await emulator.channel_id("news")
    local_feeds.bodies["slow.xml"] = rss(
        "Slow Wire", [Item("Okapi", "https://okapi.example/1", "o")], datetime.now(UTC)
    )
    await emulator.ask("sources", {"url": local_feeds.url("slow.xml")}, subcommand="add", user="admin", wait=10)
    await emulator.ask(
        "subscribe", {"channel": str(news), "mode": "alerts", "min_importance": 0}, user="admin", wait=10
    )
    local_feeds.delays["slow.xml"] = 12.0
    await asyncio.sleep(1.5)  # a poll is now waiting on the slow source
    published = time.monotonic()
    newsroom.publish("bbc")
    await eventually(
        lambda: emulator.channel_messages(news), lambda found: len(found) >= 1, within=10, what="the BBC alert"
    )
    assert time.monotonic() - published < 6


async def test_a_channel_that_refuses_the_bot_is_paused_at_the_first_refusal_with_one_notice(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    """Before, each planned alert met the 403 and sent its own notice (three identical notices)."""
    await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await emulator.ask("watch", {"name": "zebra", "query": "zebrafish"}, subcommand="add", user="admin")
    await emulator.ask(
        "subscribe", {"channel": str(news), "mode": "alerts", "min_importance": 0}, user="admin", wait=10
    )
    await emulator.permissions(news, deny=["send_messages"])
    newsroom.publish_items(
        "bbc", [Item(f"Zebrafish {word}", f"https://bbc.co.uk/z/{word}", "zebrafish") for word in ("one", "two", "3")]
    )
    notices = await eventually(
        lambda: emulator.channel_messages(general), lambda found: len(found) >= 1, what="the notice to the admins"
    )
    await asyncio.sleep(2)  # more rounds: no more notices, no more tries
    notices = await emulator.channel_messages(general)
    assert len(notices) == 1, [n["content"] for n in notices]
    tried = [r for r in (await emulator.requests())["requests"] if r["method"] == "POST" and str(news) in r["path"]]
    assert len(tried) == 1, tried


async def test_a_member_granted_an_admin_command_learns_no_topic_names(
    emulator: EmulatorHandle, bots: BotLauncher
) -> None:
    await bots.start()
    await emulator.ask("watch", {"name": "secret-plans", "query": "Oman"}, subcommand="add", user="admin")
    helpers = await emulator.add_role("helpers", members=["member"])
    await emulator.command_permissions("watch", [{"type": "role", "id": str(helpers), "permission": True}])
    typed = {"name": "sec"}
    assert await emulator.autocomplete("watch", "name", typed, user="member", subcommand="remove") == []
    offered = await emulator.autocomplete("watch", "name", typed, user="admin", subcommand="remove")
    assert [c["value"] for c in offered] == ["secret-plans"]
