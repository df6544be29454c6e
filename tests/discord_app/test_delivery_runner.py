"""The delivery runner's sending half on its own (a real outbox, no Discord): claims held while a channel sends."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from bot.delivery.service import Delivery
from bot.discord_app.delivery_runner import LEASE, DeliveryRunner, Outcome, _StoryReads
from bot.health import Metrics
from bot.scheduling import Scheduler
from tests.delivery.conftest import GUILD, Clock, Stories, article, clock, delivery, news, stories

__all__ = ["clock", "delivery", "news", "stories"]  # the delivery tests' fixtures, used here too


async def test_a_channel_that_sends_for_longer_than_a_lease_keeps_its_claims(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    """Each message of a busy channel can wait seconds for its rate limit: a hundred of them outlast a lease.
    Before, the claims of the rows not sent yet lapsed, and another process could take and send them too."""
    await delivery.subscribe(GUILD, 10, mode="alerts", min_importance=0)
    clock.advance(minutes=1)
    for host in ("a.example", "b.example", "c.example"):
        await stories.add(article(host, seen=clock.now, title=f"Story from {host}"))
    await delivery.record_alerts(clock.now)
    claimed_at = clock.now
    rows = await delivery.claim("me", clock.now, LEASE)
    assert len(rows) == 3
    bot = cast(Any, SimpleNamespace(services=SimpleNamespace(metrics=Metrics())))
    runner = DeliveryRunner(bot, delivery, cast(Scheduler, None), clock, owner="me")
    runner.renew_after = 0.0  # renew before each message (in production a third of a lease)
    others: list[int] = []

    async def deliver(row: Any, reads: Any) -> Outcome:
        clock.advance(seconds=LEASE.total_seconds() * 0.75)  # each message takes most of a lease
        others.extend(r.id for r in await delivery.claim("another process", clock.now, LEASE))
        assert await delivery.mark_sent(row.id, row.id + 100, clock.now)
        return Outcome.SENT

    runner._deliver = deliver  # type: ignore[method-assign]
    assert await runner._send_channel(rows, _StoryReads(delivery)) == 3
    assert others == []  # nothing was taken from under it
    assert await delivery.pending() == []
    assert clock.now - claimed_at > LEASE  # it did outlast the first lease


async def test_a_stop_while_it_starts_leaves_no_dispatcher_running(clock: Clock) -> None:
    """The bot can close while its first `on_ready` is still starting the runner (a test, or a stop signal, right
    after login). The stop found no dispatcher yet and returned; the start then made one, which nothing stopped:
    it went on reading the database after the engine was disposed, its connection opened on a closed loop."""
    released = asyncio.Event()

    async def release_claims(owner: str | None) -> None:
        await released.wait()  # the start is here when the stop comes

    async def all_active_subscriptions() -> list[Any]:
        return []

    delivery = cast(
        Delivery,
        SimpleNamespace(
            store=SimpleNamespace(release_claims=release_claims), all_active_subscriptions=all_active_subscriptions
        ),
    )
    never = asyncio.Event()
    bot = cast(Any, SimpleNamespace(services=SimpleNamespace(metrics=Metrics()), wait_until_ready=never.wait))
    runner = DeliveryRunner(bot, delivery, cast(Scheduler, None), clock, owner="me")
    starting = asyncio.create_task(runner.start())
    await asyncio.sleep(0)
    await runner.stop()
    released.set()
    await starting
    assert runner._task is None
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "delivery-dispatcher"]
