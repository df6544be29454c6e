"""Each server sees only what its sources reported: the visibility rule in the store, on SQLite and PostgreSQL.

Stories are one shared pool; a server reads the public view of a story (the operator's sources) or its own view
(plus its own sources), never another server's. Facts, counts and reported events follow the same rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.service import Delivery
from bot.news.models import Article, EventKind
from bot.news.visibility import OPERATOR
from bot.store import news as news_module
from bot.store.news import NewsStore
from bot.store.views import StoryViews
from tests.delivery.conftest import GUILD, MAX_AGE, OTHER_GUILD, Clock, Stories, article
from tests.store.probes import full_article_reads, most_calls_between_turns

OWN_FEED = "https://fabricated.example/rss"  # server GUILD's own source
THIRD_GUILD = 3003


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _setup(engine: AsyncEngine, clock: Clock) -> tuple[NewsStore, Delivery, Stories, StoryViews]:
    news = NewsStore(engine, max_article_age=MAX_AGE)
    delivery = Delivery(engine, news, clock, max_article_age=MAX_AGE)
    await delivery.add_source(GUILD, OWN_FEED, "Fabricated")
    return news, delivery, Stories(news), StoryViews(engine)


def _qatar(host: str, clock: Clock) -> Article:
    """A fabricated accession, as a hostile server's own feed could carry it."""
    title = "Qatar signs the Abraham Accords with Israel"
    return article(host, title, seen=clock.now, country="QA", path="qa", kind=EventKind.SIGNING)


async def test_a_story_only_a_servers_own_sources_reported_exists_for_that_server_alone(
    engine: AsyncEngine, clock: Clock
) -> None:
    _, delivery, stories, views = await _setup(engine, clock)
    fabricated = await stories.add(_qatar("d.example", clock), _qatar("e.example", clock), origin=OWN_FEED)
    public = await stories.add(article("a.example", seen=clock.now, path="kz"))

    mine = await views.stories(GUILD, [fabricated.id, public.id])
    assert [s.id for s in mine] == [fabricated.id, public.id]
    assert [s.own_only for s in mine] == [True, False]
    assert len(mine[0].outlets) == 2

    # another server: the story does not exist, by id, in lists, in planning, in reported events
    assert await views.stories(OTHER_GUILD, [fabricated.id]) == []
    assert await delivery.story(OTHER_GUILD, fabricated.id) is None
    assert [s.id for s in await views.visible(OTHER_GUILD)] == [public.id]
    assert [s.id for s in (await views.for_guilds([OTHER_GUILD], clock.now - timedelta(days=1)))[OTHER_GUILD]] == [
        public.id
    ]
    # reported facts need the operator's sources: not even the server whose sources said it
    assert await delivery.reported_events() == []
    assert await delivery.reported_members() == []


async def test_a_shared_story_counts_only_the_outlets_a_server_may_see(engine: AsyncEngine, clock: Clock) -> None:
    _, delivery, stories, views = await _setup(engine, clock)
    story = await stories.add(
        article("a.example", seen=clock.now, path="kz"), article("b.example", seen=clock.now, path="kz")
    )
    clock.advance(minutes=5)
    grown = await stories.grow(story, article("c.example", seen=clock.now, path="kz"), origin=OWN_FEED)
    assert len(grown.outlets) == 3  # the pool holds every article

    (mine,) = await views.stories(GUILD, [story.id])
    (theirs,) = await views.stories(OTHER_GUILD, [story.id])
    assert (len(mine.outlets), mine.own_only) == (3, False)
    assert (len(theirs.outlets), theirs.own_only) == (2, False)
    assert {a.url for a in theirs.articles} == {"https://a.example/kz", "https://b.example/kz"}
    # the public view makes the reported event, with the public outlets only
    (event,) = await delivery.reported_events()
    assert event.outlets == ("a.example", "b.example")


async def test_a_feed_added_by_two_servers_serves_both_and_removing_it_hides_its_news(
    engine: AsyncEngine, clock: Clock
) -> None:
    _, delivery, stories, views = await _setup(engine, clock)
    story = await stories.add(_qatar("d.example", clock), origin=OWN_FEED)
    assert await views.stories(THIRD_GUILD, [story.id]) == []
    await delivery.add_source(THIRD_GUILD, OWN_FEED, "Fabricated")  # what it carried before is visible at once
    assert [s.id for s in await views.stories(THIRD_GUILD, [story.id])] == [story.id]
    assert await delivery.remove_source(GUILD, OWN_FEED) is not None
    assert await views.stories(GUILD, [story.id]) == []
    assert [s.id for s in await views.stories(THIRD_GUILD, [story.id])] == [story.id]
    assert await views.stories(OTHER_GUILD, [story.id]) == []


async def test_an_article_a_server_carried_first_becomes_everyones_when_the_operator_carries_it(
    engine: AsyncEngine, clock: Clock
) -> None:
    news, _, stories, views = await _setup(engine, clock)
    story = await stories.add(_qatar("d.example", clock), origin=OWN_FEED)
    assert await views.stories(OTHER_GUILD, [story.id]) == []
    clock.advance(minutes=10)
    carried = {"https://d.example/qa": {OPERATOR}}
    saved = await news.save_poll(seen={}, drafts=[], identities={}, origins=carried, now=clock.now)
    assert saved.views_changed >= 1
    (public,) = await views.stories(OTHER_GUILD, [story.id])
    assert (public.own_only, public.first_seen) == (False, clock.now)  # public since the operator carried it
    (mine,) = await views.stories(GUILD, [story.id])
    assert mine.first_seen == clock.now - timedelta(minutes=10)


async def test_lists_hold_the_public_views_and_the_servers_own(engine: AsyncEngine, clock: Clock) -> None:
    _, delivery, stories, views = await _setup(engine, clock)
    for index in range(30):
        await stories.add(article(f"h{index}.example", f"Story {index}", seen=clock.now, path=str(index)))
    await stories.add(_qatar("d.example", clock), origin=OWN_FEED)
    assert len(await views.visible(OTHER_GUILD, limit=100)) == 30
    assert len(await views.visible(GUILD, limit=100)) == 31
    assert len(await delivery.latest(OTHER_GUILD, count=25)) == 25


async def test_a_growing_storys_views_read_only_its_new_articles(engine: AsyncEngine, clock: Clock) -> None:
    """A stored article never changes, so the views of a story that grows batch after batch (a first poll) are
    rebuilt from the articles read before and the new ones as they were written, not by reading and decoding any
    article again."""
    _, _, stories, views = await _setup(engine, clock)
    story = await stories.add(*(article(f"h{n}.example", seen=clock.now, path="kz") for n in range(3)))
    with full_article_reads(engine) as full_reads:
        clock.advance(minutes=5)
        grown = await stories.grow(story, article("new.example", seen=clock.now, path="kz"))
    assert full_reads == []  # not even the new article: it is known as it was written (news._as_read)
    (seen,) = await views.stories(OTHER_GUILD, [story.id])
    assert len(seen.outlets) == len(grown.outlets) == 4


async def test_articles_a_failed_write_read_are_not_kept(
    engine: AsyncEngine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails after building views is rolled back; what it read is not kept, as the id of an article
    it inserted may go to another one (SQLite reuses rowids): the views show the article stored under that id."""
    _, _, stories, views = await _setup(engine, clock)
    story = await stories.add(article("a.example", seen=clock.now, path="kz"))

    async def refuse(connection: Any, seq: int) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("bot.store.news.notify_news", refuse)
    clock.advance(minutes=5)
    with pytest.raises(RuntimeError):
        await stories.grow(story, article("gone.example", "Rolled back", seen=clock.now, path="kz", country="MA"))
    monkeypatch.undo()
    clock.advance(minutes=5)
    await stories.grow(story, article("kept.example", "Stored", seen=clock.now, path="kz"))
    (seen,) = await views.stories(OTHER_GUILD, [story.id])
    assert {a.title for a in seen.articles} == {"Kazakhstan joins the Abraham Accords", "Stored"}
    assert {a.url for a in seen.articles} == {"https://a.example/kz", "https://kept.example/kz"}
    assert "MA" not in seen.countries  # the view's facts are built from the articles it read


async def test_commands_read_no_article_the_poll_or_an_earlier_command_already_read(
    engine: AsyncEngine, clock: Clock
) -> None:
    """/latest and /story read stories with every article: hundreds for a big story, read and decoded on each call
    while a poll was growing it. The poll's views refresh and earlier reads fill one cache they now share."""
    news, delivery, stories, _ = await _setup(engine, clock)
    story = await stories.add(*(article(f"h{n}.example", seen=clock.now, path="kz") for n in range(3)))
    with full_article_reads(engine) as full_reads:
        (first,) = await delivery.latest(OTHER_GUILD, count=5)  # the poll's refresh read these three
        assert full_reads == []
        clock.advance(minutes=5)
        grown = await stories.grow(story, article("new.example", seen=clock.now, path="kz"))
        full_reads.clear()
        seen = await delivery.story(OTHER_GUILD, story.id)
        again = await delivery.story(OTHER_GUILD, story.id)
    assert full_reads == []
    assert first.id == story.id
    assert seen == again
    assert seen is not None
    assert len(seen.articles) == len(grown.articles) == 4
    assert len(news.read_articles._by_id) == 4


async def test_a_read_outside_the_poll_keeps_what_it_read(engine: AsyncEngine, clock: Clock) -> None:
    """A fresh process (the cache empty) reads a story's articles once, then from the cache."""
    _, _, stories, _ = await _setup(engine, clock)
    story = await stories.add(*(article(f"h{n}.example", seen=clock.now, path="kz") for n in range(3)))
    cold = Delivery(engine, NewsStore(engine, max_article_age=MAX_AGE), clock, max_article_age=MAX_AGE)
    with full_article_reads(engine) as reads:
        first = await cold.story(OTHER_GUILD, story.id)
        second = await cold.story(OTHER_GUILD, story.id)
    assert first == second
    assert first is not None
    assert len(first.articles) == 3
    assert len(reads) == 1


async def test_a_big_storys_origins_are_read_a_part_at_a_time(
    engine: AsyncEngine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebuilding a story's views reads the origins of all its articles (thousands for a first poll's big story):
    the loop runs between parts, so no more than a part's worth is decoded at a time."""
    _, _, stories, _ = await _setup(engine, clock)
    async with most_calls_between_turns(monkeypatch, news_module, "Origin") as most:
        story = await stories.add(*(article(f"h{n}.example", seen=clock.now, path="kz") for n in range(1200)))
    assert len(story.articles) == 1200
    assert 0 < most[0] <= news_module._WRITE_CHUNK
