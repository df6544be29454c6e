"""The news engine's persistence: source states, seen identities, stories and their articles.

One code path for SQLite and PostgreSQL (SQLAlchemy Core); "insert unless present" uses each dialect's
`INSERT .. ON CONFLICT DO NOTHING`. All datetimes in and out are timezone-aware UTC.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.news.models import Article, DetectedEvent, EventKind, Source, SourceState, Story
from bot.news.stories import StoryDraft, outlet_key
from bot.store import schema

# Bound parameters per statement: SQLite allows 32766 and asyncpg 32767; stay well below both.
_CHUNK = 2000


def _keys(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _event(kind: str | None, countries: str) -> DetectedEvent | None:
    if kind is None:
        return None
    try:
        return DetectedEvent(EventKind(kind), _keys(countries))
    except ValueError:  # a kind written by a newer version: shown as no event rather than failing a read
        return None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class SavedPoll:
    """What `save_poll` wrote: the stories created and those updated, with their ids and articles."""

    new: tuple[Story, ...]
    updated: tuple[Story, ...]


class NewsStore:
    """Async repository over the news tables; the engine is migrated by `bot.store.database.migrate`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- source states ---------------------------------------------------------------------------------------

    async def load_states(self, urls: Iterable[str]) -> dict[str, SourceState]:
        """The stored states of these sources; a source never polled is absent."""
        wanted = list(dict.fromkeys(urls))
        t = schema.source_states
        out: dict[str, SourceState] = {}
        async with self._engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = await connection.execute(select(t).where(t.c.url.in_(chunk)))
                for row in rows:
                    out[row.url] = SourceState(
                        etag=row.etag,
                        last_modified=row.last_modified,
                        body_hash=row.body_hash,
                        last_status=row.last_status,
                        last_error=row.last_error,
                        consecutive_failures=row.consecutive_failures,
                        last_attempt=row.last_attempt,
                        last_success=row.last_success,
                        next_attempt=row.next_attempt,
                    )
        return out

    async def save_states(self, states: Sequence[tuple[Source, SourceState]]) -> None:
        """Insert or replace the states of these sources, in one statement per chunk."""
        if not states:
            return
        rows = [
            {
                "url": source.url,
                "guild_id": source.guild_id,
                "etag": state.etag,
                "last_modified": state.last_modified,
                "body_hash": state.body_hash,
                "last_status": state.last_status,
                "last_error": state.last_error,
                "consecutive_failures": state.consecutive_failures,
                "last_attempt": state.last_attempt,
                "last_success": state.last_success,
                "next_attempt": state.next_attempt,
            }
            for source, state in dict((s.url, (s, st)) for s, st in states).values()
        ]
        async with self._engine.begin() as connection:
            await _upsert(connection, schema.source_states, rows, "url")

    # --- identities ------------------------------------------------------------------------------------------

    async def known_identities(self, identities: Iterable[str]) -> set[str]:
        """The identities among these that were seen before (matching a topic or not)."""
        wanted = list(dict.fromkeys(identities))
        t = schema.seen_articles
        known: set[str] = set()
        async with self._engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = await connection.execute(select(t.c.identity).where(t.c.identity.in_(chunk)))
                known.update(row.identity for row in rows)
        return known

    # --- stories ---------------------------------------------------------------------------------------------

    async def stories_in_window(self, ranges: Sequence[tuple[datetime, datetime]]) -> list[Story]:
        """Stories whose span (earliest to latest article) meets one of the ranges, with their articles.

        Uses the `published`/`last_published` indexes: the cost follows the stories of those days, not history.
        """
        if not ranges:
            return []
        s = schema.stories
        condition = or_(*(and_(s.c.last_published >= lo, s.c.published <= hi) for lo, hi in ranges))
        async with self._engine.connect() as connection:
            rows = list(await connection.execute(select(s).where(condition).order_by(s.c.id)))
            return await self._with_articles(connection, rows)

    async def story(self, story_id: int) -> Story | None:
        """One story with its articles, or None."""
        found = await self.stories([story_id])
        return found[0] if found else None

    async def stories(self, story_ids: Sequence[int]) -> list[Story]:
        """These stories with their articles, in the order asked; unknown ids are left out. Two queries per
        chunk of ids, however many stories: callers that list stories use this, never `story` in a loop."""
        s = schema.stories
        wanted = list(dict.fromkeys(story_ids))
        found: dict[int, Story] = {}
        async with self._engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = list(await connection.execute(select(s).where(s.c.id.in_(chunk))))
                found.update((story.id, story) for story in await self._with_articles(connection, rows))
        return [found[story_id] for story_id in wanted if story_id in found]

    async def recent_stories(
        self,
        since: datetime,
        *,
        limit: int = 50,
        topics: Collection[str] | None = None,
        min_score: float = 0.0,
        newest_first: bool = False,
    ) -> list[Story]:
        """Stories seen since `since` (matching one of `topics`, when given), the most important first (then the
        newest), or the newest first."""
        if topics is not None and not topics:
            return []
        s = schema.stories
        query = select(s).where(s.c.last_seen >= since, s.c.score >= min_score)
        if topics is not None:
            # `topics` holds a JSON list: a quoted name matches one element (the LIKE is escaped; checked below)
            query = query.where(or_(*(s.c.topics.contains(json.dumps(t), autoescape=True) for t in topics)))
        if newest_first:
            query = query.order_by(s.c.published.desc(), s.c.id.desc())
        else:
            query = query.order_by(s.c.score.desc(), s.c.last_published.desc(), s.c.id.desc())
        async with self._engine.connect() as connection:
            rows = list(await connection.execute(query.limit(limit)))
            stories = await self._with_articles(connection, rows)
        if topics is not None:
            wanted = set(topics)
            stories = [story for story in stories if wanted.intersection(story.topics)]
        return stories

    async def all_stories(self) -> list[Story]:
        """Every story, oldest first: for `check`, whose store is a temporary one."""
        s = schema.stories
        async with self._engine.connect() as connection:
            rows = list(await connection.execute(select(s).order_by(s.c.published, s.c.id)))
            return await self._with_articles(connection, rows)

    async def _with_articles(self, connection: AsyncConnection, rows: list[Row[Any]]) -> list[Story]:
        a = schema.articles
        by_story: dict[int, list[Article]] = {row.id: [] for row in rows}
        for chunk in _chunks(list(by_story)):
            query = select(a).where(a.c.story_id.in_(chunk)).order_by(a.c.published, a.c.id)
            for article in await connection.execute(query):
                by_story[article.story_id].append(
                    Article(
                        url=article.url,
                        title=article.title,
                        summary=article.summary,
                        outlet=article.outlet,
                        published=article.published,
                        first_seen=article.first_seen,
                        source_url=article.source_url,
                        countries=_keys(article.countries),
                        event=_event(article.event_kind, article.event_countries),
                        topics=tuple(json.loads(article.topics)),
                        matched_terms=tuple(json.loads(article.matched_terms)),
                    )
                )
        return [
            Story(
                id=row.id,
                title=row.title,
                url=row.url,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                published=row.published,
                countries=_keys(row.countries),
                event=_event(row.event_kind, row.event_countries),
                topics=tuple(json.loads(row.topics)),
                score=row.score,
                articles=tuple(by_story[row.id]),
            )
            for row in rows
        ]

    # --- one poll's writes -----------------------------------------------------------------------------------

    async def save_poll(
        self,
        *,
        seen: Mapping[str, datetime],
        drafts: Sequence[StoryDraft],
        identities: Mapping[str, str],
        states: Sequence[tuple[Source, SourceState]] = (),
    ) -> SavedPoll:
        """Write a poll's outcome in one transaction: seen identities, new and changed stories, their new articles.

        `seen` maps every new identity (matching or not) to its first-seen time; `identities` maps an article's
        URL to its identity. Articles already stored (another process got there first) are skipped.
        """
        new: list[Story] = []
        updated: list[Story] = []
        async with self._engine.begin() as connection:
            seen_rows = [{"identity": key, "first_seen": when} for key, when in seen.items()]
            await _insert_new(connection, schema.seen_articles, seen_rows, "identity")
            for draft in drafts:
                values = _story_values(draft)
                if draft.story_id is None:
                    result = await connection.execute(
                        schema.stories.insert().values(**values).returning(schema.stories.c.id)
                    )
                    story_id = int(result.scalar_one())
                else:
                    story_id = draft.story_id
                    await connection.execute(
                        update(schema.stories).where(schema.stories.c.id == story_id).values(**values)
                    )
                rows = [
                    _article_values(article, identities.get(article.url, article.url), story_id)
                    for article in draft.added
                ]
                await _insert_new(connection, schema.articles, rows, "identity")
                story = _story(story_id, draft)
                (new if draft.story_id is None else updated).append(story)
        if states:
            await self.save_states(states)
        return SavedPoll(tuple(new), tuple(updated))

    async def forget_seen_before(self, cutoff: datetime) -> int:
        """Drop seen identities older than `cutoff` (feeds no longer carry them); returns how many."""
        t = schema.seen_articles
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(t).where(t.c.first_seen < cutoff))
        return int(result.rowcount or 0)


async def _insert_new(connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], key: str) -> None:
    """INSERT .. ON CONFLICT (key) DO NOTHING, in the connection's dialect, as one executemany.

    An executemany is four times faster here than a multi-row VALUES, which SQLAlchemy compiles anew per size.
    """
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        await connection.execute(postgresql.insert(table).on_conflict_do_nothing(index_elements=[key]), list(rows))
    else:
        await connection.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=[key]), list(rows))


async def _upsert(connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], key: str) -> None:
    """INSERT .. ON CONFLICT (key) DO UPDATE every other column, in the connection's dialect, as one executemany."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    if connection.dialect.name == "postgresql":
        pg = postgresql.insert(table)
        pg = pg.on_conflict_do_update(index_elements=[key], set_={name: pg.excluded[name] for name in columns})
        await connection.execute(pg, list(rows))
    else:
        lite = sqlite.insert(table)
        lite = lite.on_conflict_do_update(index_elements=[key], set_={name: lite.excluded[name] for name in columns})
        await connection.execute(lite, list(rows))


def _story_values(draft: StoryDraft) -> dict[str, Any]:
    facts = draft.facts
    return {
        "title": facts.title,
        "url": facts.url,
        "first_seen": facts.first_seen,
        "last_seen": facts.last_seen,
        "published": facts.published,
        "last_published": facts.last_published,
        "countries": " ".join(facts.countries),
        "event_kind": facts.event.kind.value if facts.event else None,
        "event_countries": " ".join(facts.event.countries) if facts.event else "",
        "topics": json.dumps(list(facts.topics)),
        "score": facts.score,
        "outlet_count": facts.outlet_count,
    }


def _article_values(article: Article, identity: str, story_id: int) -> dict[str, Any]:
    return {
        "identity": identity,
        "url": article.url,
        "title": article.title,
        "summary": article.summary,
        "outlet": article.outlet[:200],
        "outlet_host": outlet_key(article)[:255],
        "published": article.published,
        "first_seen": article.first_seen,
        "source_url": article.source_url,
        "countries": " ".join(article.countries),
        "event_kind": article.event.kind.value if article.event else None,
        "event_countries": " ".join(article.event.countries) if article.event else "",
        "topics": json.dumps(list(article.topics)),
        "matched_terms": json.dumps(list(article.matched_terms)),
        "story_id": story_id,
    }


def _story(story_id: int, draft: StoryDraft) -> Story:
    facts = draft.facts
    return Story(
        id=story_id,
        title=facts.title,
        url=facts.url,
        first_seen=facts.first_seen,
        last_seen=facts.last_seen,
        published=facts.published,
        countries=facts.countries,
        event=facts.event,
        topics=facts.topics,
        score=facts.score,
        articles=tuple(sorted(draft.articles, key=lambda a: (a.published, a.url))),
    )
