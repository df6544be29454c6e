"""What admins configure and members ask, end to end: /watch, /subscribe's checks, /latest, /story, /status and
/sources, the real bot against the emulator, fed by local feeds (tests/e2e/newsroom.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from bot.discord_app.client import AccordWatchBot
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import BotLauncher, Newsroom, eventually, numbered_items, rss, until
from tests.e2e.test_delivery import LINKS, canonical, stories, story_with_outlets, subscribe, text_of


def embeds_text(answer: dict[str, Any]) -> str:
    return str([message["embeds"] for message in answer["messages"]])


@pytest.fixture
async def private_feed() -> AsyncIterator[dict[str, Any]]:
    """A feed of its own on loopback, as a server admin might add: three 'okapi' stories, and an HTML page."""
    served = {"feed": rss("Okapi Gazette", numbered_items("okapi", 3), datetime.now(UTC)), "hits": 0}

    async def feed(_: web.Request) -> web.Response:
        served["hits"] += 1
        return web.Response(body=served["feed"], content_type="application/rss+xml")

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>Not a feed</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/okapi.xml", feed)
    app.router.add_get("/page.html", page)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    served["url"] = f"http://127.0.0.1:{port}/okapi.xml"
    served["page"] = f"http://127.0.0.1:{port}/page.html"
    yield served
    await runner.cleanup()


async def test_watched_topics_are_checked_listed_tested_and_removed(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    bad = await emulator.ask("watch", {"name": "gulf", "query": '"Saudi Arabia" AND ('}, subcommand="add", user="admin")
    assert bad["ephemeral"]
    assert "expected a term but the query ended at character 21" in text_of(bad), bad
    assert '```\n"Saudi Arabia" AND (\n' + " " * 20 + "^\n```" in text_of(bad)
    added = await emulator.ask("watch", {"name": "gulf", "query": "Emirates OR UAE"}, subcommand="add", user="admin")
    assert "Now watching **gulf**" in text_of(added), added

    listed = embeds_text(await emulator.ask("watch", subcommand="list", user="admin"))
    assert "accords (built in)" in listed
    assert "Emirates OR UAE" in listed

    newsroom.publish("bbc", "cnn", "guardian")
    story = await story_with_outlets(bot, 3)
    assert any(topic.endswith(":gulf") for topic in story.topics)
    tested = await emulator.ask("watch", {"query": "Emirates"}, subcommand="test", user="admin")
    assert tested["ephemeral"]
    assert story.title in embeds_text(tested)
    assert "Matched:" in embeds_text(tested)
    assert f"/story {story.id}" in embeds_text(tested)
    nothing = await emulator.ask("watch", {"query": "zebrafish"}, subcommand="test", user="admin")
    assert "matches no story of the last 7 days" in text_of(nothing)

    removed = await emulator.ask("watch", {"name": "gulf"}, subcommand="remove", user="admin")
    assert "Stopped watching **gulf**" in text_of(removed)
    again = await emulator.ask("watch", {"name": "gulf"}, subcommand="remove", user="admin")
    assert "watches no topic called" in text_of(again)


async def test_subscribe_checks_the_channel_and_every_argument_before_saving(
    emulator: EmulatorHandle, bots: BotLauncher
) -> None:
    await bots.start()
    news = await emulator.channel_id("news")
    await emulator.permissions(news, deny=["embed_links"])
    refused = await emulator.ask("subscribe", {"channel": str(news), "mode": "digest"}, user="admin")
    assert refused["ephemeral"]
    assert "missing Embed Links" in text_of(refused), refused
    for option, value, problem in (
        ("schedule", "sometimes", "sometimes"),
        ("timezone", "Mars/Olympus_Mons", "Mars/Olympus_Mons"),
        ("quiet_hours", "late", "late"),
        ("topics", "nope", "nope"),
    ):
        await emulator.permissions(news, allow=["embed_links"])
        answer = await emulator.ask(
            "subscribe", {"channel": str(news), "mode": "both", option: value}, user="admin", wait=10
        )
        assert answer["ephemeral"]
        assert problem in text_of(answer), (option, answer)
        assert "Sorry, something went wrong" not in text_of(answer)
    assert "No channel is subscribed" in text_of(await emulator.ask("subscriptions", user="admin"))
    choices = await emulator.autocomplete("subscribe", "timezone", {"timezone": "london"}, user="admin")
    assert "Europe/London" in [choice["value"] for choice in choices]

    saved = await subscribe(emulator, news, "both", schedule="weekly mon 09:00", timezone="Europe/London")
    assert "weekly mon 09:00 (Europe/London)" in text_of(saved), saved


async def test_members_read_the_latest_one_story_and_the_status(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news = await emulator.channel_id("news")
    await subscribe(emulator, news, "digest", schedule="daily 09:00")
    newsroom.publish("bbc", "cnn", "guardian")
    story = await story_with_outlets(bot, 3)

    latest = await emulator.ask("latest", user="member")
    assert story.title in embeds_text(latest)
    unknown = await emulator.ask("latest", {"topic": "nope"}, user="member")
    assert unknown["ephemeral"]
    assert "watches no topic named 'nope'" in text_of(unknown), unknown

    one = embeds_text(await emulator.ask("story", {"id": story.id}, user="member"))
    for link in LINKS.values():
        assert canonical(link) in one
    for outlet in ("BBC", "CNN", "Guardian"):
        assert outlet in one
    missing = await emulator.ask("story", {"id": story.id + 1000}, user="member")
    assert missing["ephemeral"]
    assert f"There is no story {story.id + 1000}" in text_of(missing)

    status = await emulator.ask("status", user="member")
    assert status["ephemeral"]
    shown = embeds_text(status)
    assert "3 of 3 sources healthy" in shown, shown
    assert "Next digests" in shown
    assert f"<#{news}>" in shown


async def test_a_server_source_on_a_private_address_is_refused(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    cases = {
        "http://127.0.0.1:8080/feed.xml": "the host resolves to a loopback address (127.0.0.1).",
        "http://169.254.169.254/latest/meta-data": "the host resolves to a link-local address (169.254.169.254).",
        "http://10.0.0.5/rss": "the host resolves to a private address (10.0.0.5).",
        "not a url at all": "'not a url at all' is not a URL; a feed's address starts with https://.",
    }
    for url, why in cases.items():
        answer = await emulator.ask("sources", {"url": url}, subcommand="add", user="admin", wait=10)
        assert answer["ephemeral"]
        assert text_of(answer) == f"That address cannot be added: {why}", (url, answer)
    listed = await emulator.ask("sources", subcommand="list", user="admin")
    assert "has no sources of its own" in text_of(listed)


@pytest.mark.parametrize("newsroom_settings", [{"POLL_INTERVAL": 1, "SERVER_SOURCES_ALLOW": "127.0.0.1/32"}])
async def test_a_server_source_is_checked_when_added_then_polled_listed_and_removed(
    emulator: EmulatorHandle, bots: BotLauncher, private_feed: dict[str, Any]
) -> None:
    bot = await bots.start()
    await emulator.ask("watch", {"name": "okapi", "query": "okapi"}, subcommand="add", user="admin")
    not_a_feed = await emulator.ask("sources", {"url": private_feed["page"]}, subcommand="add", user="admin", wait=10)
    assert "not a feed I can read" in text_of(not_a_feed), not_a_feed

    added = await emulator.ask("sources", {"url": private_feed["url"]}, subcommand="add", user="admin", wait=10)
    assert "Added **Okapi Gazette** (3 entries now)" in text_of(added), added
    found = await eventually(
        lambda: stories(bot),
        lambda all_stories: sum(t.endswith(":okapi") for s in all_stories for t in s.topics) == 3,
        what="the okapi stories from the server's own source",
    )
    assert {s.articles[0].outlet for s in found if any(t.endswith(":okapi") for t in s.topics)} == {"Okapi Gazette"}
    twice = await emulator.ask("sources", {"url": private_feed["url"]}, subcommand="add", user="admin", wait=10)
    assert "already added" in text_of(twice), twice

    listed = embeds_text(await emulator.ask("sources", subcommand="list", user="admin"))
    assert "Okapi Gazette" in listed
    removed = await emulator.ask("sources", {"source": "Okapi Gazette"}, subcommand="remove", user="admin")
    assert "Removed **Okapi Gazette**" in text_of(removed), removed
    # polls may overlap: wait until none that started before the removal still has the source in hand
    await until(lambda: private_feed["url"] not in bot.services.news.poller.in_flight, what="older polls done")
    await next_poll(bot)
    hits = private_feed["hits"]
    await next_poll(bot)
    await next_poll(bot)
    assert private_feed["hits"] == hits  # no longer polled


async def next_poll(bot: AccordWatchBot) -> None:
    """Wait until a poll that started after now has finished."""
    started = datetime.now(UTC)
    await until(lambda: (bot.services.news.last_poll or started) > started, within=15, what="a poll")
