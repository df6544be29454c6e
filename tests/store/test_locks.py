"""The poll lock on PostgreSQL: one poller per schema, whatever else shares the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.store.database import async_url, create_engine, migrate
from bot.store.locks import PollLock
from tests.conftest import _postgres_or_skip

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schemas() -> AsyncIterator[list[str]]:
    """Two URLs of one PostgreSQL database, each with its own empty schema (as two deployments, or two test runs)."""
    base = _postgres_or_skip()
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_async_engine(async_url(base))
    async with admin.begin() as connection:
        for name in names:
            await connection.execute(text(f'CREATE SCHEMA "{name}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield [f"{base}{separator}options=-csearch_path%3D{name}" for name in names]
    finally:
        async with admin.begin() as connection:
            for name in names:
                await connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        await admin.dispose()


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
