"""Topics, subscriptions and member queries of Delivery, on SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.service import Delivery, DeliveryError
from bot.delivery.values import MAX_TOPICS
from bot.news.models import FetchResult, FetchStatus, Source, SourceState
from bot.news.pipeline import Poller
from bot.news.topics import DEFAULT_TOPIC, DEFAULT_TOPIC_NAME
from bot.store.database import transaction
from bot.store.news import NewsStore
from tests.delivery.conftest import GUILD, OTHER_GUILD, Clock, Stories, article


async def test_a_new_server_starts_with_the_builtin_topic_once(delivery: Delivery) -> None:
    (topic,) = await delivery.list_topics(GUILD)
    assert (topic.name, topic.builtin, topic.query, topic.tag) == (DEFAULT_TOPIC_NAME, True, DEFAULT_TOPIC, "accords")
    assert await delivery.remove_topic(GUILD, DEFAULT_TOPIC_NAME)
    await delivery.ensure_guild(GUILD)  # the next start: a removed built-in topic stays removed
    assert await delivery.list_topics(GUILD) == []


async def test_an_invalid_query_is_refused_with_the_parsers_message_and_position(delivery: Delivery) -> None:
    with pytest.raises(DeliveryError) as caught:
        await delivery.add_topic(GUILD, "gulf", 'Israel "Abraham')
    assert (caught.value.message, caught.value.position) == ("unterminated quote", 7)
    with pytest.raises(DeliveryError) as caught:
        await delivery.add_topic(GUILD, "gulf", "Israel (UAE OR")
    assert caught.value.position == 14
    assert [t.name for t in await delivery.list_topics(GUILD)] == [DEFAULT_TOPIC_NAME]


async def test_topic_names_duplicates_and_the_cap(delivery: Delivery) -> None:
    for bad in ("", "Has Space", "x" * 33, "émirats"):
        with pytest.raises(DeliveryError, match="1 to 32 characters"):
            await delivery.add_topic(GUILD, bad, "Israel")
    added = await delivery.add_topic(GUILD, " Gulf ", "UAE  OR   Bahrain")
    assert (added.name, added.query, added.tag, added.builtin) == ("gulf", "UAE OR Bahrain", f"{GUILD}:gulf", False)
    with pytest.raises(DeliveryError, match="already a topic named 'gulf'"):
        await delivery.add_topic(GUILD, "gulf", "Morocco")
    for index in range(MAX_TOPICS - 2):
        await delivery.add_topic(GUILD, f"t{index}", "Israel")
    with pytest.raises(DeliveryError, match=f"at most {MAX_TOPICS} topics"):
        await delivery.add_topic(GUILD, "one-more", "Israel")
    assert len(await delivery.list_topics(GUILD)) == MAX_TOPICS
    assert len(await delivery.list_topics(OTHER_GUILD)) == 1  # per server


async def test_the_poller_matches_every_servers_topics_from_the_provider(
    delivery: Delivery, news: NewsStore, clock: Clock
) -> None:
    await delivery.add_topic(GUILD, "covid", "covid* OR coronavirus")
    await delivery.add_topic(OTHER_GUILD, "gone", "covid*")
    await delivery.guild_removed(OTHER_GUILD, clock())
    names = [t.name for t in await delivery.all_topics()]
    assert names == [f"{GUILD}:covid"]  # the poller adds the built-in topic itself

    class OneFeed:
        body = (
            b'<rss version="2.0"><channel><title>F</title>'
            b"<item><title>Covid-19 cases fall again</title><link>https://a.example/covid</link></item>"
            b"</channel></rss>"
        )

        def is_due(self, source: Source, state: SourceState, now: datetime) -> bool:
            return True

        async def fetch(self, source: Source, state: SourceState) -> FetchResult:
            return FetchResult(source, FetchStatus.OK, SourceState(), body=self.body, http_status=200)

        def failed_state(self, source: Source, state: SourceState, started: datetime, error: str) -> SourceState:
            raise AssertionError("nothing fails here")

    poller = Poller(news, OneFeed(), clock, topic_provider=delivery.all_topics)
    report = await poller.poll([Source("https://a.example/rss", "A")])
    (story,) = report.new_stories
    assert story.topics == (f"{GUILD}:covid",)
    assert [s.id for s in await delivery.latest(GUILD, "covid")] == [story.id]
    assert await delivery.latest(GUILD, DEFAULT_TOPIC_NAME) == []


async def test_subscribe_validates_and_a_resubscribe_replaces(delivery: Delivery, clock: Clock) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    assert (sub.schedule, sub.timezone, sub.topics, sub.paused) == ("daily 09:00", "UTC", None, False)
    assert Delivery.next_digest_at(sub, clock()) == datetime(2025, 11, 7, 9, 0, tzinfo=UTC)

    cases = [
        ({"mode": "sometimes"}, r"^The mode must be one of digest, alerts, both\.$"),
        ({"mode": "alerts", "schedule": "daily 09:00"}, r"^A schedule is for digests"),
        ({"mode": "digest", "schedule": "hourly"}, r"^'hourly' is not a schedule; .*\.$"),
        ({"mode": "digest", "timezone": "Mars/Olympus"}, r"not a timezone"),
        ({"mode": "digest", "role_id": 5}, r"^The option role is for alerts"),
        ({"mode": "alerts", "quiet_hours": "22:00"}, r"not a range"),
        ({"mode": "alerts", "min_importance": -1.0}, r"from 0 to 100\.$"),
        ({"mode": "both", "topics": ["nope"]}, r"^Unknown topic.*nope.*accords"),
        ({"mode": "both", "topics": [" "]}, r"^Name at least one topic"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DeliveryError, match=message):
            await delivery.subscribe(GUILD, 11, **kwargs)  # type: ignore[arg-type]
    assert await delivery.subscription(11) is None

    await delivery.add_topic(GUILD, "gulf", "UAE")
    again = await delivery.subscribe(
        GUILD,
        10,
        mode="both",
        schedule="weekly Monday at 9am",
        timezone="asia/dubai",
        min_importance=3,
        role_id=77,
        topics=["Gulf", "gulf"],
        quiet_hours="10pm-7am",
    )
    assert again.id == sub.id
    assert (again.schedule, again.timezone, again.topics, again.quiet_hours, again.role_id, again.threshold) == (
        "weekly mon 09:00",
        "Asia/Dubai",
        ("gulf",),
        "22:00-07:00",
        77,
        3,
    )
    assert Delivery.next_digest_at(again, clock()) == datetime(2025, 11, 10, 5, 0, tzinfo=UTC)
    with pytest.raises(DeliveryError, match="used by 1 subscription"):
        await delivery.remove_topic(GUILD, "gulf")
    assert [s.channel_id for s in await delivery.subscriptions(GUILD)] == [10]
    assert not await delivery.unsubscribe(OTHER_GUILD, 10)  # another server cannot drop it
    assert await delivery.unsubscribe(GUILD, 10)
    assert await delivery.subscriptions(GUILD) == []
    assert await delivery.remove_topic(GUILD, "gulf") is not None


async def test_watch_test_shows_recent_matches_and_why(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    recent = await stories.add(article("a.example", "Kazakhstan joins the Abraham Accords", seen=clock.now))
    await stories.add(
        article("b.example", "Kazakh president visits Israel", seen=clock.now - timedelta(days=9), path="old")
    )
    await stories.add(article("c.example", "Oil prices rise", seen=clock.now, path="oil", kind=None))
    hits = await delivery.test_query(GUILD, "Kazakh* -oil")
    assert [(hit.story.id, hit.terms) for hit in hits] == [(recent.id, ("Kazakh*",))]
    assert len(await delivery.test_query(GUILD, "Kazakh*", days=10)) == 2
    with pytest.raises(DeliveryError) as caught:
        await delivery.test_query(GUILD, "-oil")
    assert caught.value.position == 0
    shown = await delivery.story(GUILD, recent.id)
    assert shown is not None
    assert (shown.id, shown.title, shown.articles) == (recent.id, recent.title, recent.articles)
    assert await delivery.story(GUILD, recent.id + 100) is None


async def test_latest_is_newest_first_over_the_servers_topics(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    older = await stories.add(article("a.example", seen=clock.now - timedelta(hours=5), path="1"))
    newer = await stories.add(article("b.example", "Bahrain envoy meets Netanyahu", seen=clock.now, path="2"))
    await stories.add(article("c.example", "Unrelated", seen=clock.now, path="3", topics=(f"{OTHER_GUILD}:x",)))
    assert [s.id for s in await delivery.latest(GUILD)] == [newer.id, older.id]
    assert [s.id for s in await delivery.latest(GUILD, count=1)] == [newer.id]
    with pytest.raises(DeliveryError, match="no topic named 'nope'"):
        await delivery.latest(GUILD, "nope")


async def test_a_known_servers_topics_are_read_while_a_poll_writes(delivery: Delivery, engine: AsyncEngine) -> None:
    """Commands list a server's topics first (/latest, autocomplete): for a server already set up that is a read,
    never a wait for the writer in turn (on SQLite the poll's batch, held for hundreds of milliseconds)."""
    await delivery.list_topics(GUILD)  # set up
    writing, release = asyncio.Event(), asyncio.Event()

    async def poll_batch() -> None:
        async with transaction(engine):
            writing.set()
            await release.wait()

    batch = asyncio.create_task(poll_batch())
    await writing.wait()
    try:
        async with asyncio.timeout(2):
            (topic,) = await delivery.list_topics(GUILD)
    finally:
        release.set()
        await batch
    assert topic.name == DEFAULT_TOPIC_NAME
    assert [t.name for t in await delivery.list_topics(OTHER_GUILD)] == [DEFAULT_TOPIC_NAME]  # a new one still is
