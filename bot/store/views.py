"""Stories as a server sees them: reads of `story_views` (bot.news.visibility), never of another server's news.

A server sees its own view of a story where one exists, else the public view (scope 0); the choice is made in the
query (`_visible_to`), so a story that only other servers' sources reported is never read for it. Every read
returns `Story` values whose facts and articles are the view's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

from bot.aio import Breather
from bot.news.models import Article, EventKind, Story
from bot.news.visibility import PUBLIC
from bot.store import schema
from bot.store.news import ReadArticles, _chunks, articles_by_id, current_change, story_from_row

_V = schema.story_views


def _visible_to(guild_id: int) -> ColumnElement[bool]:
    """The views a server reads: its own, and the public ones of stories it has no view of its own for."""
    own = _V.alias("own")
    superseded = exists().where(own.c.story_id == _V.c.story_id, own.c.scope == guild_id)
    return or_(_V.c.scope == guild_id, and_(_V.c.scope == PUBLIC, ~superseded))


def _tagged(topics: Collection[str]) -> ColumnElement[bool]:
    # `topics` holds a JSON list: a quoted name matches one element (LIKE escaped); checked exactly after the read
    return or_(*(_V.c.topics.contains(json.dumps(t), autoescape=True) for t in topics))


class StoryViews:
    """Async reads of the views of a migrated engine."""

    def __init__(self, engine: AsyncEngine, articles: ReadArticles | None = None) -> None:
        self._engine = engine
        # the news store's (NewsStore.read_articles): what the poll read for its views serves commands too
        self._articles = articles if articles is not None else ReadArticles()

    async def current_change(self) -> int:
        """The last news change number committed: what a digest planned now covers up to."""
        async with self._engine.connect() as connection:
            return await current_change(connection)

    async def visible(
        self,
        guild_id: int,
        *,
        seen_since: datetime | None = None,
        fresh_after: int | None = None,
        fresh_upto: int | None = None,
        fresh_since: datetime | None = None,
        topics: Collection[str] | None = None,
        min_score: float = 0.0,
        newest_first: bool = False,
        limit: int = 50,
    ) -> list[Story]:
        """The stories a server sees, filtered: seen since a time (`last_seen`), first fresh within change numbers
        (`fresh_after` < fresh_seq <= `fresh_upto`) or since a time, matching one of `topics` (tags), at least
        `min_score`; the most important first (then the newest), or the newest first."""
        if topics is not None and not topics:
            return []
        query = select(_V).where(_visible_to(guild_id), _V.c.score >= min_score)
        if seen_since is not None:
            query = query.where(_V.c.last_seen >= seen_since)
        if fresh_after is not None:
            query = query.where(_V.c.fresh_seq > fresh_after)
        if fresh_upto is not None:
            query = query.where(_V.c.fresh_seq <= fresh_upto)
        if fresh_since is not None:
            query = query.where(_V.c.fresh_from > fresh_since)
        if topics is not None:
            query = query.where(_tagged(topics))
        if newest_first:
            query = query.order_by(_V.c.published.desc(), _V.c.story_id.desc())
        else:
            query = query.order_by(_V.c.score.desc(), _V.c.last_published.desc(), _V.c.story_id.desc())
        stories = await self._read(query.limit(limit))
        if topics is not None:
            wanted = set(topics)
            stories = [story for story in stories if wanted.intersection(story.topics)]
        return stories

    async def stories(self, guild_id: int, story_ids: Sequence[int]) -> list[Story]:
        """These stories as the server sees them, in the order asked; those it cannot see are left out."""
        wanted = list(dict.fromkeys(story_ids))
        found: dict[int, Story] = {}
        for chunk in _chunks(wanted):
            query = select(_V).where(_visible_to(guild_id), _V.c.story_id.in_(chunk))
            found.update((story.id, story) for story in await self._read(query))
        return [found[story_id] for story_id in wanted if story_id in found]

    async def for_guilds(self, guild_ids: Iterable[int], seen_since: datetime) -> dict[int, list[Story]]:
        """For each server, the stories it sees that were seen since `seen_since`: the public views, read once,
        with each server's own views in their place. For planning alerts over many servers in two queries."""
        ids = sorted(set(guild_ids))
        recent = _V.c.last_seen >= seen_since
        public = await self._read(select(_V).where(_V.c.scope == PUBLIC, recent))
        public_ids = {story.id for story in public}
        # A server's own view replaces the public one even when it was seen earlier (its own copy came first).
        recent_public = select(_V.c.story_id).where(_V.c.scope == PUBLIC, recent).scalar_subquery()
        own: dict[int, dict[int, Story]] = {guild_id: {} for guild_id in ids}
        for chunk in _chunks(ids, 500):
            query = select(_V).where(_V.c.scope.in_(chunk), or_(recent, _V.c.story_id.in_(recent_public)))
            for scope, story in await self._read_scoped(query):
                own[scope][story.id] = story
        out: dict[int, list[Story]] = {}
        for guild_id in ids:
            mine = own[guild_id]
            merged = [mine.get(story.id, story) for story in public]
            merged.extend(story for story_id, story in mine.items() if story_id not in public_ids)
            out[guild_id] = [story for story in merged if story.last_seen >= seen_since]
        return out

    async def reported(
        self, kinds: Iterable[EventKind], min_outlets: int, *, only: Collection[int] | None = None
    ) -> list[Story]:
        """Public stories of these event kinds with at least `min_outlets` independent outlets, newest first: what
        may become a "reported" fact (a server's own sources never do). With `only`, just these stories."""
        query = (
            select(_V)
            .where(*self._reported_where(kinds, min_outlets))
            .order_by(_V.c.published.desc(), _V.c.story_id.desc())
        )
        if only is None:
            return await self._read(query)
        found: list[Story] = []
        for chunk in _chunks(sorted(only), 500):
            found.extend(await self._read(query.where(_V.c.story_id.in_(chunk))))
        return sorted(found, key=lambda story: (story.published, story.id), reverse=True)

    async def reported_versions(self, kinds: Iterable[EventKind], min_outlets: int) -> dict[int, int]:
        """The change number of each view `reported` would read, by story: which changed since a caller read them,
        in one query that reads no article."""
        query = select(_V.c.story_id, _V.c.seq).where(*self._reported_where(kinds, min_outlets))
        async with self._engine.connect() as connection:
            return {row.story_id: row.seq for row in await connection.execute(query)}

    @staticmethod
    def _reported_where(kinds: Iterable[EventKind], min_outlets: int) -> tuple[Any, ...]:
        return (
            _V.c.scope == PUBLIC,
            _V.c.event_kind.in_([k.value for k in kinds]),
            _V.c.outlet_count >= min_outlets,
        )

    async def _read(self, query: Select[Any]) -> list[Story]:
        return [story for _, story in await self._read_scoped(query)]

    async def _read_scoped(self, query: Select[Any]) -> list[tuple[int, Story]]:
        async with self._engine.connect() as connection:
            rows = list(await connection.execute(query))
            ids = {i for row in rows for i in json.loads(row.article_ids)}
            articles = await articles_by_id(connection, ids, self._articles)
        breathe = Breather()
        out = []
        for row in rows:
            out.append((row.scope, _story(row, articles)))
            await breathe()
        return out


def _story(row: Row[Any], articles: dict[int, Article]) -> Story:
    return story_from_row(
        row,
        row.story_id,
        tuple(articles[i] for i in json.loads(row.article_ids) if i in articles),
        own_only=bool(row.own_only),
        fresh_from=row.fresh_from,
        fresh_seq=row.fresh_seq,
    )
