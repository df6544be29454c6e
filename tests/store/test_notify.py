"""News notifications on PostgreSQL: heard by the listeners of the same schema only."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.database import create_engine, transaction
from bot.store.notify import NewsListener, notify_news

pytestmark = pytest.mark.postgres


async def test_news_wakes_the_listeners_of_its_own_schema_only(schemas: list[str]) -> None:
    """Before: one channel for the whole database, so a deployment in another schema woke this one's delivery on
    each of its polls (a round that planned and found nothing)."""
    engines = [create_engine(url) for url in schemas]
    heard: list[list[int]] = [[], []]
    listeners = [NewsListener(engine, lambda n=n: heard[n].append(1), retry=0.1) for n, engine in enumerate(engines)]
    try:
        for listener in listeners:
            listener.start()
        for listener in listeners:
            async with asyncio.timeout(10):
                await listener.listening.wait()
        async with transaction(engines[0]) as connection:
            await notify_news(connection, 1)
        async with asyncio.timeout(5):
            while not heard[0]:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # the other schema's listener would have heard it by now
        assert heard == [[1], []]
    finally:
        for listener in listeners:
            await listener.stop()
        for engine in engines:
            await engine.dispose()
