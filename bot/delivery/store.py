"""Delivery's persistence: servers' topics and sources, subscriptions, the outbox and the alerts sent.

SQLAlchemy Core over SQLite and PostgreSQL alike; the rules (validation, planning) live in `service`, this module
only reads and writes rows. Every datetime in and out is timezone-aware UTC.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, and_, delete, func, insert, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.delivery.values import (
    DeliveryKind,
    DeliveryTrouble,
    Mode,
    PendingDelivery,
    SourceInfo,
    Subscription,
    TopicInfo,
)
from bot.news.models import EventKind
from bot.news.topics import DEFAULT_TOPIC, DEFAULT_TOPIC_NAME
from bot.store import schema
from bot.store.database import transaction

_T = schema.guild_topics
_S = schema.subscriptions
_D = schema.deliveries
_A = schema.alerts_sent
_G = schema.guild_sources


def new_nonce() -> str:
    """A fresh message nonce: 24 URL-safe characters (Discord accepts up to 25), random enough never to repeat."""
    return secrets.token_urlsafe(18)


def _topic(row: Row[Any]) -> TopicInfo:
    builtin = row.query is None
    return TopicInfo(row.guild_id, row.name, DEFAULT_TOPIC if builtin else row.query, builtin, row.created_at)


def _subscription(row: Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        mode=cast(Mode, row.mode),
        schedule=row.schedule,
        timezone=row.timezone,
        min_importance=row.min_importance,
        role_id=row.role_id,
        topics=None if row.topics is None else tuple(json.loads(row.topics)),
        quiet_hours=row.quiet_hours,
        paused_reason=row.paused_reason,
        paused_at=row.paused_at,
        last_digest_at=row.last_digest_at,
        created_at=row.created_at,
        last_digest_seq=row.last_digest_seq,
        digest_slot=row.digest_slot,
    )


def _pending(row: Row[Any]) -> PendingDelivery:
    return PendingDelivery(
        guild_id=row.guild_id,
        attempts=row.attempts,
        attempted_at=row.attempted_at,
        covers_until_seq=row.covers_until_seq,
        also_ids=tuple(json.loads(row.also_ids)) if row.also_ids else (),
        id=row.id,
        subscription_id=row.subscription_id,
        channel_id=row.channel_id,
        kind=cast(DeliveryKind, row.kind),
        story_ids=tuple(json.loads(row.story_ids)),
        part=row.part,
        parts=row.parts,
        nonce=row.nonce,
        batch=row.batch,
        covers_until=row.covers_until,
        message_id=row.message_id,
        story_version=row.story_version,
        created_at=row.created_at,
        error=row.error,
    )


def _source(row: Row[Any]) -> SourceInfo:
    return SourceInfo(row.id, row.guild_id, row.url, row.name, row.added_at, row.disabled_at, row.disabled_reason)


def _removed_guilds() -> Any:
    g = schema.guilds
    return select(g.c.id).where(g.c.removed_at.is_not(None))


async def _insert_ignore(connection: AsyncConnection, table: Any, row: dict[str, Any], keys: list[str]) -> int:
    """INSERT .. ON CONFLICT DO NOTHING; returns the number of rows inserted (0 or 1)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    result = await connection.execute(dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=keys))
    return int(result.rowcount or 0)


_CHUNK = 2000


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _record(
    connection: AsyncConnection, rows: Sequence[Mapping[str, Any]], now: datetime
) -> list[PendingDelivery]:
    out: list[PendingDelivery] = []
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for values in rows:
        row = {
            **values,
            "story_ids": json.dumps(list(values["story_ids"])),
            "also_ids": json.dumps(list(values["also_ids"])) if values.get("also_ids") else None,
            "nonce": new_nonce(),
            "state": "pending",
            "created_at": now,
        }
        if row.get("dedup_key"):
            statement = dialect.insert(_D).values(**row).on_conflict_do_nothing(index_elements=["dedup_key"])
        else:
            statement = dialect.insert(_D).values(**row)
        result = await connection.execute(statement.returning(*_D.c))
        found = result.first()
        if found is not None:
            out.append(_pending(found))
    return out


async def _cover(connection: AsyncConnection, subscription_id: int, until: datetime, until_seq: int | None) -> None:
    """A digest period is covered: its watermark (change number, and the time shown) moves forward, never back."""
    values: dict[str, Any] = {"last_digest_at": until}
    condition = or_(_S.c.last_digest_at.is_(None), _S.c.last_digest_at < until)
    if until_seq is not None:
        values["last_digest_seq"] = until_seq
        condition = or_(_S.c.last_digest_seq.is_(None), _S.c.last_digest_seq < until_seq)
    await connection.execute(update(_S).where(_S.c.id == subscription_id, condition).values(**values))


class DeliveryStore:
    """Async repository over the delivery tables of a migrated engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- servers and topics ----------------------------------------------------------------------------------

    async def ensure_guild(self, guild_id: int, now: datetime) -> bool:
        """Set a server up once, with the built-in topic; True when this call did it.

        Read first: nearly every command asks, and on SQLite a write waits for the writer in turn, which during a
        poll is the poll's batch (a latest-stories answer waited 100-360 ms for it, to write nothing)."""
        g = schema.delivery_guilds
        async with self._engine.connect() as connection:
            if (await connection.execute(select(g.c.guild_id).where(g.c.guild_id == guild_id))).first() is not None:
                return False
        async with transaction(self._engine) as connection:
            created = await _insert_ignore(
                connection, schema.delivery_guilds, {"guild_id": guild_id, "created_at": now}, ["guild_id"]
            )
            if created:
                await _insert_ignore(
                    connection,
                    _T,
                    {"guild_id": guild_id, "name": DEFAULT_TOPIC_NAME, "query": None, "created_at": now},
                    ["guild_id", "name"],
                )
        return bool(created)

    async def topics(self, guild_id: int) -> list[TopicInfo]:
        """A server's topics, the built-in first, then by name."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(_T).where(_T.c.guild_id == guild_id).order_by(_T.c.name))
            found = [_topic(row) for row in rows]
        return sorted(found, key=lambda t: (not t.builtin, t.name))

    async def topics_of(self, guild_ids: Iterable[int]) -> dict[int, list[TopicInfo]]:
        """The topics of many servers in one query."""
        ids = sorted(set(guild_ids))
        out: dict[int, list[TopicInfo]] = {guild_id: [] for guild_id in ids}
        if not ids:
            return out
        async with self._engine.connect() as connection:
            for row in await connection.execute(select(_T).where(_T.c.guild_id.in_(ids)).order_by(_T.c.name)):
                out[row.guild_id].append(_topic(row))
        return out

    async def all_custom_topics(self) -> list[TopicInfo]:
        """Every server's own topics (not the built-in), servers that removed the bot left out."""
        query = (
            select(_T)
            .where(_T.c.query.is_not(None), _T.c.guild_id.not_in(_removed_guilds()))
            .order_by(_T.c.guild_id, _T.c.name)
        )
        async with self._engine.connect() as connection:
            return [_topic(row) for row in await connection.execute(query)]

    async def add_topic(self, guild_id: int, name: str, query: str, now: datetime, cap: int) -> TopicInfo | str:
        """Insert a topic; or a reason it was not ("exists", "cap")."""
        async with transaction(self._engine) as connection:
            count = (await connection.execute(select(func.count()).where(_T.c.guild_id == guild_id))).scalar_one()
            if count >= cap:
                return "cap"
            row = {"guild_id": guild_id, "name": name, "query": query, "created_at": now}
            if not await _insert_ignore(connection, _T, row, ["guild_id", "name"]):
                return "exists"
        return TopicInfo(guild_id, name, query, False, now)

    async def remove_topic(self, guild_id: int, name: str) -> TopicInfo | None:
        """Delete a topic; returns what it was, or None."""
        condition = and_(_T.c.guild_id == guild_id, _T.c.name == name)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(_T).where(condition))).first()
            if row is None:
                return None
            await connection.execute(delete(_T).where(condition))
        return _topic(row)

    async def restore_builtin(self, guild_id: int, now: datetime) -> bool:
        """Watch the built-in topic again (its row has no query: it follows the bot's); False if it was there."""
        async with transaction(self._engine) as connection:
            row = {"guild_id": guild_id, "name": DEFAULT_TOPIC_NAME, "query": None, "created_at": now}
            return bool(await _insert_ignore(connection, _T, row, ["guild_id", "name"]))

    async def mark_guild_removed(self, guild_id: int, now: datetime) -> None:
        g = schema.guilds
        async with transaction(self._engine) as connection:
            result = await connection.execute(update(g).where(g.c.id == guild_id).values(removed_at=now))
            if not result.rowcount:  # a server delivery knew but the guild list did not: keep its grace period
                await connection.execute(insert(g).values(id=guild_id, name="", joined_at=now, removed_at=now))

    async def mark_guild_returned(self, guild_id: int) -> None:
        g = schema.guilds
        async with transaction(self._engine) as connection:
            await connection.execute(update(g).where(g.c.id == guild_id).values(removed_at=None))

    async def purge_guilds(self, removed_before: datetime) -> tuple[int, list[str]]:
        """Delete every delivery row of the servers removed before the cutoff, and their guild rows; returns how
        many servers, and the URLs of their own sources (who may see what those carried has changed)."""
        g = schema.guilds
        async with transaction(self._engine) as connection:
            rows = await connection.execute(select(g.c.id).where(g.c.removed_at < removed_before))
            ids = [row.id for row in rows]
            if not ids:
                return 0, []
            urls = [row.url for row in await connection.execute(select(_G.c.url).where(_G.c.guild_id.in_(ids)))]
            subs = select(_S.c.id).where(_S.c.guild_id.in_(ids))
            await connection.execute(delete(_D).where(_D.c.subscription_id.in_(subs)))
            await connection.execute(delete(_A).where(_A.c.subscription_id.in_(subs)))
            await connection.execute(delete(_S).where(_S.c.guild_id.in_(ids)))
            await connection.execute(delete(_T).where(_T.c.guild_id.in_(ids)))
            await connection.execute(delete(_G).where(_G.c.guild_id.in_(ids)))
            await connection.execute(delete(schema.delivery_guilds).where(schema.delivery_guilds.c.guild_id.in_(ids)))
            await connection.execute(delete(g).where(g.c.id.in_(ids)))
        return len(ids), sorted(set(urls))

    # --- subscriptions ---------------------------------------------------------------------------------------

    async def save_subscription(
        self, values: Mapping[str, Any], now: datetime, *, retry_failed_since: datetime | None = None
    ) -> Subscription:
        """Insert or replace a channel's settings; a replaced one keeps its id, history and last digest, and
        is no longer paused (an admin saving it again has had the chance to fix what paused it). Its messages
        that failed since `retry_failed_since` and were not retried yet are pending again, once."""
        settings = {**values, "paused_reason": None, "paused_at": None}
        async with transaction(self._engine) as connection:
            found = (await connection.execute(select(_S.c.id).where(_S.c.channel_id == values["channel_id"]))).first()
            if found is None:
                await connection.execute(insert(_S).values(**settings, created_at=now))
            else:
                await connection.execute(update(_S).where(_S.c.id == found.id).values(**settings))
                if retry_failed_since is not None:
                    await connection.execute(
                        update(_D)
                        .where(
                            _D.c.subscription_id == found.id,
                            _D.c.state == "failed",
                            _D.c.retried == 0,
                            _D.c.created_at >= retry_failed_since,
                        )
                        .values(
                            state="pending",
                            retried=1,
                            error=None,
                            next_try_at=None,
                            attempted_at=None,
                            claimed_by=None,
                            claimed_until=None,
                        )
                    )
            row = (await connection.execute(select(_S).where(_S.c.channel_id == values["channel_id"]))).one()
        return _subscription(row)

    async def delete_subscription(self, channel_id: int, guild_id: int | None = None) -> bool:
        condition = _S.c.channel_id == channel_id
        if guild_id is not None:
            condition = condition & (_S.c.guild_id == guild_id)
        async with transaction(self._engine) as connection:
            found = (await connection.execute(select(_S.c.id).where(condition))).first()
            if found is None:
                return False
            await connection.execute(delete(_D).where(_D.c.subscription_id == found.id))
            await connection.execute(delete(_A).where(_A.c.subscription_id == found.id))
            await connection.execute(delete(_S).where(_S.c.id == found.id))
        return True

    async def subscriptions(
        self, *, guild_id: int | None = None, channel_id: int | None = None, subscription_id: int | None = None
    ) -> list[Subscription]:
        query = select(_S).order_by(_S.c.id)
        if guild_id is not None:
            query = query.where(_S.c.guild_id == guild_id)
        if channel_id is not None:
            query = query.where(_S.c.channel_id == channel_id)
        if subscription_id is not None:
            query = query.where(_S.c.id == subscription_id)
        async with self._engine.connect() as connection:
            return [_subscription(row) for row in await connection.execute(query)]

    async def active_subscriptions(self) -> list[Subscription]:
        """Subscriptions not paused, of servers that did not remove the bot."""
        query = select(_S).where(_S.c.paused_at.is_(None), _S.c.guild_id.not_in(_removed_guilds())).order_by(_S.c.id)
        async with self._engine.connect() as connection:
            return [_subscription(row) for row in await connection.execute(query)]

    async def set_paused(self, subscription_id: int, reason: str, now: datetime) -> bool:
        """Pause a subscription (reason and time) and fail its pending records; True only when this call paused it
        (it was not paused already). Saving the subscription again resumes it (`save_subscription`)."""
        async with transaction(self._engine) as connection:
            result = await connection.execute(
                update(_S)
                .where(_S.c.id == subscription_id, _S.c.paused_at.is_(None))
                .values(paused_reason=reason, paused_at=now)
            )
            await connection.execute(
                update(_D)
                .where(_D.c.subscription_id == subscription_id, _D.c.state == "pending")
                .values(state="failed", error=f"paused: {reason}"[:2000], claimed_by=None, claimed_until=None)
            )
        return bool(result.rowcount)

    # --- the outbox ------------------------------------------------------------------------------------------

    async def record(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> list[PendingDelivery]:
        """Write pending records in one transaction, each with a fresh nonce; a row whose `dedup_key` was recorded
        before (by this process or another) is not written again. Returns the rows written."""
        async with transaction(self._engine) as connection:
            return await _record(connection, rows, now)

    async def record_digest(
        self,
        subscription_id: int,
        rows: Sequence[Mapping[str, Any]],
        now: datetime,
        *,
        slot: datetime | None,
        until: datetime,
        until_seq: int,
    ) -> list[PendingDelivery] | None:
        """Claim a digest run (its scheduled `slot`, when given) and record its parts in one transaction; None when
        the slot was claimed before (another process ran it). A digest with no parts covers its period at once."""
        async with transaction(self._engine) as connection:
            if slot is not None:
                claimed = await connection.execute(
                    update(_S)
                    .where(_S.c.id == subscription_id, or_(_S.c.digest_slot.is_(None), _S.c.digest_slot < slot))
                    .values(digest_slot=slot)
                )
                if not claimed.rowcount:
                    return None
            if not rows:
                await _cover(connection, subscription_id, until, until_seq)
                return []
            return await _record(connection, rows, now)

    async def mark_sent(self, delivery_id: int, message_id: int, now: datetime) -> bool:
        """Pending → sent; an alert or edit records its message and version, a summary records each of its stories
        as alerted, a digest's last part completes the digest (its watermark moves)."""
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(_D).where(_D.c.id == delivery_id))).first()
            if row is None or row.state != "pending":
                return False
            # Lock the subscription first: two parts of one digest marked at once then agree on which was last.
            await connection.execute(select(_S.c.id).where(_S.c.id == row.subscription_id).with_for_update())
            await connection.execute(
                update(_D)
                .where(_D.c.id == delivery_id)
                .values(
                    state="sent", message_id=message_id, sent_at=now, error=None, claimed_by=None, claimed_until=None
                )
            )
            if row.kind in ("alert", "edit", "summary"):
                dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
                for story_id in json.loads(row.story_ids):
                    values = {
                        "subscription_id": row.subscription_id,
                        "story_id": story_id,
                        "message_id": message_id,
                        "version": row.story_version or "",
                        "sent_at": now,
                    }
                    upsert = dialect.insert(_A).values(**values)
                    upsert = upsert.on_conflict_do_update(
                        index_elements=["subscription_id", "story_id"],
                        set_={"message_id": message_id, "version": values["version"], "sent_at": now},
                    )
                    await connection.execute(upsert)
            elif row.batch is not None and row.covers_until is not None:
                unsent = (
                    await connection.execute(select(func.count()).where(_D.c.batch == row.batch, _D.c.state != "sent"))
                ).scalar_one()
                if unsent == 0:
                    await _cover(connection, row.subscription_id, row.covers_until, row.covers_until_seq)
        return True

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        """Pending → failed; the other unsent parts of the same digest fail with it (a digest goes out whole)."""
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(_D).where(_D.c.id == delivery_id))).first()
            if row is None or row.state != "pending":
                return False
            condition = _D.c.id == delivery_id
            if row.batch is not None:
                condition = or_(condition, _D.c.batch == row.batch)
            await connection.execute(
                update(_D)
                .where(condition, _D.c.state == "pending")
                .values(state="failed", error=error[:2000], claimed_by=None, claimed_until=None)
            )
        return True

    async def note_retry(self, delivery_id: int, error: str, retry_at: datetime) -> bool:
        """Keep a record pending after a transient refusal, remembering why (shown by /status), to be tried again
        from `retry_at`; its claim is released."""
        async with transaction(self._engine) as connection:
            result = await connection.execute(
                update(_D)
                .where(_D.c.id == delivery_id, _D.c.state == "pending")
                .values(error=error[:2000], next_try_at=retry_at, claimed_by=None, claimed_until=None)
            )
        return bool(result.rowcount)

    async def claim(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        limit: int,
        guilds: Callable[[int], bool] | None,
        busy: Collection[int] = (),
    ) -> list[PendingDelivery]:
        """Claim pending rows that are due (no retry waiting) and free (unclaimed or expired), oldest first, until
        `until`. A channel's rows go in order: behind a row that waits (a retry, or another sender's claim) the
        channel's later rows wait too, and a channel in `busy` (the caller still sends to it) waits whole: its
        rows, even one whose claim expired, are not taken twice by one process. The claim is a conditional update,
        so two processes never both hold a row (on PostgreSQL the second waits for the first's commit and then
        finds the row taken)."""
        query = (
            select(_D.c.id, _D.c.channel_id, _D.c.guild_id, _D.c.next_try_at, _D.c.claimed_until)
            .where(_D.c.state == "pending")
            .order_by(_D.c.id)
        )
        async with transaction(self._engine) as connection:
            blocked: set[int] = set(busy)
            ids: list[int] = []
            for row in await connection.execute(query):
                if row.channel_id in blocked or (
                    guilds is not None and row.guild_id is not None and not guilds(row.guild_id)
                ):
                    continue
                waiting = row.next_try_at is not None and row.next_try_at > now
                held = row.claimed_until is not None and row.claimed_until >= now
                if waiting or held:
                    blocked.add(row.channel_id)
                    continue
                ids.append(row.id)
                if len(ids) >= limit:
                    break
            free = or_(_D.c.claimed_until.is_(None), _D.c.claimed_until < now)
            claimed: list[PendingDelivery] = []
            for chunk in _chunks(ids):
                result = await connection.execute(
                    update(_D)
                    .where(_D.c.id.in_(chunk), _D.c.state == "pending", free)
                    .values(claimed_by=owner, claimed_until=until)
                    .returning(*_D.c)
                )
                claimed.extend(_pending(row) for row in result)
        return sorted(claimed, key=lambda p: p.id)

    async def release(self, ids: Sequence[int]) -> None:
        async with transaction(self._engine) as connection:
            for chunk in _chunks(list(ids)):
                await connection.execute(
                    update(_D).where(_D.c.id.in_(chunk)).values(claimed_by=None, claimed_until=None)
                )

    async def renew(self, ids: Sequence[int], owner: str, until: datetime) -> None:
        """Extend `owner`'s claims on these rows (still pending) until `until`."""
        async with transaction(self._engine) as connection:
            for chunk in _chunks(list(ids)):
                await connection.execute(
                    update(_D)
                    .where(_D.c.id.in_(chunk), _D.c.claimed_by == owner, _D.c.state == "pending")
                    .values(claimed_until=until)
                )

    async def release_claims(self, owner: str | None) -> int:
        """Free the claims of `owner` (a previous run of this process), or every claim (None: when this process is
        the only one, nothing else can hold them)."""
        condition = _D.c.claimed_by.is_not(None) if owner is None else _D.c.claimed_by == owner
        async with transaction(self._engine) as connection:
            result = await connection.execute(update(_D).where(condition).values(claimed_by=None, claimed_until=None))
        return int(result.rowcount or 0)

    async def mark_attempt(self, delivery_id: int, now: datetime) -> None:
        async with transaction(self._engine) as connection:
            await connection.execute(
                update(_D)
                .where(_D.c.id == delivery_id)
                .values(attempts=_D.c.attempts + 1, attempted_at=func.coalesce(_D.c.attempted_at, now))
            )

    async def troubles(self, guild_id: int, since: datetime, limit: int) -> list[DeliveryTrouble]:
        """The server's records being retried, and those that failed since `since` (not for a pause: /status
        lists paused channels on their own), newest first."""
        query = (
            select(_D.c.channel_id, _D.c.kind, _D.c.state, _D.c.error, _D.c.created_at)
            .join(_S, _S.c.id == _D.c.subscription_id)
            .where(
                _S.c.guild_id == guild_id,
                _D.c.error.is_not(None),
                or_(
                    _D.c.state == "pending",
                    and_(_D.c.state == "failed", _D.c.created_at >= since, not_(_D.c.error.startswith("paused:"))),
                ),
            )
            .order_by(_D.c.created_at.desc(), _D.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return [
                DeliveryTrouble(
                    row.channel_id,
                    cast(DeliveryKind, row.kind),
                    "retrying" if row.state == "pending" else "failed",
                    row.error,
                    row.created_at,
                )
                for row in await connection.execute(query)
            ]

    async def pending(self, kind: DeliveryKind | None = None) -> list[PendingDelivery]:
        query = select(_D).where(_D.c.state == "pending").order_by(_D.c.id)
        if kind is not None:
            query = query.where(_D.c.kind == kind)
        async with self._engine.connect() as connection:
            return [_pending(row) for row in await connection.execute(query)]

    async def delivery_state(self, delivery_id: int) -> tuple[str, int | None] | None:
        """A record's state and message id (for logs and tests), or None when it is gone."""
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(_D.c.state, _D.c.message_id).where(_D.c.id == delivery_id))).first()
        return None if row is None else (row.state, row.message_id)

    async def digest_story_ids(self, subscription_id: int, after_seq: int | None) -> set[int]:
        """Stories in this subscription's digests not failed that cover news after `after_seq` (the watermark):
        on their way, or sent in a part of a digest not yet complete."""
        query = select(_D.c.story_ids).where(
            _D.c.subscription_id == subscription_id,
            _D.c.kind == "digest",
            _D.c.state != "failed",
        )
        if after_seq is not None:
            query = query.where(or_(_D.c.covers_until_seq.is_(None), _D.c.covers_until_seq > after_seq))
        async with self._engine.connect() as connection:
            return {int(i) for row in await connection.execute(query) for i in json.loads(row.story_ids)}

    async def alerts_sent(self, subscription_ids: Iterable[int]) -> dict[tuple[int, int], tuple[int, str]]:
        """(subscription, story) → (message id, version) of the alerts posted in these subscriptions."""
        ids = list(subscription_ids)
        if not ids:
            return {}
        query = select(_A).where(_A.c.subscription_id.in_(ids))
        async with self._engine.connect() as connection:
            return {
                (row.subscription_id, row.story_id): (row.message_id, row.version)
                for row in await connection.execute(query)
            }

    async def alerted_story_ids(self, subscription_id: int) -> list[int]:
        """The stories posted as alerts (or listed in a summary) in this subscription's channel."""
        query = select(_A.c.story_id).where(_A.c.subscription_id == subscription_id)
        async with self._engine.connect() as connection:
            return [row.story_id for row in await connection.execute(query)]

    async def open_alerts(self) -> set[tuple[int, int]]:
        """(subscription, story) pairs with an alert, edit or summary pending or failed: not to be planned again."""
        query = select(_D.c.subscription_id, _D.c.story_ids).where(
            _D.c.kind.in_(("alert", "edit", "summary")), _D.c.state != "sent"
        )
        async with self._engine.connect() as connection:
            return {
                (row.subscription_id, int(i))
                for row in await connection.execute(query)
                for i in json.loads(row.story_ids)
            }

    # --- server sources --------------------------------------------------------------------------------------

    async def sources(self, guild_id: int | None = None) -> list[SourceInfo]:
        query = select(_G).order_by(_G.c.guild_id, _G.c.id)
        if guild_id is not None:
            query = query.where(_G.c.guild_id == guild_id)
        async with self._engine.connect() as connection:
            return [_source(row) for row in await connection.execute(query)]

    async def enabled_sources(self) -> list[SourceInfo]:
        query = (
            select(_G)
            .where(_G.c.disabled_at.is_(None), _G.c.guild_id.not_in(_removed_guilds()))
            .order_by(_G.c.guild_id, _G.c.id)
        )
        async with self._engine.connect() as connection:
            return [_source(row) for row in await connection.execute(query)]

    async def add_source(self, guild_id: int, url: str, name: str, now: datetime, cap: int) -> SourceInfo | str:
        """Insert (or enable again) a server's source; or why not ("exists", "cap")."""
        async with transaction(self._engine) as connection:
            found = (await connection.execute(select(_G).where(_G.c.guild_id == guild_id, _G.c.url == url))).first()
            if found is not None and found.disabled_at is None:
                return "exists"
            enabled = (
                await connection.execute(
                    select(func.count()).where(_G.c.guild_id == guild_id, _G.c.disabled_at.is_(None))
                )
            ).scalar_one()
            if enabled >= cap:
                return "cap"
            values = {"name": name, "added_at": now, "disabled_at": None, "disabled_reason": None, "announced_at": None}
            if found is None:
                if not await _insert_ignore(
                    connection, _G, {"guild_id": guild_id, "url": url, **values}, ["guild_id", "url"]
                ):
                    return "exists"
            else:
                await connection.execute(update(_G).where(_G.c.id == found.id).values(**values))
            row = (await connection.execute(select(_G).where(_G.c.guild_id == guild_id, _G.c.url == url))).one()
        return _source(row)

    async def remove_source(self, guild_id: int, url_or_name: str) -> SourceInfo | None:
        async with transaction(self._engine) as connection:
            rows = list(await connection.execute(select(_G).where(_G.c.guild_id == guild_id).order_by(_G.c.id)))
            wanted = url_or_name.strip()
            match = next((r for r in rows if r.url == wanted), None) or next(
                (r for r in rows if r.name.casefold() == wanted.casefold()), None
            )
            if match is None:
                return None
            await connection.execute(delete(_G).where(_G.c.id == match.id))
        return _source(match)

    async def disable_sources(self, reasons: Mapping[int, str], now: datetime) -> list[SourceInfo]:
        """Disable these sources (by id) with their reasons; returns those this call disabled."""
        out: list[SourceInfo] = []
        async with transaction(self._engine) as connection:
            for source_id, reason in reasons.items():
                result = await connection.execute(
                    update(_G)
                    .where(_G.c.id == source_id, _G.c.disabled_at.is_(None))
                    .values(disabled_at=now, disabled_reason=reason[:2000])
                )
                if result.rowcount:
                    row = (await connection.execute(select(_G).where(_G.c.id == source_id))).one()
                    out.append(_source(row))
        return out

    async def disabled_source_count(self) -> int:
        async with self._engine.connect() as connection:
            query = select(func.count()).where(_G.c.disabled_at.is_not(None))
            return int((await connection.execute(query)).scalar_one())

    async def pending_count(self) -> int:
        async with self._engine.connect() as connection:
            return int((await connection.execute(select(func.count()).where(_D.c.state == "pending"))).scalar_one())

    async def unannounced_disabled_sources(self) -> list[SourceInfo]:
        """Sources disabled for failing whose server was not told yet."""
        query = select(_G).where(_G.c.disabled_at.is_not(None), _G.c.announced_at.is_(None)).order_by(_G.c.id)
        async with self._engine.connect() as connection:
            return [_source(row) for row in await connection.execute(query)]

    async def mark_announced(self, source_id: int, now: datetime) -> None:
        async with transaction(self._engine) as connection:
            await connection.execute(update(_G).where(_G.c.id == source_id).values(announced_at=now))

    async def operator_source_urls(self) -> list[str]:
        """URLs of the sources polled for the operator (no owning server), as the news store recorded them."""
        s = schema.source_states
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(s.c.url).where(s.c.guild_id.is_(None)).order_by(s.c.url))
            return [row.url for row in rows]

    # --- stories for the knowledge ---------------------------------------------------------------------------

    async def event_stories_signature(self, kinds: Iterable[EventKind], min_outlets: int) -> tuple[object, ...]:
        """Changes whenever a story with one of these events is added, grows or changes its event."""
        st = schema.stories
        query = select(func.count(st.c.id), func.max(st.c.id), func.max(st.c.last_seen), func.sum(st.c.outlet_count))
        query = query.where(st.c.event_kind.in_([k.value for k in kinds]), st.c.outlet_count >= min_outlets)
        async with self._engine.connect() as connection:
            return tuple((await connection.execute(query)).one())

    async def story_ids_with_events(self, kinds: Iterable[EventKind], min_outlets: int) -> list[int]:
        st = schema.stories
        query = (
            select(st.c.id)
            .where(st.c.event_kind.in_([k.value for k in kinds]), st.c.outlet_count >= min_outlets)
            .order_by(st.c.published.desc(), st.c.id.desc())
        )
        async with self._engine.connect() as connection:
            return [row.id for row in await connection.execute(query)]
