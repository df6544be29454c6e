"""Delivery end to end: the real bot, fed fresh news by local outlet feeds, posting into the emulator's channels.

One scenario per test. The UAE-Israel story is told by BBC, CNN and the Guardian (tests/e2e/newsroom.py); the
bot polls every second (POLL_INTERVAL=1).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_app.client import AccordWatchBot
from bot.discord_app.delivery_runner import split_digest
from bot.discord_app.story_render import digest_embed
from bot.news.models import Article, Source, Story
from bot.news.parse import parse_feed
from bot.store.news import NewsStore
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import (
    UAE_STORY,
    BotLauncher,
    Item,
    Newsroom,
    eventually,
    numbered_items,
    rss,
    until,
)

SAVED = Path(__file__).parent.parent / "news" / "saved"
HEADLINES = {outlet.story.title for outlet in UAE_STORY}
LINKS = {outlet.key: outlet.story.link for outlet in UAE_STORY}


# --- helpers --------------------------------------------------------------------------------------------------


async def stories(bot: AccordWatchBot) -> list[Story]:
    store = NewsStore(bot.services.engine)
    return await store.recent_stories(datetime.now(UTC) - timedelta(days=1), limit=100)


async def story_with_outlets(bot: AccordWatchBot, count: int, within: float = 10.0) -> Story:
    """Wait until a poll has put the UAE story together from `count` outlets."""
    found: list[Story] = await eventually(
        lambda: stories(bot),
        lambda found: any(len(s.outlets) >= count for s in found),
        within,
        f"the UAE story from {count} outlets",
    )
    return next(s for s in found if len(s.outlets) >= count)


async def subscribe(emulator: EmulatorHandle, channel_id: int, mode: str, **options: Any) -> dict[str, Any]:
    answer = await emulator.ask(
        "subscribe", {"channel": str(channel_id), "mode": mode, **options}, user="admin", wait=10
    )
    assert answer["status"] == "answered", answer
    assert answer["ephemeral"]
    return answer


def canonical(link: str) -> str:
    parts = urlsplit(link)
    return parts.netloc.removeprefix("www.") + parts.path.rstrip("/")


def text_of(answer: dict[str, Any]) -> str:
    return " ".join(m["content"] for m in answer["messages"])


def digest_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["embeds"] and m["embeds"][0]["title"].startswith("Accord Watch digest")]


def digest_fields(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [field for m in digest_messages(messages) for field in m["embeds"][0].get("fields", [])]


def assert_uae_story_once(messages: list[dict[str, Any]]) -> None:
    """The digest carries the UAE story as one field with its three outlets and their links."""
    fields = digest_fields(messages)
    assert len(fields) == 1, [f["name"] for f in fields]
    [field] = fields
    assert field["name"] in HEADLINES
    for link in LINKS.values():  # the bot canonicalises links (no www.): compare host and path
        assert canonical(link) in field["value"]
    assert "3 outlets" in field["value"]


async def zebrafish_digest(
    emulator: EmulatorHandle, bot: AccordWatchBot, newsroom: Newsroom, channel: int
) -> list[Item]:
    """A topic of its own and 20 stories for it, for a digest of three messages (at most 8 stories each)."""
    added = await emulator.ask("watch", {"name": "zebra", "query": "zebrafish"}, subcommand="add", user="admin")
    assert "zebra" in text_of(added), added
    await subscribe(emulator, channel, "digest", topics="zebra")
    items = numbered_items("zebrafish", 20)
    newsroom.publish_items("bbc", items)
    await eventually(
        lambda: stories(bot),
        lambda found: sum(t.endswith(":zebra") for s in found for t in s.topics) == len(items),
        what="20 zebrafish stories",
    )
    return items


# --- digests ----------------------------------------------------------------------------------------------------


async def test_digest_now_posts_the_story_once_and_then_nothing_new(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news = await emulator.channel_id("news")
    subscribed = await subscribe(emulator, news, "digest")
    assert "digest" in text_of(subscribed)
    newsroom.publish("bbc", "cnn", "guardian")
    await story_with_outlets(bot, 3)

    first = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert first["ephemeral"]
    assert "Sent 1 story in 1 message" in text_of(first), first
    posted = await emulator.channel_messages(news)
    assert len(posted) == 1
    assert_uae_story_once(posted)
    assert posted[0]["allowed_mentions"] == {"parse": []}
    assert posted[0]["nonce"]  # recorded before sending, so a resend is idempotent

    second = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert second["ephemeral"]
    assert "Nothing new" in text_of(second), second
    assert len(await emulator.channel_messages(news)) == 1


async def test_no_poll_starts_once_the_bot_is_stopping(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    """The bot stops its polls, then its deliveries (a few seconds, for the messages in flight), then its scheduler.
    Before, the scheduler still fired meanwhile: a poll started during the stop ran on until the scheduler cut it 10
    s later, logging an ERROR (the fault suite's SIGTERM test caught it on a loaded machine)."""
    bot = await bots.start()
    news = bot.services.news
    await eventually(lambda: asyncio.sleep(0, news.last_poll), lambda last: last is not None, what="a first poll")
    started: list[float] = []
    poll_once = news.poll_once

    async def counted() -> Any:
        started.append(time.monotonic())
        return await poll_once()

    news.poll_once = counted  # type: ignore[method-assign]
    stop_deliveries = bot.deliveries.stop

    async def slow_stop(grace: float = 5.0) -> None:
        await asyncio.sleep(2.5)  # messages in flight: longer than a poll interval (1 s here)
        await stop_deliveries(grace)

    bot.deliveries.stop = slow_stop  # type: ignore[method-assign]
    stopping = time.monotonic()
    await bots.stop()
    assert [at for at in started if at > stopping] == []


async def test_a_restart_posts_nothing_twice(emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom) -> None:
    bot = await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await subscribe(emulator, news, "digest")
    await subscribe(emulator, general, "alerts", min_importance=0)
    newsroom.publish("bbc", "cnn", "guardian")
    await story_with_outlets(bot, 3)
    first = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert "Sent 1 story" in text_of(first), first
    alerts = await eventually(lambda: emulator.channel_messages(general), lambda m: len(m) == 1, what="one alert")
    await bots.stop()

    bot = await bots.start()
    assert bots.starts == 2
    # Polls ran on the new bot and found nothing new.
    await asyncio.gather(*(newsroom.fetched(outlet) for outlet in ("bbc", "cnn", "guardian")))
    again = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert "Nothing new" in text_of(again), again
    assert_uae_story_once(await emulator.channel_messages(news))
    assert len(await emulator.channel_messages(news)) == 1
    assert [m["id"] for m in await emulator.channel_messages(general)] == [alerts[0]["id"]]
    identifies = (await emulator.requests())["gateway"]["identifies"]
    assert identifies == 2


async def message_statuses(emulator: EmulatorHandle, channel: int) -> list[int]:
    """The HTTP status of every message the bot tried to post in the channel, in order."""
    log = (await emulator.requests())["requests"]
    return [entry["status"] for entry in log if entry["path"] == f"/channels/{channel}/messages"]


def digest_jobs(bot: AccordWatchBot) -> list[str]:
    return sorted(job.id for job in bot.services.scheduler.get_jobs() if job.id.startswith("digest:"))


async def test_digest_jobs_are_rebuilt_at_start_once_each_and_send_when_due(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await subscribe(emulator, news, "digest", schedule="daily 09:00", timezone="Asia/Dubai")
    await subscribe(emulator, news, "digest", schedule="twice daily 08:00 20:00", timezone="Asia/Dubai")  # replaces
    await subscribe(emulator, general, "alerts")  # alerts only: no digest job
    assert digest_jobs(bot) == [f"digest:{news}"]
    await bots.stop()

    bot = await bots.start()
    await until(lambda: digest_jobs(bot) == [f"digest:{news}"], what="the digest job rebuilt from the database")
    job = bot.services.scheduler.get_job(f"digest:{news}")
    assert job is not None
    local = job.next_run_time.astimezone(ZoneInfo("Asia/Dubai"))
    assert (local.hour, local.minute) in ((8, 0), (20, 0))
    newsroom.publish("bbc", "cnn", "guardian")
    await story_with_outlets(bot, 3)

    job.modify(next_run_time=datetime.now(UTC))  # the schedule comes due
    posted = await eventually(
        lambda: emulator.channel_messages(news), lambda found: len(found) >= 1, what="the scheduled digest"
    )
    assert_uae_story_once(posted)
    again = bot.services.scheduler.get_job(f"digest:{news}")
    assert again is not None
    assert again.next_run_time > datetime.now(UTC)  # and back on its schedule
    assert digest_jobs(bot) == [f"digest:{news}"]


async def test_old_news_is_stored_but_never_delivered(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await subscribe(emulator, news, "digest")
    await subscribe(emulator, general, "alerts", min_importance=0)
    for outlet in UAE_STORY:  # the feeds as they were on 2020-08-13: older than MAX_ARTICLE_AGE (72 h)
        newsroom.serve(outlet.key, (SAVED / f"2020-08-13-{outlet.key}.xml").read_bytes())
    story = await story_with_outlets(bot, 3)
    assert story.title in HEADLINES  # stored and searchable...
    preview = await emulator.ask("digest", {"channel": str(news)}, subcommand="preview", user="member", wait=10)
    assert "Nothing new" in text_of(preview), preview
    answer = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert "Nothing new" in text_of(answer), answer
    await asyncio.gather(*(newsroom.fetched(outlet.key) for outlet in UAE_STORY))
    assert await emulator.channel_messages(news) == []  # ...but never delivered
    assert await emulator.channel_messages(general) == []


async def test_a_digest_cut_short_by_a_stop_is_finished_by_the_next_start_once(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news = await emulator.channel_id("news")
    items = await zebrafish_digest(emulator, bot, newsroom, news)
    # Discord holds the first part back for 3 s; the bot is stopped while it waits, every part recorded, none sent.
    await emulator.fault("POST", r"^/channels/\d+/messages$", 429, count=1, body={"retry_after": 3})
    await emulator.run_command("digest", {"channel": str(news)}, subcommand="now", user="admin")
    await eventually(emulator.requests, lambda r: r["rate_limited"] >= 1, what="the first part held back")
    await bots.stop()
    assert await emulator.channel_messages(news) == []

    await bots.start()
    posted = await eventually(
        lambda: emulator.channel_messages(news), lambda m: len(m) >= 3, what="the unsent parts sent on start"
    )
    parts = digest_messages(posted)
    assert [m["embeds"][0]["title"] for m in parts] == [f"Accord Watch digest ({n}/3)" for n in (1, 2, 3)]
    assert sorted(f["name"] for f in digest_fields(posted)) == sorted(item.title for item in items)
    await asyncio.sleep(3.5)  # past the first bot's retry: it must not post its part as well
    assert len(await emulator.channel_messages(news)) == 3
    again = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert "Nothing new" in text_of(again), again


# --- alerts -----------------------------------------------------------------------------------------------------


async def test_an_alert_mentions_only_its_role_and_is_edited_when_a_third_outlet_reports(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    general = await emulator.channel_id("general")
    role = discord.utils.get(bot.guilds[0].roles, name="Admins")
    assert role is not None
    # the UAE deal of 2020 published today is a follow-up (bot.news.stories.score: 1 for one outlet, 2 for two),
    # below the default threshold; 2 asks for two outlets, as the default does of a new accession
    await subscribe(emulator, general, "alerts", role=str(role.id), min_importance=2)
    newsroom.publish("bbc", "cnn")
    await story_with_outlets(bot, 2)
    [alert] = await eventually(lambda: emulator.channel_messages(general), lambda m: len(m) >= 1, what="an alert")
    [embed] = alert["embeds"]
    assert embed["title"].startswith("Breaking: ")
    assert embed["title"].removeprefix("Breaking: ") in HEADLINES
    assert alert["content"] == f"<@&{role.id}> New development"
    mentions = alert["allowed_mentions"]
    assert [str(r) for r in mentions["roles"]] == [str(role.id)]
    assert not mentions.get("parse")
    assert not mentions.get("users")
    assert "2 outlets" in embed["description"]
    assert not alert["edited"]

    newsroom.publish("guardian")
    await story_with_outlets(bot, 3)
    [edited] = await eventually(
        lambda: emulator.channel_messages(general),
        lambda m: len(m) != 1 or m[0]["edited"],
        what="the alert edited",
    )
    assert edited["id"] == alert["id"]
    assert "3 outlets" in edited["embeds"][0]["description"]
    assert canonical(LINKS["guardian"]) in edited["embeds"][0]["description"]
    await newsroom.fetched("guardian")  # a later poll changes nothing
    assert [m["id"] for m in await emulator.channel_messages(general)] == [alert["id"]]


# --- permissions ------------------------------------------------------------------------------------------------


async def test_a_member_cannot_run_admin_commands(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    news = await emulator.channel_id("news")
    refused = {
        "subscribe": ({"channel": str(news), "mode": "digest"}, None),
        "watch": ({"name": "gulf", "query": "Oman"}, "add"),
        "sources": ({"url": "https://example.org/feed.xml"}, "add"),
    }
    newcomer = (await emulator.call("POST", "/users", {"username": "newcomer"}))["id"]
    for user in ("member", newcomer):
        for command, (options, subcommand) in refused.items():
            # Discord hides commands whose default_member_permissions the user lacks, and refuses to run them.
            with pytest.raises(AssertionError, match="hidden from user"):
                await emulator.run_command(command, options, subcommand=subcommand, user=user)
    await subscribe(emulator, news, "digest")  # an admin may
    # /digest is open to everyone (for preview), so `now` is refused by the bot's own check.
    answer = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="member", wait=10)
    assert answer["ephemeral"]
    assert "Manage Server" in text_of(answer), answer
    preview = await emulator.ask("digest", {"channel": str(news)}, subcommand="preview", user="member", wait=10)
    assert preview["ephemeral"]
    assert "Nothing new" in text_of(preview), preview
    assert await emulator.channel_messages(news) == []
    listed = await emulator.ask("subscriptions", user="admin")
    assert "#news" in str(listed["messages"])


async def test_a_channel_without_send_permission_is_paused_and_the_admins_are_told(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await subscribe(emulator, news, "digest")
    await subscribe(emulator, general, "digest")
    newsroom.publish("bbc", "cnn", "guardian")
    await story_with_outlets(bot, 3)
    await emulator.permissions(news, deny=["send_messages"])

    answer = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert "could not be sent" in text_of(answer), answer
    assert await emulator.channel_messages(news) == []
    [notice] = await emulator.channel_messages(general)
    assert f"paused deliveries to <#{news}>" in notice["content"]
    assert "Send Messages" in notice["content"]
    assert notice["allowed_mentions"] == {"parse": []}
    listed = await emulator.ask("subscriptions", user="admin")
    [page] = listed["messages"][0]["embeds"]
    paused = {f["name"]: f["value"] for f in page["fields"]}
    assert "paused" in paused["#news"]
    assert "paused" not in paused["#general"]
    # The other channel still gets its digest.
    sent = await emulator.ask("digest", {"channel": str(general)}, subcommand="now", user="admin", wait=10)
    assert "Sent 1 story" in text_of(sent), sent
    assert_uae_story_once(await emulator.channel_messages(general))


async def test_with_no_other_subscribed_channel_the_admins_are_told_in_the_system_channel(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    assert bot.get_guild(next(iter(bot.guilds)).id).system_channel.id == general  # type: ignore[union-attr]
    await subscribe(emulator, news, "alerts", min_importance=0)
    await emulator.permissions(news, deny=["send_messages"])
    newsroom.publish("bbc", "cnn")
    [notice] = await eventually(
        lambda: emulator.channel_messages(general), lambda found: len(found) == 1, what="the notice to the admins"
    )
    assert f"paused deliveries to <#{news}>" in notice["content"]
    assert "Send Messages" in notice["content"]
    assert await emulator.channel_messages(news) == []
    status = await emulator.ask("status", user="admin")
    assert "Missing Send Messages" in str(status["messages"])


async def test_a_channel_waiting_for_its_rate_limit_holds_up_no_other_channels_new_alert(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    """Six messages in a channel: the sixth waits about 5 s for the channel's bucket (5 messages in 5 s). Before,
    a round waited for all its channels, so a story found meanwhile for another channel waited as long."""
    await bots.start()
    busy, other = await emulator.channel_id("news"), await emulator.channel_id("general")
    for name, word, channel in (("zebra", "zebrafish", busy), ("okapi", "okapi", other)):
        added = await emulator.ask("watch", {"name": name, "query": word}, subcommand="add", user="admin")
        assert name in text_of(added), added
        await subscribe(emulator, channel, "alerts", topics=name, min_importance=0)
    newsroom.publish_items("bbc", numbered_items("zebrafish", 6))  # five alerts and a summary of the sixth
    await eventually(lambda: emulator.channel_messages(busy), lambda found: len(found) >= 5, what="five alerts")
    newsroom.publish_items("cnn", numbered_items("okapi", 1))
    await eventually(lambda: emulator.channel_messages(other), lambda found: len(found) == 1, what="the okapi alert")
    posted = await eventually(
        lambda: emulator.channel_messages(busy), lambda found: len(found) == 6, what="the busy channel's sixth"
    )
    [alert] = await emulator.channel_messages(other)
    sixth = max(int(message["id"]) for message in posted)  # snowflakes: the later message has the larger id
    assert int(alert["id"]) < sixth, "the other channel's alert waited for the busy channel's rate limit"


async def test_a_notice_whose_channel_does_not_answer_goes_to_the_next_one(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    """Before: the notice waited for aiohttp's 5 minutes on a stalled connection, and the round with it."""
    bot = await bots.start()
    bot.deliveries.send_timeout = 1.0
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    updates = int((await emulator.call("POST", "/channels", {"name": "updates"}))["id"])
    await subscribe(emulator, news, "alerts", min_importance=0)
    await subscribe(emulator, updates, "digest")  # the first place a notice is posted: another subscribed channel
    await emulator.permissions(news, deny=["send_messages"])
    await emulator.stall("POST", rf"^/channels/{updates}/messages$", seconds=3600)
    newsroom.publish("bbc", "cnn")
    [notice] = await eventually(
        lambda: emulator.channel_messages(general), lambda found: len(found) == 1, what="the notice, in the next place"
    )
    assert f"paused deliveries to <#{news}>" in notice["content"]
    assert await emulator.channel_messages(updates) == []
    await eventually(lambda: message_statuses(emulator, updates), lambda found: found == [499], what="given up once")


async def test_a_deleted_channel_drops_its_subscription(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await subscribe(emulator, news, "digest")
    await subscribe(emulator, general, "alerts")
    await emulator.call("DELETE", f"/channels/{news}")

    async def listed() -> str:
        return str((await emulator.ask("subscriptions", user="admin"))["messages"])

    shown = await eventually(listed, lambda text: "#news" not in text, what="#news gone from /subscriptions")
    assert "#general" in shown
    answer = await emulator.ask("digest", subcommand="now", user="admin", wait=10)  # run in #general: alerts only
    assert "gets no digest" in text_of(answer)


# --- rate limits ------------------------------------------------------------------------------------------------


# Five 429s in a row on one message exhaust discord.py's five tries per request (http.py `for tries in range(5)`):
# it raises HTTPException; the runner then waits and tries again itself, so the digest is only delayed.
async def test_a_429_storm_delays_a_digest_but_loses_nothing(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news = await emulator.channel_id("news")
    items = await zebrafish_digest(emulator, bot, newsroom, news)
    await emulator.fault("POST", r"^/channels/\d+/messages$", 429, count=5, body={"retry_after": 0.05})

    answer = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=20)
    posted = await emulator.channel_messages(news)
    parts = digest_messages(posted)
    assert len(parts) >= 3  # 20 stories, at most 8 a message
    assert f"Sent 20 stories in {len(parts)} messages" in text_of(answer), answer
    names = [field["name"] for field in digest_fields(posted)]
    assert sorted(names) == sorted(item.title for item in items)
    titles = [m["embeds"][0]["title"] for m in parts]
    assert titles == [f"Accord Watch digest ({n}/{len(parts)})" for n in range(1, len(parts) + 1)]
    statuses = await message_statuses(emulator, news)
    assert statuses.count(429) == 5
    assert statuses.count(200) == len(parts)


async def test_a_digest_that_discord_keeps_refusing_goes_out_once_when_it_accepts_again(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    bot = await bots.start()
    news = await emulator.channel_id("news")
    items = await zebrafish_digest(emulator, bot, newsroom, news)
    # 503 is not retried by discord.py: the runner's backoff retries it; the command says how far it got.
    await emulator.fault("POST", r"^/channels/\d+/messages$", 503, count=6)

    answer = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=30)
    assert "Sent 20 stories in 3 messages" in text_of(answer), answer

    await asyncio.sleep(1.5)  # more rounds: nothing is sent twice
    posted = await emulator.channel_messages(news)
    titles = [m["embeds"][0]["title"] for m in digest_messages(posted)]
    assert titles == [f"Accord Watch digest ({n}/3)" for n in (1, 2, 3)]
    names = [field["name"] for field in digest_fields(posted)]
    assert sorted(names) == sorted(item.title for item in items)
    statuses = await message_statuses(emulator, news)
    assert statuses.count(503) == 6
    assert statuses.count(200) == 3
    status = await emulator.ask("status", user="member")
    assert "Undelivered" not in str(status["messages"])  # delivered in the end: nothing left to report


async def test_a_send_that_never_gets_an_answer_holds_up_no_other_channel_and_goes_out_once(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    """Before: a round waited for its slowest channel, and a request with no answer for aiohttp's 5 minutes: one
    stalled connection held every channel's next alerts that long."""
    bot = await bots.start()
    bot.deliveries.send_timeout = 1.0
    stalled, other = await emulator.channel_id("news"), await emulator.channel_id("general")
    added = await emulator.ask("watch", {"name": "zebra", "query": "zebrafish"}, subcommand="add", user="admin")
    assert "zebra" in text_of(added), added
    for channel in (stalled, other):
        await subscribe(emulator, channel, "alerts", topics="zebra", min_importance=0)
    await emulator.stall("POST", rf"^/channels/{stalled}/messages$", seconds=3600)
    first, second = numbered_items("zebrafish", 2)
    newsroom.publish_items("bbc", [first])

    async def alerted(channel: int) -> list[str]:
        """The items alerted in the channel, in order (an alert's title may carry a prefix, "Breaking: ")."""
        titles = [m["embeds"][0]["title"] for m in await emulator.channel_messages(channel) if m["embeds"]]
        return [item.title for title in titles for item in (first, second) if title.endswith(item.title)]

    await eventually(lambda: alerted(other), lambda titles: titles == [first.title], what="the first alert")
    newsroom.publish_items("bbc", [first, second])  # the stalled send is still waiting for its answer
    await eventually(lambda: alerted(other), lambda titles: len(titles) == 2, within=10, what="the second alert")
    titles = await eventually(lambda: alerted(stalled), lambda titles: len(titles) == 2, what="the stalled ones")
    await asyncio.sleep(1.0)  # more rounds: nothing more
    assert sorted(await alerted(stalled)) == sorted(await alerted(other)) == sorted([first.title, second.title])
    assert titles[0] == first.title  # the channel's order kept
    statuses = await message_statuses(emulator, stalled)
    assert statuses == [499, 200, 200], statuses  # given up once, then each sent once


# --- unit level: the feeds these tests serve, and the split every digest goes through ---------------------------


def test_the_generated_feeds_parse_as_fresh_news_from_three_independent_outlets() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    hosts = set()
    for outlet in UAE_STORY:
        source = Source(url=f"http://{outlet.host}/rss", name=outlet.feed_title)
        feed = parse_feed(rss(outlet.feed_title, [outlet.story], now), source=source)
        assert feed.error is None
        assert feed.title == outlet.feed_title
        [entry] = feed.entries
        assert (entry.title, entry.published) == (outlet.story.title, now)
        hosts.add(urlsplit(entry.link).netloc.removeprefix("www."))
    assert len(hosts) == 3


def a_story(number: int, title: str, links: int, seen: datetime) -> Story:
    articles = tuple(
        Article(
            url=f"https://outlet{i}.example/{number}/{'x' * 150}",
            title=title,
            summary="",
            outlet=f"Outlet {i}",
            published=seen,
            first_seen=seen,
            source_url=f"https://outlet{i}.example/rss",
        )
        for i in range(links)
    )
    return Story(number, title, articles[0].url, seen, seen, seen, ("AE", "IL"), None, ("accords",), 1.0, articles)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=300), st.integers(1, 12)), min_size=1, max_size=40))
def test_a_digest_is_split_into_messages_within_discords_limits_and_nothing_is_dropped(
    shapes: list[tuple[str, int]],
) -> None:
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    stories = [a_story(n, title, links, seen) for n, (title, links) in enumerate(shapes, start=1)]
    parts = split_digest(stories)
    assert [s.id for part in parts for s in part] == [s.id for s in stories]
    for number, part in enumerate(parts, start=1):
        assert part
        embed = digest_embed(part, number=number, total=len(parts), since=seen, until=seen)
        assert len(embed) <= 6000
        assert len(embed.fields) == len(part) <= 25


async def test_digest_now_shows_a_story_as_it_is_not_as_its_alert_read_it(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    """A story read for its alert (one outlet) was rendered from that read by a later `/digest now`, after two more
    outlets had joined: the digest said "1 outlet" (seen in CI, under load)."""
    bot = await bots.start()
    news, general = await emulator.channel_id("news"), await emulator.channel_id("general")
    await subscribe(emulator, news, "digest")
    await subscribe(emulator, general, "alerts", min_importance=0)
    newsroom.publish("bbc")
    await eventually(lambda: emulator.channel_messages(general), lambda m: len(m) == 1, what="the alert")
    await bot.deliveries.stop()  # no round runs between the alert and the digest (as when a round is slow)
    newsroom.publish("cnn", "guardian")
    await story_with_outlets(bot, 3)
    answer = await emulator.ask("digest", {"channel": str(news)}, subcommand="now", user="admin", wait=10)
    assert "Sent 1 story" in text_of(answer), answer
    assert_uae_story_once(await emulator.channel_messages(news))
