"""NewsStore on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (the `engine` fixture, conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.news.models import Article, DetectedEvent, EventKind, Source, SourceState
from bot.news.stories import Clusterer
from bot.store import news, schema
from bot.store.news import NewsStore
from tests.store.probes import most_calls_between_turns

T0 = datetime(2020, 8, 13, 16, 0, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def art(url: str, title: str, at: datetime, outlet: str = "BBC", country: str = "AE") -> Article:
    return Article(
        url=url,
        title=title,
        summary="s",
        outlet=outlet,
        published=at,
        first_seen=at + timedelta(minutes=5),
        source_url="https://feeds.example/rss",
        countries=(country, "IL"),
        event=DetectedEvent(EventKind.JOINED, (country,)),
        topics=("accords", "gulf"),
        matched_terms=('"Abraham Accord*"',),
    )


async def test_the_news_tables_match_the_migrations(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), schema.metadata)
        )
    assert diff == []


async def test_source_states_round_trip_and_are_replaced(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    source = Source("https://a.example/rss", "A")
    owned = Source("https://b.example/rss", "B", guild_id=42)
    state = SourceState(etag='"x"', last_status=200, last_attempt=T0, last_success=T0, next_attempt=T0)
    await store.save_states([(source, state), (owned, SourceState(last_error="boom", consecutive_failures=3))])
    loaded = await store.load_states([source.url, owned.url, "https://never.example/"])
    assert loaded == {
        source.url: state,
        owned.url: SourceState(last_error="boom", consecutive_failures=3),
    }
    await store.save_states([(source, SourceState(etag='"y"', consecutive_failures=1))])
    assert (await store.load_states([source.url]))[source.url] == SourceState(etag='"y"', consecutive_failures=1)
    async with engine.connect() as connection:
        guilds = dict(
            (await connection.execute(select(schema.source_states.c.url, schema.source_states.c.guild_id))).all()
        )
    assert guilds == {source.url: None, owned.url: 42}


async def test_save_poll_creates_then_updates_a_story(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    first = art("https://bbc.example/1", "Israel and UAE agree to normalize relations", T0)
    clusterer = Clusterer()
    clusterer.place(first)
    saved = await store.save_poll(
        seen={"id:1": first.first_seen, "id:offtopic": first.first_seen},
        drafts=clusterer.drafts(T0),
        identities={first.url: "id:1"},
    )
    assert len(saved.new) == 1
    assert saved.updated == ()
    story_id = saved.new[0].id
    assert await store.known_identities(["id:1", "id:offtopic", "id:2"]) == {"id:1", "id:offtopic"}

    # the next poll finds the story in the window of a new article and adds to it
    second = art("https://cnn.example/2", "UAE, Israel agree to normalize ties", T0 + timedelta(hours=5), "CNN")
    candidates = await store.stories_in_window([(second.published - timedelta(hours=48), second.published)])
    assert [story.id for story in candidates] == [story_id]
    clusterer = Clusterer(candidates)
    assert not clusterer.place(second).new_story
    saved = await store.save_poll(
        seen={"id:2": second.first_seen}, drafts=clusterer.drafts(T0), identities={second.url: "id:2"}
    )
    assert saved.new == ()
    assert [story.id for story in saved.updated] == [story_id]

    story = await store.story(story_id)
    assert story is not None
    assert story.outlets == ("BBC", "CNN")
    assert story.articles == (first, second)
    assert story.countries == ("AE", "IL")
    assert story.event == DetectedEvent(EventKind.JOINED, ("AE",))
    assert story.topics == ("accords", "gulf")
    assert story.first_seen == first.first_seen
    assert story.last_seen == second.first_seen
    assert story.published == T0
    assert await store.story(story_id + 100) is None


async def test_window_lookup_finds_only_stories_of_those_days(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    clusterer = Clusterer()
    old = art("https://x.example/old", "Morocco and Israel restore ties", T0 - timedelta(days=30), country="MA")
    new = art("https://x.example/new", "Sudan and Israel agree normalization", T0, country="SD")
    clusterer.place(old)
    clusterer.place(new)
    saved = await store.save_poll(seen={}, drafts=clusterer.drafts(T0), identities={})
    ids = {story.title: story.id for story in saved.new}
    window = await store.stories_in_window([(T0 - timedelta(days=2), T0 + timedelta(days=2))])
    assert [story.id for story in window] == [ids[new.title]]
    both = await store.stories_in_window([(T0 - timedelta(days=31), T0 - timedelta(days=29)), (T0, T0)])
    assert sorted(story.id for story in both) == sorted(ids.values())
    assert await store.stories_in_window([]) == []


async def test_recent_stories_rank_by_score_and_filter_by_topic(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    clusterer = Clusterer()
    a = art("https://x.example/a", "Morocco and Israel restore ties", T0, country="MA")
    b = art("https://y.example/b", "Sudan and Israel agree normalization", T0, country="SD")
    c = art("https://z.example/c", "Sudan, Israel agree normalization deal", T0, "Z", country="SD")
    for item in (a, b, c):
        clusterer.place(item)
    await store.save_poll(seen={}, drafts=clusterer.drafts(T0), identities={})
    recent = await store.recent_stories(T0 - timedelta(days=1))
    assert [story.title for story in recent] == [b.title, a.title]  # two outlets outrank one
    assert await store.recent_stories(T0 - timedelta(days=1), topics=["gulf"], limit=1) == recent[:1]
    assert await store.recent_stories(T0 - timedelta(days=1), topics=["gul"]) == []
    assert await store.recent_stories(T0 - timedelta(days=1), topics=[]) == []
    assert await store.recent_stories(T0 + timedelta(days=1)) == []
    newest = await store.recent_stories(T0 - timedelta(days=1), newest_first=True)
    assert [story.id for story in newest] == sorted((story.id for story in recent), reverse=True)  # same time


async def test_stories_by_id_come_in_the_order_asked_with_their_articles(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    clusterer = Clusterer()
    for item in (
        art("https://x.example/a", "Morocco and Israel restore ties", T0, country="MA"),
        art("https://y.example/b", "Sudan and Israel agree normalization", T0, country="SD"),
        art("https://z.example/c", "Sudan, Israel agree normalization deal", T0, "Z", country="SD"),
    ):
        clusterer.place(item)
    saved = await store.save_poll(seen={}, drafts=clusterer.drafts(T0), identities={})
    first, second = sorted(story.id for story in saved.new)
    found = await store.stories([second, 999, first, second])
    assert [story.id for story in found] == [second, first]
    assert found[0] == await store.story(second)
    assert len(found[0].articles) == 2
    assert await store.stories([]) == []


async def test_articles_already_stored_are_skipped_not_failed(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    item = art("https://x.example/a", "Morocco and Israel restore ties", T0)
    for _ in range(2):  # two processes saving the same article: the second insert is ignored
        clusterer = Clusterer()
        clusterer.place(item)
        await store.save_poll(seen={"id:a": T0}, drafts=clusterer.drafts(T0), identities={item.url: "id:a"})
    async with engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(schema.articles))).scalar_one()
    assert count == 1


async def test_many_identities_are_looked_up_in_chunks(engine: AsyncEngine) -> None:
    store = NewsStore(engine)
    seen = {f"id:{i}": T0 for i in range(5000)}
    await store.save_poll(seen=seen, drafts=[], identities={})
    asked = [f"id:{i}" for i in range(4000, 9000)]
    assert await store.known_identities(asked) == {f"id:{i}" for i in range(4000, 5000)}
    assert await store.forget_seen_before(T0 + timedelta(seconds=1)) == 5000
    assert await store.known_identities(asked) == set()


async def test_seen_keys_are_stored_as_the_column_type_stores_times(engine: AsyncEngine) -> None:
    """save_poll writes seen keys through the driver: their times must read back, compare and expire exactly as a
    time written through SQLAlchemy's column type, to the microsecond and whatever zone they were given in."""
    store = NewsStore(engine)
    gulf = timezone(timedelta(hours=4))
    async with engine.begin() as connection:  # through the column's type, as every other time is written
        await connection.execute(schema.seen_articles.insert().values(identity="core", first_seen=T0 + MICRO))
    await store.save_poll(
        seen={"early": T0.astimezone(gulf), "late": (T0 + 2 * MICRO).astimezone(gulf), "utc": T0 + 3 * MICRO},
        drafts=[],
        identities={},
    )
    async with engine.connect() as connection:
        rows = {row.identity: row.first_seen for row in await connection.execute(select(schema.seen_articles))}
    assert rows == {"core": T0 + MICRO, "early": T0, "late": T0 + 2 * MICRO, "utc": T0 + 3 * MICRO}
    assert all(when.tzinfo is UTC for when in rows.values())
    assert await store.known_identities(["core", "early", "late", "utc", "never"]) == {"core", "early", "late", "utc"}
    assert await store.forget_seen_before(T0 + MICRO) == 1  # "early" only: "core" is not before its own time
    assert await store.forget_seen_before(T0 + 2 * MICRO) == 1  # "core"
    assert await store.known_identities(["core", "early", "late", "utc"]) == {"late", "utc"}


async def test_a_first_polls_seen_keys_are_converted_and_written_a_chunk_at_a_time(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event loop runs between chunks: converting a batch's 20,000 keys' times at once held it 50-70 ms."""
    converter = "_utc" if engine.dialect.name == "postgresql" else "_stored_time"  # the latter calls the former
    seen = {f"id:{i}": T0 + i * MICRO for i in range(5000)}  # each its own time: a time is converted once
    async with most_calls_between_turns(monkeypatch, news, converter) as most:
        await NewsStore(engine).save_poll(seen=seen, drafts=[], identities={})
    assert 0 < most[0] <= news._WRITE_CHUNK


async def test_seen_keys_that_share_a_time_have_it_converted_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll's keys share their batch's time: 24,530 conversions of it were 3% of the loop's time in a poll."""
    converter = "_utc" if engine.dialect.name == "postgresql" else "_stored_time"
    calls: list[datetime] = []
    convert = getattr(news, converter)
    monkeypatch.setattr(news, converter, lambda when: calls.append(when) or convert(when))
    store = NewsStore(engine)
    later = T0 + timedelta(seconds=1)
    await store.save_poll(seen={f"id:{i}": T0 if i % 2 else later for i in range(2000)}, drafts=[], identities={})
    assert sorted(calls) == [T0, later]
    async with engine.connect() as connection:
        rows = {row.identity: row.first_seen for row in await connection.execute(select(schema.seen_articles))}
    assert rows == {f"id:{i}": T0 if i % 2 else later for i in range(2000)}


async def test_the_articles_a_poll_wrote_are_kept_as_they_are_read_back(engine: AsyncEngine) -> None:
    """The views' refresh takes the articles a write just stored as `news._as_read` makes them, not read back: each
    is what reading its row gives (times in another zone, an outlet cut to its column, no event, empty lists)."""
    store = NewsStore(engine)
    plus_three = timezone(timedelta(hours=3))
    items = [
        art("https://x.example/1", "Israel and UAE sign", T0),
        art("https://x.example/2", "Israel, UAE sign", T0.astimezone(plus_three) + MICRO, outlet="O" * 250),
        Article(
            url="https://x.example/3",
            title="UAE–Israel: “ties” ’s",
            summary="",
            outlet="Le Monde",
            published=T0 + timedelta(hours=1),
            first_seen=(T0 + timedelta(hours=2)).astimezone(plus_three),
            source_url="https://feeds.example/rss",
            countries=(),
            event=None,
            topics=(),
            matched_terms=(),
        ),
    ]
    clusterer = Clusterer()
    for item in items:
        clusterer.place(item)
    await store.save_poll(
        seen={item.url: item.first_seen for item in items},
        drafts=clusterer.drafts(T0),
        identities={item.url: item.url for item in items},
    )
    async with engine.connect() as connection:
        ids = [row.id for row in await connection.execute(select(schema.articles.c.id))]
        stored = await news.articles_by_id(connection, ids)
    assert len(ids) == 3
    for article_id in ids:
        kept = store.read_articles.get(article_id)
        assert kept == stored[article_id]
        assert kept is not None
        assert (kept.published.tzinfo, kept.first_seen.tzinfo) == (UTC, UTC)
