"""The database schema as SQLAlchemy Core tables: the source of truth that the migrations build.

All times are stored as timezone-aware UTC (`DateTime(timezone=True)`); SQLite keeps them as ISO text, which
`UtcDateTime` turns back into aware datetimes so both databases answer alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; only aware UTC datetimes are stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


# Servers the bot is in. Delivery keys subscriptions and topics on it; `removed_at` starts the grace period
# after which a removed server's data is deleted.
guilds = Table(
    "guilds",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime, nullable=True),
)


# --- the news engine (bot.news, bot.store.news) -----------------------------------------------------------------

# What the fetcher remembers of each source between polls, and its health for `/status`. Keyed by URL: a source
# added by several servers is fetched once. `guild_id` is the owner (None for the operator's sources).
source_states = Table(
    "source_states",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("guild_id", BigInteger, nullable=True),
    Column("etag", String(1024), nullable=True),
    Column("last_modified", String(100), nullable=True),
    Column("body_hash", String(128), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("last_attempt", UtcDateTime, nullable=True),
    Column("last_success", UtcDateTime, nullable=True),
    Column("next_attempt", UtcDateTime, nullable=True),
)

# Every article identity ever seen, matching a topic or not: a poll drops known identities before any work, so
# the many off-topic items of a feed cost one row of a few bytes each instead of being parsed and matched again.
seen_articles = Table(
    "seen_articles",
    metadata,
    Column("identity", String(2048), primary_key=True),
    Column("first_seen", UtcDateTime, nullable=False, index=True),
)

# Stories: many outlets' articles about one event. `published` is the earliest article's time and
# `last_published` the latest: clustering looks up only the stories whose span meets a new article's window.
stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False, index=True),
    Column("published", UtcDateTime, nullable=False, index=True),
    Column("last_published", UtcDateTime, nullable=False, index=True),
    Column("countries", String(400), nullable=False, server_default=""),  # keys, space separated
    Column("event_kind", String(20), nullable=True),
    Column("event_countries", String(400), nullable=False, server_default=""),
    Column("topics", Text, nullable=False, server_default="[]"),  # JSON list of topic names
    Column("score", Float, nullable=False, server_default="0"),
    Column("outlet_count", Integer, nullable=False, server_default="0"),
)

# Articles that matched a topic (the others are only in `seen_articles`).
articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity", String(2048), nullable=False, unique=True),
    Column("url", String(2048), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("outlet", String(200), nullable=False),
    Column("outlet_host", String(255), nullable=False, server_default=""),
    Column("published", UtcDateTime, nullable=False, index=True),
    Column("first_seen", UtcDateTime, nullable=False, index=True),
    Column("source_url", String(2048), nullable=False),
    Column("countries", String(400), nullable=False, server_default=""),
    Column("event_kind", String(20), nullable=True),
    Column("event_countries", String(400), nullable=False, server_default=""),
    Column("topics", Text, nullable=False, server_default="[]"),
    Column("matched_terms", Text, nullable=False, server_default="[]"),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="SET NULL"), nullable=True),
    Index("ix_articles_story_id", "story_id"),
)
