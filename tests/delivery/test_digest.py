"""Digest planning: the period, ranking, topics and old news."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.service import Delivery
from bot.news.models import EventKind
from bot.store.news import NewsStore
from tests.delivery.conftest import GUILD, Clock, Stories, article


async def test_the_first_digest_covers_the_24_hours_before_it_then_each_since_the_last(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    await stories.add(article("a.example", seen=clock.now - timedelta(hours=25), path="too-old"))
    inside = await stories.add(
        article("b.example", "Morocco and Israel sign deal", seen=clock.now - timedelta(hours=23))
    )
    plan = await delivery.plan_digest(sub.id, clock.now)
    assert [s.id for s in plan.stories] == [inside.id]
    assert (plan.since, plan.until) == (clock.now - timedelta(hours=24), clock.now)

    (record,) = await delivery.record_digest(plan, [[inside.id]]) or []
    assert await delivery.mark_sent(record.id, 555, clock.now)
    assert (await delivery.plan_digest(sub.id, clock.now)).stories == ()  # a second /digest now: nothing new

    clock.advance(hours=6)
    later = await stories.add(article("c.example", "Sudan talks resume", seen=clock.now - timedelta(hours=1)))
    plan = await delivery.plan_digest(sub.id, clock.now)
    assert [s.id for s in plan.stories] == [later.id]
    assert plan.since == record.covers_until


async def test_nothing_new_is_an_empty_plan_that_still_closes_the_period(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    plan = await delivery.plan_digest(sub.id, clock.now)
    assert plan.stories == ()
    assert await delivery.record_digest(plan, []) == []
    covered = await delivery.subscription(10)
    assert covered is not None
    assert (covered.last_digest_at, covered.last_digest_seq) == (clock.now, plan.until_seq)


async def test_stories_are_ranked_by_importance_then_recency(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    now = clock.now
    talks = await stories.add(
        article("a.example", "Talks", seen=now - timedelta(hours=3), kind=EventKind.TALKS, path="t")
    )
    joined_old = await stories.add(article("b.example", "Joined", seen=now - timedelta(hours=5), path="j1"))
    joined_new = await stories.add(article("c.example", "Joined too", seen=now - timedelta(hours=2), path="j2"))
    two = await stories.add(
        article("d.example", "Signed", seen=now - timedelta(hours=8), path="s"),
        article("e.example", "Signed", seen=now - timedelta(hours=8), path="s"),
    )
    assert [s.score for s in (two, joined_new, joined_old, talks)] == [6.0, 3.0, 3.0, 1.5]
    plan = await delivery.plan_digest(sub.id, now)
    assert [s.id for s in plan.stories] == [two.id, joined_new.id, joined_old.id, talks.id]


async def test_a_subscription_receives_only_its_topics(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    await delivery.add_topic(GUILD, "gulf", "UAE")
    only_gulf = await delivery.subscribe(GUILD, 10, mode="digest", topics=["gulf"])
    everything = await delivery.subscribe(GUILD, 11, mode="digest")
    accords = await stories.add(article("a.example", seen=clock.now - timedelta(hours=1), path="1"))
    gulf = await stories.add(
        article("b.example", "UAE news", seen=clock.now - timedelta(hours=1), path="2", topics=[f"{GUILD}:gulf"])
    )
    await stories.add(article("c.example", "x", seen=clock.now - timedelta(hours=1), path="3", topics=["999:gulf"]))
    assert [s.id for s in (await delivery.plan_digest(only_gulf.id, clock.now)).stories] == [gulf.id]
    assert {s.id for s in (await delivery.plan_digest(everything.id, clock.now)).stories} == {accords.id, gulf.id}


async def test_old_news_is_never_delivered(
    engine: AsyncEngine, news: NewsStore, delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="both", min_importance=0)
    seen = clock.now  # seen after subscribing: alerts too
    archive = await stories.add(article("a.example", seen=seen, published=seen - timedelta(hours=73), path="old"))
    fresh = await stories.add(
        article("b.example", "Morocco deal", seen=seen, published=seen - timedelta(hours=71), path="new")
    )
    assert [s.id for s in (await delivery.plan_digest(sub.id, clock.now)).stories] == [fresh.id]
    assert [a.story.id for a in await delivery.plan_alerts(clock.now)] == [fresh.id]

    # an old story that later gets a fresh article counts from that article
    clock.advance(hours=1)
    grown = await stories.grow(archive, article("c.example", seen=clock.now, path="old2"))
    assert {s.id for s in (await delivery.plan_digest(sub.id, clock.now)).stories} == {fresh.id, grown.id}

    only_old = await stories.add(
        article("d.example", "Bahrain", seen=seen, published=seen - timedelta(days=30), path="older")
    )
    assert only_old.id not in {s.id for s in (await delivery.plan_digest(sub.id, clock.now)).stories}
    # MAX_ARTICLE_AGE=0 turns the check off
    unchecked = Stories(NewsStore(engine, max_article_age=None))
    counted = await unchecked.add(
        article("e.example", "Oman", seen=seen, published=seen - timedelta(days=30), path="oldest")
    )
    assert counted.id in {s.id for s in (await delivery.plan_digest(sub.id, clock.now)).stories}


async def test_a_digest_that_runs_while_a_poll_writes_skips_nothing(
    delivery: Delivery, news: NewsStore, stories: Stories, clock: Clock
) -> None:
    """Stories count by change number, not time: a poll that started before a digest and saves after it has
    its stories in the next digest (before, they took the poll's start as their time and were skipped forever)."""
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    poll_started = clock.now
    clock.advance(minutes=10)  # a slow poll: the digest runs before it writes
    plan = await delivery.plan_digest(sub.id, clock.now)
    assert await delivery.record_digest(plan, []) == []
    clock.advance(minutes=1)
    slow = await stories.add(article("a.example", seen=poll_started), now=clock.now)
    next_plan = await delivery.plan_digest(sub.id, clock.now + timedelta(hours=24))
    assert [s.id for s in next_plan.stories] == [slow.id]


async def test_a_both_channel_lists_its_alerted_stories_in_one_line_not_again_in_full(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="both", min_importance=0)
    clock.advance(minutes=1)
    alerted = await stories.add(article("a.example", seen=clock.now, path="a"))
    (alert,) = await delivery.record_alerts(clock.now)
    await delivery.mark_sent(alert.id, 1, clock.now)
    quiet = await stories.add(article("b.example", "Oman talks", seen=clock.now, kind=EventKind.TALKS, path="b"))
    plan = await delivery.plan_digest(sub.id, clock.now)
    assert [s.id for s in plan.stories] == [quiet.id]
    assert [s.id for s in plan.alerted] == [alerted.id]
