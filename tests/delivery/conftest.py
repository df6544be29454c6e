"""Delivery test helpers: a controllable clock, stories saved through NewsStore, a Delivery over the `engine`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.service import Delivery
from bot.news.models import Article, DetectedEvent, EventKind, Story
from bot.news.stories import StoryDraft, summarize
from bot.news.visibility import OPERATOR
from bot.store.news import NewsStore

T0 = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
GUILD = 1001
OTHER_GUILD = 2002


@dataclass
class Clock:
    """Aware UTC now that a test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def article(
    host: str,
    title: str = "Kazakhstan joins the Abraham Accords",
    *,
    seen: datetime,
    published: datetime | None = None,
    outlet: str | None = None,
    kind: EventKind | None = EventKind.JOINED,
    country: str = "KZ",
    topics: Sequence[str] = ("accords",),
    path: str = "story",
    summary: str = "",
) -> Article:
    """An article from `host` first seen at `seen` (published then too unless given)."""
    return Article(
        url=f"https://{host}/{path}",
        title=title,
        summary=summary,
        outlet=outlet or host,
        published=published or seen,
        first_seen=seen,
        source_url=f"https://{host}/rss",
        countries=(country, "IL"),
        event=DetectedEvent(kind, (country,)) if kind else None,
        topics=tuple(topics),
        matched_terms=('"Abraham Accord*"',),
    )


class Stories:
    """Writes stories through NewsStore.save_poll, as a poll does."""

    def __init__(self, news: NewsStore) -> None:
        self.news = news

    async def add(self, *articles: Article, now: datetime | None = None, origin: str = OPERATOR) -> Story:
        """A new story of these articles, carried by `origin` (the operator's sources by default), saved at `now`
        (default: the latest first-seen time)."""
        when = now or max(a.first_seen for a in articles)
        draft = StoryDraft(None, summarize(articles, when), tuple(articles), tuple(articles))
        saved = await self.news.save_poll(
            seen={a.url: a.first_seen for a in articles},
            drafts=[draft],
            identities={a.url: a.url for a in articles},
            origins={a.url: {origin} for a in articles},
            now=when,
        )
        return saved.new[0]

    async def grow(
        self, story: Story, *articles: Article, now: datetime | None = None, origin: str = OPERATOR
    ) -> Story:
        """The story with these articles added (as a later poll would), saved at `now`."""
        every = (*story.articles, *articles)
        when = now or max(a.first_seen for a in every)
        draft = StoryDraft(story.id, summarize(every, when), every, tuple(articles))
        saved = await self.news.save_poll(
            seen={a.url: a.first_seen for a in articles},
            drafts=[draft],
            identities={a.url: a.url for a in articles},
            origins={a.url: {origin} for a in articles},
            now=when,
        )
        return saved.updated[0]


@pytest.fixture
def clock() -> Clock:
    return Clock()


MAX_AGE = timedelta(hours=72)


@pytest.fixture
def news(engine: AsyncEngine) -> NewsStore:
    return NewsStore(engine, max_article_age=MAX_AGE)


@pytest.fixture
def stories(news: NewsStore) -> Stories:
    return Stories(news)


@pytest.fixture
def delivery(engine: AsyncEngine, news: NewsStore, clock: Clock) -> Delivery:
    return Delivery(engine, news, clock, max_article_age=MAX_AGE)
