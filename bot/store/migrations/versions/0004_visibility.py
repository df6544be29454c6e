"""Visibility and a durable outbox: article origins, story views per scope, a change counter, outbox claims.

Existing data is carried over: an article's origin is its source's (the operator's unless a server added that
source), its story's views are built with the same code the bot uses (bot.news.visibility), change numbers follow
the time each view first held fresh news, and each subscription's digest watermark is set to the number its last
digest had reached, so the next digest holds exactly what it would have held before the upgrade.

Revision ID: 0004
Revises: 0003
"""

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# What MAX_ARTICLE_AGE defaulted to: the migration cannot read settings; the next change of a story rebuilds its
# views with the operator's value.
_DEFAULT_MAX_AGE = timedelta(hours=72)


def upgrade() -> None:
    op.create_table(
        "article_origins",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=2048), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_origins_article_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", "origin", name=op.f("pk_article_origins")),
    )
    op.create_index("ix_article_origins_origin", "article_origins", ["origin"])
    op.create_table(
        "story_views",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_published", sa.DateTime(timezone=True), nullable=False),
        sa.Column("countries", sa.String(length=400), server_default="", nullable=False),
        sa.Column("event_kind", sa.String(length=20), nullable=True),
        sa.Column("event_countries", sa.String(length=400), server_default="", nullable=False),
        sa.Column("topics", sa.Text(), server_default="[]", nullable=False),
        sa.Column("score", sa.Float(), server_default="0", nullable=False),
        sa.Column("outlet_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("article_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("own_only", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("fresh_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fresh_seq", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_story_views_story_id_stories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("story_id", "scope", name=op.f("pk_story_views")),
    )
    for name, columns in (
        ("ix_story_views_scope_last_seen", ["scope", "last_seen"]),
        ("ix_story_views_scope_published", ["scope", "published"]),
        ("ix_story_views_scope_fresh_seq", ["scope", "fresh_seq"]),
        ("ix_story_views_scope_event_kind", ["scope", "event_kind"]),
    ):
        op.create_index(name, "story_views", columns)
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("last_digest_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("digest_slot", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("guild_sources") as batch:
        batch.add_column(sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("guild_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("covers_until_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("retried", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("also_ids", sa.Text(), nullable=True))
        batch.create_index(op.f("ix_deliveries_guild_id"), ["guild_id"])
        batch.create_unique_constraint(op.f("uq_deliveries_dedup_key"), ["dedup_key"])
    _carry_over()


def _carry_over() -> None:
    """Origins, views, change numbers and digest watermarks for the data already stored (see the module doc)."""
    from bot.news.models import Article, DetectedEvent, EventKind
    from bot.news.visibility import OPERATOR, Origin, SourcedArticle, build_views
    from bot.store.schema import UtcDateTime

    bind = op.get_bind()
    articles = sa.table(
        "articles",
        *(sa.column(name) for name in ("id", "url", "title", "summary", "outlet", "source_url", "story_id")),
        *(sa.column(name) for name in ("countries", "event_kind", "event_countries", "topics", "matched_terms")),
        sa.column("published", UtcDateTime),
        sa.column("first_seen", UtcDateTime),
    )
    states = sa.table("source_states", sa.column("url"), sa.column("guild_id"))
    guild_sources = sa.table("guild_sources", sa.column("url"), sa.column("guild_id"))
    origins = sa.table(
        "article_origins",
        sa.column("article_id"),
        sa.column("origin"),
        sa.column("seen_at", UtcDateTime),
        sa.column("seq"),
    )
    view_columns = ("story_id", "scope", "title", "url", "countries", "event_kind", "event_countries", "topics")
    view_times = ("first_seen", "last_seen", "published", "last_published", "fresh_from")
    views = sa.table(
        "story_views",
        *(sa.column(name) for name in view_columns),
        *(sa.column(name, UtcDateTime) for name in view_times),
        *(sa.column(name) for name in ("score", "outlet_count", "article_ids", "own_only", "fresh_seq", "seq")),
    )
    counters = sa.table("counters", sa.column("name"), sa.column("value"))
    subscriptions = sa.table(
        "subscriptions",
        sa.column("id"),
        sa.column("guild_id"),
        sa.column("last_digest_at", UtcDateTime),
        sa.column("last_digest_seq"),
    )
    deliveries = sa.table("deliveries", sa.column("subscription_id"), sa.column("guild_id"))

    server_urls = {row.url for row in bind.execute(sa.select(states.c.url).where(states.c.guild_id.is_not(None)))}
    guilds_by_origin: dict[str, set[int]] = {}
    for row in bind.execute(sa.select(guild_sources.c.url, guild_sources.c.guild_id)):
        guilds_by_origin.setdefault(row.url, set()).add(row.guild_id)

    by_story: dict[int, list[SourcedArticle]] = {}
    origin_rows = []
    for row in bind.execute(sa.select(articles).where(articles.c.story_id.is_not(None)).order_by(articles.c.id)):
        event = None
        if row.event_kind is not None and row.event_kind in EventKind.__members__.values():
            event = DetectedEvent(EventKind(row.event_kind), tuple(row.event_countries.split()))
        article = Article(
            url=row.url,
            title=row.title,
            summary=row.summary,
            outlet=row.outlet,
            published=row.published,
            first_seen=row.first_seen,
            source_url=row.source_url,
            countries=tuple(row.countries.split()),
            event=event,
            topics=tuple(json.loads(row.topics)),
            matched_terms=tuple(json.loads(row.matched_terms)),
        )
        origin = row.source_url if row.source_url in server_urls else OPERATOR
        by_story.setdefault(row.story_id, []).append(
            SourcedArticle(row.id, article, (Origin(origin, article.first_seen, 1),))
        )
        origin_rows.append({"article_id": row.id, "origin": origin, "seen_at": article.first_seen, "seq": 1})
    if origin_rows:
        bind.execute(origins.insert(), origin_rows)

    now = datetime.now(UTC)
    built = [
        (story_id, view)
        for story_id, sourced in by_story.items()
        for view in build_views(sourced, guilds_by_origin, max_age=_DEFAULT_MAX_AGE, now=now).values()
    ]
    # Change numbers in the order the views first held fresh news, so that "after the last digest" keeps its meaning.
    fresh_order = sorted({v.fresh_from for _, v in built if v.fresh_from is not None})
    number = {moment: n for n, moment in enumerate(fresh_order, start=1)}
    rows = []
    for story_id, view in built:
        facts = view.facts
        fresh_seq = number[view.fresh_from] if view.fresh_from is not None else None
        rows.append(
            {
                "story_id": story_id,
                "scope": view.scope,
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
                "article_ids": json.dumps(list(view.article_ids)),
                "own_only": view.own_only,
                "fresh_from": view.fresh_from,
                "fresh_seq": fresh_seq,
                "seq": fresh_seq or 1,
            }
        )
    if rows:
        bind.execute(views.insert(), rows)
    bind.execute(counters.insert().values(name="news", value=max(len(fresh_order), 1)))
    covered = bind.execute(
        sa.select(subscriptions.c.id, subscriptions.c.last_digest_at).where(subscriptions.c.last_digest_at.is_not(None))
    ).all()
    for sub in covered:
        reached = sum(1 for moment in fresh_order if moment <= sub.last_digest_at)
        bind.execute(sa.update(subscriptions).where(subscriptions.c.id == sub.id).values(last_digest_seq=reached))
    owner = sa.select(subscriptions.c.guild_id).where(subscriptions.c.id == deliveries.c.subscription_id)
    bind.execute(sa.update(deliveries).values(guild_id=owner.scalar_subquery()))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(op.f("uq_deliveries_dedup_key"), type_="unique")
        batch.drop_index(op.f("ix_deliveries_guild_id"))
        for column in (
            "also_ids",
            "retried",
            "claimed_until",
            "claimed_by",
            "next_try_at",
            "attempted_at",
            "attempts",
            "covers_until_seq",
            "dedup_key",
            "guild_id",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("guild_sources") as batch:
        batch.drop_column("announced_at")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("digest_slot")
        batch.drop_column("last_digest_seq")
    op.drop_table("counters")
    op.drop_table("story_views")
    op.drop_table("article_origins")
