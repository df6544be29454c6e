"""The outbox: recorded before sending, marked after; restarts finish what was begun; Discord's refusals."""

from __future__ import annotations

from datetime import timedelta

from bot.delivery.service import Delivery
from tests.delivery.conftest import GUILD, OTHER_GUILD, Clock, Stories, article


async def test_a_crash_between_begin_and_mark_sent_leaves_it_pending_with_its_nonce(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    story = await stories.add(article("a.example", seen=clock.now))
    (action,) = await delivery.plan_alerts(clock.now)
    record = await delivery.begin_alert(action)
    # the process dies here; at start the Discord side asks what is pending
    (pending,) = await delivery.pending()
    assert pending == record
    assert (pending.channel_id, pending.kind, pending.story_ids, pending.story_version) == (
        10,
        "alert",
        (story.id,),
        "1:joined",
    )
    assert 1 <= len(pending.nonce) <= 25
    assert await delivery.plan_alerts(clock.now) == []  # not planned a second time either
    assert await delivery.mark_sent(pending.id, 42, clock.now)
    assert await delivery.mark_sent(pending.id, 43, clock.now) is False  # a late duplicate confirmation
    assert await delivery.store.delivery_state(pending.id) == ("sent", 42)
    assert await delivery.pending() == []
    other = await delivery.begin(sub.id, "alert", [story.id], version="x")
    assert other.nonce != record.nonce


async def test_a_digest_interrupted_after_part_1_of_3_is_finished_not_restarted(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    ids = [
        (
            await stories.add(
                article(f"h{i}.example", f"Story {i}", seen=clock.now - timedelta(hours=i + 1), path=str(i))
            )
        ).id
        for i in range(6)
    ]
    plan = await delivery.plan_digest(sub.id, clock.now)
    assert len(plan.stories) == 6
    parts = [list(ids[0:2]), list(ids[2:4]), list(ids[4:6])]
    records = await delivery.begin_digest(plan, parts)
    assert [(r.part, r.parts) for r in records] == [(1, 3), (2, 3), (3, 3)]
    assert len({r.nonce for r in records}) == 3
    await delivery.mark_sent(records[0].id, 1, clock.now)
    # crash; restart
    clock.advance(minutes=5)
    (unfinished,) = await delivery.unfinished_digests()
    assert [r.nonce for r in unfinished.remaining] == [records[1].nonce, records[2].nonce]
    assert (unfinished.subscription_id, unfinished.parts) == (sub.id, 3)
    # a digest planned meanwhile (a schedule tick, /digest now) carries none of these stories again
    assert (await delivery.plan_digest(sub.id, clock.now)).stories == ()
    assert (await delivery.subscription(10)).last_digest_at is None  # type: ignore[union-attr]
    await delivery.mark_sent(records[1].id, 2, clock.now)
    assert (await delivery.subscription(10)).last_digest_at is None  # type: ignore[union-attr]
    await delivery.mark_sent(records[2].id, 3, clock.now)
    assert (await delivery.subscription(10)).last_digest_at == plan.until  # type: ignore[union-attr]
    assert await delivery.unfinished_digests() == []
    assert (await delivery.plan_digest(sub.id, clock.now)).stories == ()


async def test_a_failed_part_fails_the_rest_and_its_stories_come_back_in_the_next_digest(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    ids = [(await stories.add(article(f"h{i}.example", f"S{i}", seen=clock.now, path=str(i)))).id for i in range(3)]
    plan = await delivery.plan_digest(sub.id, clock.now)
    one, two, three = await delivery.begin_digest(plan, [[ids[0]], [ids[1]], [ids[2]]])
    await delivery.mark_sent(one.id, 1, clock.now)
    assert await delivery.mark_failed(two.id, "403 Missing Permissions")
    assert await delivery.store.delivery_state(three.id) == ("failed", None)
    assert await delivery.pending() == []
    assert {s.id for s in (await delivery.plan_digest(sub.id, clock.now)).stories} == {ids[1], ids[2]}


async def test_a_deleted_channel_and_a_removed_server(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="both")
    await delivery.subscribe(OTHER_GUILD, 20, mode="digest")
    await delivery.add_source(OTHER_GUILD, "https://feed.example/rss", "Feed")
    await delivery.add_topic(OTHER_GUILD, "gulf", "UAE")
    story = await stories.add(article("a.example", seen=clock.now))
    await delivery.begin(sub.id, "alert", [story.id], version="1:joined")
    assert await delivery.remove_channel(10)
    assert await delivery.subscription(10) is None
    assert await delivery.pending() == []
    assert await delivery.remove_channel(10) is False

    await delivery.guild_removed(OTHER_GUILD, clock.now)
    assert await delivery.all_active_subscriptions() == []
    assert await delivery.guild_sources() == []
    await delivery.guild_returned(OTHER_GUILD)
    assert [s.channel_id for s in await delivery.all_active_subscriptions()] == [20]

    await delivery.guild_removed(OTHER_GUILD, clock.now)
    assert await delivery.purge_removed_guilds(clock.now + timedelta(days=29)) == 0
    assert len(await delivery.subscriptions(OTHER_GUILD)) == 1
    assert await delivery.purge_removed_guilds(clock.now + timedelta(days=31)) == 1
    assert await delivery.subscriptions(OTHER_GUILD) == []
    assert await delivery.list_sources(OTHER_GUILD) == []
    assert await delivery.store.topics(OTHER_GUILD) == []


async def test_a_transient_refusal_keeps_the_record_pending_and_status_lists_it(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    await delivery.subscribe(OTHER_GUILD, 20, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    first, second = [await delivery.begin_alert(action) for action in await delivery.plan_alerts(clock.now)]
    mine = first if first.channel_id == 10 else second
    assert await delivery.note_retry(mine.id, "HTTP 503: Service Unavailable")
    (still,) = [p for p in await delivery.pending() if p.id == mine.id]
    assert (still.nonce, still.error) == (mine.nonce, "HTTP 503: Service Unavailable")
    assert await delivery.plan_alerts(clock.now) == []  # pending: never planned a second time

    (trouble,) = (await delivery.status(GUILD, clock.now)).undelivered
    assert (trouble.channel_id, trouble.kind, trouble.state) == (10, "alert", "retrying")
    assert (await delivery.status(OTHER_GUILD, clock.now)).undelivered == ()  # another server's trouble

    await delivery.mark_sent(mine.id, 99, clock.now)
    assert (await delivery.status(GUILD, clock.now)).undelivered == ()
    assert await delivery.note_retry(mine.id, "late") is False  # only pending records are retried


async def test_status_lists_recent_failures_but_not_those_of_a_pause(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    story = await stories.add(article("a.example", seen=clock.now))
    refused = await delivery.begin(sub.id, "alert", [story.id], version="v1")
    await delivery.mark_failed(refused.id, "HTTP 400: Invalid Form Body")
    paused = await delivery.begin(sub.id, "alert", [story.id], version="v2")
    await delivery.pause(sub.id, "Missing Send Messages in #news", clock.now)
    assert await delivery.store.delivery_state(paused.id) == ("failed", None)

    (trouble,) = (await delivery.status(GUILD, clock.now)).undelivered
    assert (trouble.state, trouble.error) == ("failed", "HTTP 400: Invalid Form Body")
    clock.advance(days=8)
    assert (await delivery.status(GUILD, clock.now)).undelivered == ()  # a week on, no longer news
