"""The news engine's persistence: source states, seen identities, stories and their articles.

One code path for SQLite and PostgreSQL (SQLAlchemy Core); "insert unless present" uses each dialect's
`INSERT .. ON CONFLICT DO NOTHING`. All datetimes in and out are timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.aio import Breather
from bot.news.models import Article, DetectedEvent, EventKind, Source, SourceState, Story, shared_event
from bot.news.stories import StoryDraft, StoryFacts, outlet_key
from bot.news.visibility import OPERATOR, Origin, SourcedArticle, View, build_views
from bot.store import schema
from bot.store.database import transaction
from bot.store.notify import notify_news

# Bound parameters per statement: SQLite allows 32766 and asyncpg 32767; stay well below both.
_CHUNK = 2000
# Rows per executemany call of a write: small enough that binding them holds the event loop a few milliseconds.
_WRITE_CHUNK = 500


def _keys(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _event(kind: str | None, countries: str) -> DetectedEvent | None:
    if kind is None:
        return None
    try:
        return shared_event(DetectedEvent(EventKind(kind), _keys(countries)))
    except ValueError:  # a kind written by a newer version: shown as no event rather than failing a read
        return None


def article_from_row(row: Row[Any]) -> Article:
    """An `articles` row as the Article it stores."""
    return _article(row._mapping)


def _article(columns: Mapping[Any, Any]) -> Article:
    """The Article of an `articles` row's columns, its times already aware UTC (as `UtcDateTime` reads them)."""
    return Article(
        url=columns["url"],
        title=columns["title"],
        summary=columns["summary"],
        outlet=columns["outlet"],
        published=columns["published"],
        first_seen=columns["first_seen"],
        source_url=columns["source_url"],
        countries=_keys(columns["countries"]),
        event=_event(columns["event_kind"], columns["event_countries"]),
        topics=_strings(columns["topics"]),
        matched_terms=_strings(columns["matched_terms"]),
    )


# The JSON lists of an article's topics and matched terms, both ways. Cached: a poll's articles share a few (most
# match the built-in topic by a few of its terms), and encoding and decoding each was about a fifteenth of a
# first poll's writes.
@functools.lru_cache(maxsize=4096)
def _strings(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


@functools.lru_cache(maxsize=4096)
def _json_list(strings: tuple[str, ...]) -> str:
    return json.dumps(list(strings))


def story_from_row(
    row: Row[Any],
    story_id: int,
    articles: tuple[Article, ...],
    *,
    own_only: bool = False,
    fresh_from: datetime | None = None,
    fresh_seq: int | None = None,
) -> Story:
    """A `Story` from the facts columns that `stories` and `story_views` rows share (see `_facts_values`)."""
    return Story(
        id=story_id,
        title=row.title,
        url=row.url,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        published=row.published,
        countries=_keys(row.countries),
        event=_event(row.event_kind, row.event_countries),
        topics=_strings(row.topics),
        score=row.score,
        articles=articles,
        own_only=own_only,
        fresh_from=fresh_from,
        fresh_seq=fresh_seq,
    )


async def articles_by_id(
    connection: AsyncConnection, ids: Collection[int], known: ReadArticles | None = None
) -> dict[int, Article]:
    """The stored articles of these ids (the loop breathes between rows). With `known`, those it holds are not read
    again and those read are added to it: only for a connection outside a write transaction (see ReadArticles)."""
    a = schema.articles
    found: dict[int, Article] = {}
    wanted = ids
    if known is not None:
        wanted = []
        for article_id in ids:
            article = known.get(article_id)
            if article is None:
                wanted.append(article_id)
            else:
                found[article_id] = article
    read: dict[int, Article] = {}
    breathe = Breather()
    for chunk in _chunks(sorted(wanted)):
        for row in await connection.execute(select(a).where(a.c.id.in_(chunk))):
            read[row.id] = article_from_row(row)
            await breathe()
    if known is not None:
        known.keep(read)
    found.update(read)
    return found


def view_row(story_id: int, view: View, *, seq: int) -> dict[str, Any]:
    """A `story_views` row for one view of a story, changed at `seq`."""
    return {
        "story_id": story_id,
        "scope": view.scope,
        **_facts_values(view.facts),
        "article_ids": json.dumps(list(view.article_ids)),
        "own_only": view.own_only,
        "fresh_from": view.fresh_from,
        "fresh_seq": view.fresh_seq,
        "seq": seq,
    }


# What makes a view row different from another: everything but the change number.
_VIEW_FACTS = tuple(c.name for c in schema.story_views.c if c.name not in ("story_id", "scope", "seq"))


async def next_change(connection: AsyncConnection) -> int:
    """Take the next news change number. The counter row stays locked until this transaction ends, so change
    numbers become visible in the order they were taken (see schema.counters)."""
    c = schema.counters
    result = await connection.execute(
        update(c).where(c.c.name == "news").values(value=c.c.value + 1).returning(c.c.value)
    )
    value = result.scalar_one_or_none()
    if value is None:  # a database created before the counter existed, or an empty one
        await _insert_new(connection, c, [{"name": "news", "value": 0}], "name")
        return await next_change(connection)
    return int(value)


async def current_change(connection: AsyncConnection) -> int:
    """The last news change number committed."""
    c = schema.counters
    value = (await connection.execute(select(c.c.value).where(c.c.name == "news"))).scalar_one_or_none()
    return int(value or 0)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class SavedPoll:
    """What `save_poll` wrote: the stories created and those updated (every article, whoever may see it), the
    change number it took and how many views (what servers see) changed."""

    new: tuple[Story, ...]
    updated: tuple[Story, ...]
    seq: int = 0
    views_changed: int = 0


class ReadArticles:
    """Stored articles already read, by id, the most recent `limit`: one cache for the views' refresh (NewsStore)
    and the stories a command or a delivery reads (bot.store.views).

    Why: a story's views are rebuilt from all its articles whenever it gains one, so a first poll whose stories grow
    batch after batch read and decoded the same rows again each time (at 2,000 feeds, a sixth of the loop's time);
    and the latest stories were read with every article, hundreds for a big one, and decoded on each call. A stored
    article never changes and is never deleted (only its origins grow, read afresh each time), so what was read
    once serves again. What a write transaction read is kept only once it has committed: the id of an insert
    rolled back may be given to another article (SQLite reuses rowids); a read outside one sees committed rows."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._by_id: OrderedDict[int, Article] = OrderedDict()

    def get(self, article_id: int) -> Article | None:
        return self._by_id.get(article_id)

    def keep(self, read: Mapping[int, Article]) -> None:
        for article_id, article in read.items():
            self._by_id[article_id] = article
            self._by_id.move_to_end(article_id)
        while len(self._by_id) > self._limit:
            self._by_id.popitem(last=False)


class NewsStore:
    """Async repository over the news tables; the engine is migrated by `bot.store.database.migrate`.

    `max_article_age` is MAX_ARTICLE_AGE: an article first seen by an origin later than that after it was
    published is old news for the views of that origin (stored and searchable, never delivered)."""

    def __init__(self, engine: AsyncEngine, *, max_article_age: timedelta | None = None) -> None:
        self._engine = engine
        self.max_article_age = max_article_age
        self.read_articles = ReadArticles()

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
        async with transaction(self._engine) as connection:
            await _upsert(connection, schema.source_states, rows, "url")

    # --- identities ------------------------------------------------------------------------------------------

    async def known_identities(self, identities: Iterable[str]) -> set[str]:
        """The identities among these that were seen before (matching a topic or not)."""
        wanted = list(dict.fromkeys(identities))
        known: set[str] = set()
        async with self._engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            for chunk in _chunks(wanted):
                # Through the driver, as the seen keys are written (`_insert_seen`): SQLAlchemy renders an `IN` of
                # a new length anew for each lookup, and on PostgreSQL prepares it anew. 24,530 keys in lookups of
                # 500: PostgreSQL 1.4 s -> 0.25 s (one array parameter), SQLite 0.24 -> 0.17 s of CPU.
                if postgres:
                    query, parameters = _SEEN_AMONG_PG, (list(chunk),)
                else:
                    query, parameters = _SEEN_AMONG_SQLITE.format(",".join("?" * len(chunk))), tuple(chunk)
                rows = await connection.exec_driver_sql(query, parameters)
                known.update(row[0] for row in rows)
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
        breathe = Breather()
        for chunk in _chunks(list(by_story)):
            query = select(a).where(a.c.story_id.in_(chunk)).order_by(a.c.published, a.c.id)
            for article in await connection.execute(query):
                by_story[article.story_id].append(article_from_row(article))
                await breathe()
        return [story_from_row(row, row.id, tuple(by_story[row.id])) for row in rows]

    # --- one poll's writes -----------------------------------------------------------------------------------

    async def save_poll(
        self,
        *,
        seen: Mapping[str, datetime],
        drafts: Sequence[StoryDraft],
        identities: Mapping[str, str],
        origins: Mapping[str, Collection[str]] | None = None,
        states: Sequence[tuple[Source, SourceState]] = (),
        now: datetime | None = None,
    ) -> SavedPoll:
        """Write a poll's outcome in one transaction: seen keys, new and changed stories, their new articles, the
        origins that carried each matching article, and the views of every story that changed.

        `seen` maps every new seen key (bot.news.pipeline) to its first-seen time; `identities` maps an article's
        URL to its identity; `origins` maps a matching article's identity to the origins that carried it in this
        poll (the operator's when absent). Articles already stored (another process, or another origin, got there
        first) are not stored again, but gain the new origins, and their stories' views are rebuilt.
        """
        new: list[Story] = []
        updated: list[Story] = []
        moment = now or max(seen.values(), default=None) or _now_from(drafts)
        read: dict[int, Article] = {}
        async with transaction(self._engine) as connection:
            seq = await next_change(connection)
            await _insert_seen(connection, seen)
            carried: dict[str, set[str]] = {key: set(value) for key, value in (origins or {}).items()}
            touched: set[int] = set()
            created = [draft for draft in drafts if draft.story_id is None]
            ids: list[int] = []
            if created:  # one statement for every new story (insertmanyvalues), ids in the drafts' order
                insert_stories = schema.stories.insert().returning(schema.stories.c.id, sort_by_parameter_order=True)
                result = await connection.execute(insert_stories, [_story_values(draft) for draft in created])
                ids = [int(row.id) for row in result]
            new_ids = iter(ids)
            article_rows: list[dict[str, Any]] = []
            breathe = Breather()
            for draft in drafts:
                await breathe()
                if draft.story_id is None:
                    story_id = next(new_ids)
                else:
                    story_id = draft.story_id
                    await connection.execute(
                        update(schema.stories).where(schema.stories.c.id == story_id).values(**_story_values(draft))
                    )
                for article in draft.added:
                    identity = identities.get(article.url, article.url)
                    article_rows.append(_article_values(article, identity, story_id))
                    carried.setdefault(identity, set()).update(() if origins and identity in origins else {OPERATOR})
                touched.add(story_id)
                story = _story(story_id, draft)
                (new if draft.story_id is None else updated).append(story)
            a = schema.articles
            returned = await _insert_new(connection, a, article_rows, "identity", returning=(a.c.id, a.c.identity))
            written = {row.identity: row.id for row in returned}
            # what this transaction wrote is known as it would be read back: the views' refresh need not read it
            read.update(
                (written[values["identity"]], _as_read(values))
                for values in article_rows
                if values["identity"] in written
            )
            touched |= await _add_origins(connection, carried, moment, seq)
            changed = await self._refresh_views(connection, touched, seq, moment, read)
            if changed:
                await notify_news(connection, seq)
        self.read_articles.keep(read)  # committed
        if states:
            await self.save_states(states)
        return SavedPoll(tuple(new), tuple(updated), seq, changed)

    async def refresh_views_of_origin(self, origin: str, now: datetime) -> int:
        """Rebuild the views of every story an origin carried articles of (a server added or removed that source:
        who may see them changed); returns how many views changed."""
        read: dict[int, Article] = {}
        async with transaction(self._engine) as connection:
            seq = await next_change(connection)
            o, a = schema.article_origins, schema.articles
            query = select(a.c.story_id).join(o, o.c.article_id == a.c.id).where(o.c.origin == origin).distinct()
            story_ids = {row.story_id for row in await connection.execute(query) if row.story_id is not None}
            changed = await self._refresh_views(connection, story_ids, seq, now, read)
            if changed:
                await notify_news(connection, seq)
        self.read_articles.keep(read)  # committed
        return changed

    async def _refresh_views(
        self,
        connection: AsyncConnection,
        story_ids: Collection[int],
        seq: int,
        now: datetime,
        read: dict[int, Article],
    ) -> int:
        """Rebuild the views of these stories from their articles, origins and the servers' sources; rows whose
        facts did not change keep their change number. Returns how many views were written or removed; the
        articles it had to read are added to `read` (to be kept once the transaction has committed)."""
        a, o, v, g = schema.articles, schema.article_origins, schema.story_views, schema.guild_sources
        changed = 0
        breathe = Breather()
        for chunk in _chunks(sorted(story_ids), 500):
            members: list[Row[Any, Any]] = []
            query = select(a.c.id, a.c.story_id).where(a.c.story_id.in_(chunk)).order_by(a.c.id)
            async for part in (await connection.stream(query)).partitions(_WRITE_CHUNK):  # the loop runs between
                members.extend(part)
                await asyncio.sleep(0)
            stored: dict[int, Article] = {}
            for row in members:
                known = self.read_articles.get(row.id) or read.get(row.id)
                if known is not None:
                    stored[row.id] = known
            fetched = await articles_by_id(connection, [row.id for row in members if row.id not in stored])
            stored.update(fetched)
            read.update(fetched)
            articles = [(row.id, row.story_id, stored[row.id]) for row in members]
            carried: dict[int, list[Origin]] = {}
            for article_ids in _chunks([article_id for article_id, _, _ in articles], _WRITE_CHUNK):
                # a part at a time, the loop running between: a first poll's big stories hold thousands of origins,
                # and building the query of 2,000 ids, then decoding their rows, held the loop 50-70 ms at 2,000 feeds
                rows = await connection.stream(select(o).where(o.c.article_id.in_(article_ids)))
                async for part in rows.partitions(_WRITE_CHUNK):
                    for row in part:
                        carried.setdefault(row.article_id, []).append(Origin(row.origin, row.seen_at, row.seq))
                    await asyncio.sleep(0)
            urls = sorted({origin.origin for found in carried.values() for origin in found} - {OPERATOR})
            guilds_by_origin: dict[str, set[int]] = {}
            for url_chunk in _chunks(urls):
                for row in await connection.execute(select(g.c.url, g.c.guild_id).where(g.c.url.in_(url_chunk))):
                    guilds_by_origin.setdefault(row.url, set()).add(row.guild_id)
            by_story: dict[int, list[SourcedArticle]] = {story_id: [] for story_id in chunk}
            for article_id, story_id, article in articles:
                origins = tuple(carried.get(article_id, ()))
                if origins:
                    by_story[story_id].append(SourcedArticle(article_id, article, origins))
            existing = {
                (row.story_id, row.scope): row._mapping
                for row in await connection.execute(select(v).where(v.c.story_id.in_(chunk)))
            }
            wanted: dict[tuple[int, int], dict[str, Any]] = {}
            for story_id, sourced in by_story.items():
                views = build_views(sourced, guilds_by_origin, max_age=self.max_article_age, now=now)
                for scope, view in views.items():
                    wanted[(story_id, scope)] = view_row(story_id, view, seq=seq)
                await breathe()
            gone = [key for key in existing if key not in wanted]
            writes = [
                values
                for key, values in wanted.items()
                if key not in existing or any(existing[key][name] != values[name] for name in _VIEW_FACTS)
            ]
            # Rows that changed are replaced: one delete and one insert for many rows, not a statement per view.
            stale = gone + [
                (values["story_id"], values["scope"])
                for values in writes
                if (values["story_id"], values["scope"]) in existing
            ]
            for story_id, scope in stale:
                await connection.execute(delete(v).where(v.c.story_id == story_id, v.c.scope == scope))
            if writes:
                await connection.execute(v.insert(), writes)
            changed += len(gone) + len(writes)
        return changed

    async def story_count(self) -> int:
        async with self._engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(schema.stories))).scalar_one())

    async def last_fetch(self) -> datetime | None:
        """When any source was last fetched, by whichever process polls."""
        t = schema.source_states
        async with self._engine.connect() as connection:
            value: datetime | None = (await connection.execute(select(func.max(t.c.last_attempt)))).scalar_one()
            return value

    async def forget_seen_before(self, cutoff: datetime) -> int:
        """Drop seen identities older than `cutoff` (feeds no longer carry them); returns how many."""
        t = schema.seen_articles
        async with transaction(self._engine) as connection:
            result = await connection.execute(delete(t).where(t.c.first_seen < cutoff))
        return int(result.rowcount or 0)


async def _add_origins(
    connection: AsyncConnection, carried: Mapping[str, Collection[str]], seen_at: datetime, seq: int
) -> set[int]:
    """Record which origins carried these articles (by identity); returns the stories of the articles that gained
    an origin they did not have."""
    a, o = schema.articles, schema.article_origins
    touched: set[int] = set()
    identities = list(carried)
    for chunk in _chunks(identities):
        stored = {
            row.identity: (row.id, row.story_id)
            for row in await connection.execute(
                select(a.c.id, a.c.identity, a.c.story_id).where(a.c.identity.in_(chunk))
            )
        }
        if not stored:
            continue
        had = {
            (row.article_id, row.origin)
            for row in await connection.execute(
                select(o.c.article_id, o.c.origin).where(o.c.article_id.in_([i for i, _ in stored.values()]))
            )
        }
        rows = []
        for identity, (article_id, story_id) in stored.items():
            for origin in carried[identity]:
                if (article_id, origin) not in had:
                    rows.append({"article_id": article_id, "origin": origin, "seen_at": seen_at, "seq": seq})
                    if story_id is not None:
                        touched.add(story_id)
        if rows:
            await connection.execute(o.insert(), rows)
    return touched


def _now_from(drafts: Sequence[StoryDraft]) -> datetime:
    """The poll's time when a caller gave none: its newest article's first sight."""
    return max((a.first_seen for d in drafts for a in d.added), default=datetime(1970, 1, 1, tzinfo=UTC))


async def _insert_new(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: str,
    returning: Sequence[ColumnElement[Any]] = (),
) -> list[Row[Any]]:
    """INSERT .. ON CONFLICT (key) DO NOTHING, in the connection's dialect, in calls of up to `_WRITE_CHUNK` rows
    (binding parameters is Python work on the event loop: the loop runs between chunks); with `returning`, those
    columns of each row it wrote (a row already stored is neither written nor returned).

    Without `returning`, an executemany: four times faster here than a multi-row VALUES, which SQLAlchemy compiles
    anew per size. With it, SQLAlchemy sends multi-row VALUES: for a batch's few hundred articles, as fast as an
    executemany (1,017 articles: 19-29 ms of the loop's time either way)."""
    if not rows:
        return []
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=[key])
    if returning:
        statement = statement.returning(*returning)
    written: list[Row[Any]] = []
    for chunk in _chunks(rows, _WRITE_CHUNK):
        result = await connection.execute(statement, list(chunk))
        if returning:
            written.extend(result)
        await asyncio.sleep(0)
    return written


def _as_read(values: Mapping[str, Any]) -> Article:
    """The article that `article_from_row` reads from the row these values (`_article_values`) write: the same
    columns, the times as `UtcDateTime` gives them back.

    Why: the views of a story are rebuilt from all its articles right after its new ones are written; reading
    those back (a query, then decoding each row) was a tenth of the loop's work in a first poll of 500 feeds."""
    return _article(
        {**values, "published": values["published"].astimezone(UTC), "first_seen": values["first_seen"].astimezone(UTC)}
    )


_SEEN = schema.seen_articles
_SEEN_INSERT_SQLITE = f"INSERT INTO {_SEEN.name} (identity, first_seen) VALUES (?, ?) ON CONFLICT (identity) DO NOTHING"
_SEEN_INSERT_PG = f"INSERT INTO {_SEEN.name} (identity, first_seen) VALUES ($1, $2) ON CONFLICT (identity) DO NOTHING"
_SEEN_AMONG_SQLITE = f"SELECT identity FROM {_SEEN.name} WHERE identity IN ({{}})"
_SEEN_AMONG_PG = f"SELECT identity FROM {_SEEN.name} WHERE identity = ANY($1::varchar[])"


async def _insert_seen(connection: AsyncConnection, seen: Mapping[str, datetime]) -> None:
    """The seen keys of a poll (tens of thousands on a first poll), through the driver in `_WRITE_CHUNK` rows.

    Why not `_insert_new`: SQLAlchemy binds each row through the column's types (`UtcDateTime`, then the dialect's
    own), on the event loop: 24,530 keys took 0.47 s of CPU on SQLite that way, 0.26 s here, where the times are
    converted once to what those types would store (`_stored_time`; tests/store/test_news_store.py reads them
    back and compares them with times the types wrote)."""
    postgres = connection.dialect.name == "postgresql"
    statement = _SEEN_INSERT_PG if postgres else _SEEN_INSERT_SQLITE
    # A poll's keys share a few times (one per batch): each is converted once (24,530 conversions were 3% of the
    # loop's time in a first poll of 500 feeds).
    stored = functools.cache(_utc if postgres else _stored_time)
    items = iter(seen.items())
    # chunk by chunk, converting included: converting a batch's 20,000 keys at once held the loop 50-70 ms
    while chunk := [(key, stored(when)) for key, when in islice(items, _WRITE_CHUNK)]:
        await connection.exec_driver_sql(statement, chunk)
        await asyncio.sleep(0)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; only aware UTC datetimes are stored")
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _stored_time(moment: datetime) -> str:
    """An aware time as `UtcDateTime` stores it on SQLite: UTC, without zone, to the microsecond."""
    return _utc(moment).replace(tzinfo=None).isoformat(" ", "microseconds")


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
    return _facts_values(draft.facts)


def _facts_values(facts: StoryFacts) -> dict[str, Any]:
    """A story's facts as the columns that `stories` and `story_views` share."""
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
        "topics": _json_list(tuple(article.topics)),
        "matched_terms": _json_list(tuple(article.matched_terms)),
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
