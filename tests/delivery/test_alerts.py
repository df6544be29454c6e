"""Alert planning: the default threshold, once per channel, edits, quiet hours, pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.delivery.service import Delivery
from bot.delivery.values import DEFAULT_ALERT_THRESHOLD
from bot.news.models import EventKind
from tests.delivery.conftest import GUILD, Clock, Stories, article


async def test_the_default_threshold_takes_two_outlets_not_one(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    await delivery.subscribe(GUILD, 10, mode="alerts")
    clock.advance(minutes=1)
    single = await stories.add(article("a.example", seen=clock.now, path="1"))
    statement = await stories.add(
        *(
            article(f"s{i}.example", "Minister comments", seen=clock.now, kind=EventKind.STATEMENT, path="st")
            for i in range(4)
        )
    )
    confirmed = await stories.add(
        article("b.example", "Sudan suspends ties", seen=clock.now, kind=EventKind.SUSPENSION, country="SD", path="2"),
        article("c.example", "Sudan suspends ties", seen=clock.now, kind=EventKind.SUSPENSION, country="SD", path="2"),
    )
    assert single.score < DEFAULT_ALERT_THRESHOLD <= confirmed.score
    assert statement.score < DEFAULT_ALERT_THRESHOLD
    actions = await delivery.plan_alerts(clock.now)
    assert [(a.action, a.story.id, a.version) for a in actions] == [("send", confirmed.id, "2:suspension")]


async def test_an_alert_goes_out_once_per_channel_and_is_edited_when_outlets_grow(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    first = await delivery.subscribe(GUILD, 10, mode="alerts", role_id=5)
    second = await delivery.subscribe(GUILD, 11, mode="both")
    clock.advance(minutes=1)
    story = await stories.add(
        article("a.example", seen=clock.now, path="k"), article("b.example", seen=clock.now, path="k")
    )
    actions = await delivery.plan_alerts(clock.now)
    assert [(a.action, a.subscription.id) for a in actions] == [("send", first.id), ("send", second.id)]
    records = await delivery.record_alerts(clock.now)
    assert [(r.kind, r.subscription_id) for r in records] == [("alert", first.id), ("alert", second.id)]
    # recorded but not yet sent: not planned twice
    assert await delivery.plan_alerts(clock.now) == []
    for message_id, record in enumerate(records, start=900):
        assert await delivery.mark_sent(record.id, message_id, clock.now)
    assert await delivery.plan_alerts(clock.now) == []

    clock.advance(hours=1)
    grown = await stories.grow(story, article("c.example", seen=clock.now, path="k"))
    edits = await delivery.plan_alerts(clock.now)
    assert [(a.action, a.subscription.id, a.message_id, a.version) for a in edits] == [
        ("edit", first.id, 900, "3:joined"),
        ("edit", second.id, 901, "3:joined"),
    ]
    assert edits[0].story.id == grown.id
    edit, other = await delivery.record_alerts(clock.now)
    assert (edit.kind, edit.message_id, edit.story_version) == ("edit", 900, "3:joined")
    await delivery.mark_sent(edit.id, 900, clock.now)
    assert await delivery.plan_alerts(clock.now) == []  # the other edit is on its way
    assert [p.id for p in await delivery.pending()] == [other.id]


async def test_quiet_hours_hold_new_alerts_until_they_end(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    clock.now = datetime(2025, 11, 6, 21, 0, tzinfo=UTC)  # 23:00 in Jerusalem (UTC+2)
    await delivery.subscribe(GUILD, 10, mode="alerts", timezone="Asia/Jerusalem", quiet_hours="22:00-07:00")
    story = await stories.add(
        article("a.example", seen=clock.now, path="k"), article("b.example", seen=clock.now, path="k")
    )
    assert await delivery.plan_alerts(clock.now) == []
    assert await delivery.plan_alerts(datetime(2025, 11, 7, 4, 59, tzinfo=UTC)) == []
    (action,) = await delivery.plan_alerts(datetime(2025, 11, 7, 5, 0, tzinfo=UTC))
    assert action.story.id == story.id


async def test_paused_and_earlier_stories_get_no_alerts_and_a_new_subscribe_owes_them_again(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    await stories.add(
        article("x.example", seen=clock.now, path="before"), article("y.example", seen=clock.now, path="before")
    )
    clock.advance(minutes=1)
    sub = await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=1)
    assert await delivery.plan_alerts(clock.now) == []  # seen before the channel subscribed
    clock.advance(minutes=1)
    story = await stories.add(article("a.example", seen=clock.now, path="k"))
    (record,) = await delivery.record_alerts(clock.now)
    assert await delivery.pause(sub.id, "missing permission: Embed Links", clock.now)
    assert await delivery.pending() == []  # its record failed with the pause
    assert await delivery.mark_sent(record.id, 1, clock.now) is False
    assert await delivery.plan_alerts(clock.now) == []
    paused = await delivery.subscription(10)
    assert paused is not None
    assert paused.paused_reason == "missing permission: Embed Links"
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=1)  # the admin fixed it: resumed
    (again,) = await delivery.pending()
    assert (again.id, again.story_ids) == (record.id, (story.id,))
    await delivery.mark_failed(again.id, "HTTP 400")
    assert await delivery.plan_alerts(clock.now + timedelta(hours=49)) == []  # past the lookback
