"""The poll lock on PostgreSQL: one poller per schema, whatever else shares the database."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.database import create_engine, migrate
from bot.store.locks import PollLock

pytestmark = pytest.mark.postgres


async def test_one_poller_per_schema_and_none_waits_for_another_schemas(schemas: list[str]) -> None:
    """Before: the advisory lock's key was one for the whole database, so a deployment in another schema never
    polled while this one ran, and said nothing."""
    engines: list[AsyncEngine] = [create_engine(url) for url in (schemas[0], schemas[0], schemas[1])]
    locks = [PollLock(engine) for engine in engines]
    try:
        for engine in engines[::2]:
            await migrate(engine)  # migrations take their turn per schema too: neither waits for the other
        first, second_of_same, other_schema = locks
        assert await first.held()
        assert not await second_of_same.held()  # same schema: one poller
        assert await other_schema.held()  # another schema: its own poller
        await first.release()
        assert await second_of_same.held()  # the lock passes on within the schema
    finally:
        for lock in locks:
            await lock.release()
        for engine in engines:
            await engine.dispose()
