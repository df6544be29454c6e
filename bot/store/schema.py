"""The database schema as SQLAlchemy Core tables: the source of truth that the migrations build.

All times are stored as timezone-aware UTC (`DateTime(timezone=True)`); SQLite keeps them as ISO text, which
`UtcDateTime` turns back into aware datetimes so both databases answer alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
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


# Which feeds carried each stored article (bot.news.visibility): `origin` is "" for the operator's sources, else the
# URL of a server's own source. `seen_at` is when that origin first carried it, `seq` the change number then.
article_origins = Table(
    "article_origins",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("origin", String(2048), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("article_id", "origin"),
    Index("ix_article_origins_origin", "origin"),
)

# A story as one scope sees it (bot.news.visibility): scope 0 is every server's view (the operator's sources), a
# server id its own view (plus its own sources). Facts are those of `summarize` over the view's articles
# (`article_ids`, a JSON list). `seq` is the change number of the last change, `fresh_seq`/`fresh_from` when the
# view first held fresh news: digests and alerts select by them. Rebuilt whenever its story or origins change.
story_views = Table(
    "story_views",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("scope", BigInteger, nullable=False),
    Column("title", Text, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("published", UtcDateTime, nullable=False),
    Column("last_published", UtcDateTime, nullable=False),
    Column("countries", String(400), nullable=False, server_default=""),
    Column("event_kind", String(20), nullable=True),
    Column("event_countries", String(400), nullable=False, server_default=""),
    Column("topics", Text, nullable=False, server_default="[]"),
    Column("score", Float, nullable=False, server_default="0"),
    Column("outlet_count", Integer, nullable=False, server_default="0"),
    Column("article_ids", Text, nullable=False, server_default="[]"),
    Column("own_only", Boolean, nullable=False, server_default="0"),
    Column("fresh_from", UtcDateTime, nullable=True),
    Column("fresh_seq", BigInteger, nullable=True),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("story_id", "scope"),
    Index("ix_story_views_scope_last_seen", "scope", "last_seen"),
    Index("ix_story_views_scope_published", "scope", "published"),
    Index("ix_story_views_scope_fresh_seq", "scope", "fresh_seq"),
    Index("ix_story_views_scope_event_kind", "scope", "event_kind"),
)

# Named counters. "news" numbers every change of the stories' views; writers take the next number at the start of
# their transaction, which holds the row until commit, so numbers become visible in order: a reader that sees
# number n committed sees every smaller one too (digests use it as a watermark that cannot skip unsaved work).
counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


# --- delivery (bot.delivery) ------------------------------------------------------------------------------------

# Servers whose delivery settings were set up: a server gets the built-in topic once, on its first row here, so an
# admin who removed the built-in topic does not see it come back at the next start.
delivery_guilds = Table(
    "delivery_guilds",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# A server's watched topics. `query` NULL is the built-in topic: it follows the bot's DEFAULT_TOPIC as that
# improves, instead of freezing the text of the day the server joined.
guild_topics = Table(
    "guild_topics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("name", String(32), nullable=False),
    Column("query", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("guild_id", "name"),
)

# One row per subscribed channel. `topics` is a JSON list of the server's topic names, NULL for all of them;
# `min_importance` NULL is the default alert threshold; `last_digest_at` is the end of the last complete digest.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False, index=True),
    Column("channel_id", BigInteger, nullable=False, unique=True),
    Column("mode", String(10), nullable=False),
    Column("schedule", String(64), nullable=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("min_importance", Float, nullable=True),
    Column("role_id", BigInteger, nullable=True),
    Column("topics", Text, nullable=True),
    Column("quiet_hours", String(32), nullable=True),
    Column("paused_reason", Text, nullable=True),
    Column("paused_at", UtcDateTime, nullable=True),
    Column("last_digest_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_digest_seq", BigInteger, nullable=True),  # the news change number the last digest covered
    Column("digest_slot", UtcDateTime, nullable=True),  # the scheduled time of the last digest run claimed
)

# The outbox: a row is written before a message is sent and marked sent after Discord accepted it (see
# bot.delivery.service). `batch` groups the parts of one digest, `covers_until` is the end of the period it covers;
# for an edit, `message_id` is the message to edit.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("channel_id", BigInteger, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("story_ids", Text, nullable=False, server_default="[]"),
    Column("part", Integer, nullable=False, server_default="1"),
    Column("parts", Integer, nullable=False, server_default="1"),
    Column("batch", String(32), nullable=True, index=True),
    Column("covers_until", UtcDateTime, nullable=True),
    Column("nonce", String(25), nullable=False, unique=True),
    Column("state", String(10), nullable=False, index=True),
    Column("message_id", BigInteger, nullable=True),
    Column("story_version", String(40), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Column("guild_id", BigInteger, nullable=True, index=True),
    Column("dedup_key", String(120), nullable=True, unique=True),  # what was planned, so it is planned only once
    Column("covers_until_seq", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("attempted_at", UtcDateTime, nullable=True),  # the first send: a resend after the nonce window looks first
    Column("next_try_at", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("retried", Integer, nullable=False, server_default="0"),
    Column("also_ids", Text, nullable=True),  # a digest part's one-line list: stories already sent as alerts
)

# The alert message of each story in each channel and the story version it shows: a separate table, not the
# outbox, because planning alerts asks "was this pair alerted, at which version?" for many pairs at once, and
# a keyed row answers that by index where the outbox's JSON list of story ids could not.
alerts_sent = Table(
    "alerts_sent",
    metadata,
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("story_id", Integer, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("version", String(40), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("subscription_id", "story_id"),
)

# A server's own feeds (the owner's copy; the fetch state is per URL in source_states). `disabled_at` is set after
# repeated failures; adding the URL again enables it.
guild_sources = Table(
    "guild_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("name", String(200), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("announced_at", UtcDateTime, nullable=True),  # when the server's admins were told it was disabled
    UniqueConstraint("guild_id", "url"),
)
