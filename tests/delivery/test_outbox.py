"""The outbox: planned durably and once, claimed by one sender, marked after; restarts finish what was begun."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.delivery.service import Delivery
from bot.delivery.values import ALERTS_PER_ROUND
from tests.delivery.conftest import GUILD, OTHER_GUILD, Clock, Stories, article

LEASE = timedelta(minutes=2)


async def test_planned_alerts_are_recorded_once_and_stay_owed_until_sent(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    story = await stories.add(article("a.example", seen=clock.now))
    (record,) = await delivery.record_alerts(clock.now)
    # the process dies here: what is owed is in the database, planned once however often planning runs
    assert await delivery.record_alerts(clock.now) == []
    assert await delivery.plan_alerts(clock.now) == []
    (pending,) = await delivery.pending()
    assert pending == record
    assert (pending.channel_id, pending.guild_id, pending.kind, pending.story_ids, pending.story_version) == (
        10,
        GUILD,
        "alert",
        (story.id,),
        "1:joined",
    )
    assert 1 <= len(pending.nonce) <= 25
    assert await delivery.mark_sent(pending.id, 42, clock.now)
    assert await delivery.mark_sent(pending.id, 43, clock.now) is False  # a late duplicate confirmation
    assert await delivery.store.delivery_state(pending.id) == ("sent", 42)
    assert await delivery.pending() == []
    assert await delivery.record_alerts(clock.now) == []


async def test_a_row_is_claimed_by_one_sender_until_its_lease_ends(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    (record,) = await delivery.record_alerts(clock.now)
    (mine,) = await delivery.claim("one", clock.now, LEASE)
    assert mine.id == record.id
    assert await delivery.claim("two", clock.now, LEASE) == []  # a second process gets nothing
    clock.advance(minutes=3)  # the first died holding it
    (taken,) = await delivery.claim("two", clock.now, LEASE)
    assert taken.id == record.id
    await delivery.release([taken.id])
    assert [r.id for r in await delivery.claim("one", clock.now, LEASE)] == [record.id]
    assert await delivery.claim("three", clock.now, LEASE, guilds=lambda guild_id: guild_id != GUILD) == []


async def test_a_renewed_claim_outlives_its_first_lease_and_a_busy_channel_is_not_claimed(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    """A channel's rows sent one by one under its rate limit can take longer than a lease: the sender renews its
    claim, so no other process takes the rows meanwhile; and the sender itself claims nothing more for a channel
    it is still sending to, even past a lapsed claim."""
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    await delivery.subscribe(GUILD, 11, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    recorded = await delivery.record_alerts(clock.now)
    assert sorted(r.channel_id for r in recorded) == [10, 11]
    (other,) = await delivery.claim("one", clock.now, LEASE, busy={10})
    assert other.channel_id == 11
    assert await delivery.mark_sent(other.id, 42, clock.now)
    (mine,) = await delivery.claim("one", clock.now, LEASE)
    assert mine.channel_id == 10
    clock.advance(minutes=1)
    await delivery.renew([mine.id], "one", clock.now, LEASE)
    await delivery.renew([mine.id], "two", clock.now + LEASE, LEASE)  # only the holder renews
    clock.advance(minutes=1, seconds=30)  # past the first lease, within the renewed one
    assert await delivery.claim("two", clock.now, LEASE) == []
    clock.advance(minutes=1)  # the renewed lease lapsed too: the holder died
    assert [r.id for r in await delivery.claim("one", clock.now, LEASE, busy={10})] == []  # not twice by one
    (taken,) = await delivery.claim("two", clock.now, LEASE)
    assert taken.id == mine.id


async def test_a_message_sent_while_alerts_are_planned_is_not_planned_again(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    """Sends go on while the next round plans: a summary marked sent between planning's two reads (what is on its
    way, what was posted) was in neither, and was planned and posted a second time."""
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    for n in range(ALERTS_PER_ROUND + 2):
        await stories.add(article(f"s{n}.example", title=f"Story number {n}", seen=clock.now, path=f"s{n}"))
    recorded = await delivery.record_alerts(clock.now)
    [summary] = [row for row in recorded if row.kind == "summary"]
    for row in await delivery.claim("one", clock.now, LEASE):
        if row.id != summary.id:
            assert await delivery.mark_sent(row.id, row.id + 100, clock.now)
    store = delivery.store
    reads = {"open": store.open_alerts, "sent": store.alerts_sent}
    done: list[str] = []

    def read_then_send(name: str) -> Any:
        async def read(*args: Any) -> Any:
            found = await reads[name](*args)
            if not done:  # the summary goes out right after planning's first read
                done.append(name)
                assert await delivery.mark_sent(summary.id, 999, clock.now)
            return found

        return read

    store.open_alerts = read_then_send("open")  # type: ignore[method-assign]
    store.alerts_sent = read_then_send("sent")  # type: ignore[method-assign]
    assert await delivery.record_alerts(clock.now) == []
    assert done  # the send did fall between the reads


async def test_a_retry_waits_its_turn_and_is_tried_first_after_the_nonce_window(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    (record,) = await delivery.record_alerts(clock.now)
    (claimed,) = await delivery.claim("one", clock.now, LEASE)
    await delivery.mark_attempt(claimed.id, clock.now)
    assert await delivery.note_retry(claimed.id, "HTTP 503: Service Unavailable", clock.now + timedelta(seconds=30))
    assert await delivery.claim("one", clock.now, LEASE) == []  # not before its time
    clock.advance(seconds=31)
    (again,) = await delivery.claim("one", clock.now, LEASE)
    assert (again.nonce, again.attempts, again.attempted_at) == (record.nonce, 1, clock.now - timedelta(seconds=31))
    await delivery.mark_attempt(again.id, clock.now)  # the first try's time is kept
    (pending,) = await delivery.pending()
    assert (pending.attempts, pending.attempted_at) == (2, clock.now - timedelta(seconds=31))


async def test_a_flood_is_capped_per_channel_and_the_rest_listed_in_one_summary(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    ids = [
        (await stories.add(article(f"h{i}.example", f"Story {i}", seen=clock.now, path=f"s{i}"))).id
        for i in range(ALERTS_PER_ROUND + 7)
    ]
    records = await delivery.record_alerts(clock.now)
    alerts = [r for r in records if r.kind == "alert"]
    (summary,) = [r for r in records if r.kind == "summary"]
    assert len(alerts) == ALERTS_PER_ROUND
    assert sorted([*(r.story_ids[0] for r in alerts), *summary.story_ids]) == sorted(ids)
    assert await delivery.record_alerts(clock.now) == []  # the summarised stories are owed no alert of their own
    await delivery.mark_sent(summary.id, 77, clock.now)
    assert await delivery.record_alerts(clock.now) == []
    sent = await delivery.store.alerts_sent([sub.id])
    assert {story_id for (_, story_id) in sent} == set(summary.story_ids)  # no edits for a summary either


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
    records = await delivery.record_digest(plan, parts)
    assert records is not None
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
    assert (await delivery.subscription(10)).last_digest_seq is None  # type: ignore[union-attr]
    await delivery.mark_sent(records[1].id, 2, clock.now)
    assert (await delivery.subscription(10)).last_digest_seq is None  # type: ignore[union-attr]
    await delivery.mark_sent(records[2].id, 3, clock.now)
    done = await delivery.subscription(10)
    assert done is not None
    assert (done.last_digest_at, done.last_digest_seq) == (plan.until, plan.until_seq)
    assert await delivery.unfinished_digests() == []
    assert (await delivery.plan_digest(sub.id, clock.now)).stories == ()


async def test_a_scheduled_digest_run_is_claimed_once_by_its_slot(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    """Two processes firing the same job (a rolling deploy) record one digest."""
    sub = await delivery.subscribe(GUILD, 10, mode="digest", schedule="daily 09:00")
    await stories.add(article("a.example", seen=clock.now - timedelta(hours=1)))
    slot = delivery.digest_slot(sub, clock.now)
    assert slot is not None
    first = await delivery.plan_digest(sub.id, clock.now)
    second = await delivery.plan_digest(sub.id, clock.now)
    recorded = await delivery.record_digest(first, [[s.id for s in first.stories]], slot=slot)
    assert recorded is not None
    assert len(recorded) == 1
    assert await delivery.record_digest(second, [[s.id for s in second.stories]], slot=slot) is None
    assert len(await delivery.pending()) == 1
    clock.advance(days=1)
    next_slot = delivery.digest_slot(sub, clock.now)
    assert next_slot == slot + timedelta(days=1)
    assert await delivery.record_digest(await delivery.plan_digest(sub.id, clock.now), [], slot=next_slot) == []


async def test_a_failed_part_fails_the_rest_and_its_stories_come_back_in_the_next_digest(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="digest")
    ids = [(await stories.add(article(f"h{i}.example", f"S{i}", seen=clock.now, path=str(i)))).id for i in range(3)]
    plan = await delivery.plan_digest(sub.id, clock.now)
    recorded = await delivery.record_digest(plan, [[ids[0]], [ids[1]], [ids[2]]])
    assert recorded is not None
    one, two, three = recorded
    await delivery.mark_sent(one.id, 1, clock.now)
    assert await delivery.mark_failed(two.id, "HTTP 400: Invalid Form Body")
    assert await delivery.store.delivery_state(three.id) == ("failed", None)
    assert await delivery.pending() == []
    assert {s.id for s in (await delivery.plan_digest(sub.id, clock.now)).stories} == {ids[1], ids[2]}


async def test_a_deleted_channel_and_a_removed_server(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    await delivery.subscribe(GUILD, 10, mode="both", min_importance=0)
    await delivery.subscribe(OTHER_GUILD, 20, mode="digest")
    await delivery.add_source(OTHER_GUILD, "https://feed.example/rss", "Feed")
    await delivery.add_topic(OTHER_GUILD, "gulf", "UAE")
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    assert len(await delivery.record_alerts(clock.now)) == 1
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
    first, second = await delivery.record_alerts(clock.now)
    mine = first if first.channel_id == 10 else second
    assert await delivery.note_retry(mine.id, "HTTP 503: Service Unavailable", clock.now)
    (still,) = [p for p in await delivery.pending() if p.id == mine.id]
    assert (still.nonce, still.error) == (mine.nonce, "HTTP 503: Service Unavailable")
    assert await delivery.plan_alerts(clock.now) == []  # pending: never planned a second time

    (trouble,) = (await delivery.status(GUILD, clock.now)).undelivered
    assert (trouble.channel_id, trouble.kind, trouble.state) == (10, "alert", "retrying")
    assert (await delivery.status(OTHER_GUILD, clock.now)).undelivered == ()  # another server's trouble

    await delivery.mark_sent(mine.id, 99, clock.now)
    assert (await delivery.status(GUILD, clock.now)).undelivered == ()
    assert await delivery.note_retry(mine.id, "late", clock.now) is False  # only pending records are retried


async def test_a_pause_fails_what_waits_and_a_new_subscribe_retries_it_once(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    sub = await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    (record,) = await delivery.record_alerts(clock.now)
    assert await delivery.pause(sub.id, "Missing Send Messages in #news", clock.now)
    assert await delivery.pause(sub.id, "Missing Send Messages in #news", clock.now) is False  # paused once
    assert await delivery.store.delivery_state(record.id) == ("failed", None)
    assert (await delivery.status(GUILD, clock.now)).undelivered == ()  # the pause is listed on its own
    assert await delivery.plan_alerts(clock.now) == []

    # the admin fixes the permission and subscribes again: the failed alert is owed again, once
    clock.advance(hours=1)
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    (again,) = await delivery.pending()
    assert (again.id, again.nonce) == (record.id, record.nonce)
    await delivery.mark_failed(again.id, "HTTP 403: Missing Access")
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    assert await delivery.pending() == []  # retried once only


async def test_old_failures_leave_status_after_a_day(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    await stories.add(article("a.example", seen=clock.now))
    (refused,) = await delivery.record_alerts(clock.now)
    await delivery.mark_failed(refused.id, "HTTP 400: Invalid Form Body")
    (trouble,) = (await delivery.status(GUILD, clock.now)).undelivered
    assert (trouble.state, trouble.error) == ("failed", "HTTP 400: Invalid Form Body")
    clock.advance(hours=25)
    assert (await delivery.status(GUILD, clock.now)).undelivered == ()
