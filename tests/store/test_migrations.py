from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import schema
from bot.store.database import create_engine, current_revision, migrate


async def test_migrations_apply_and_match_the_schema(engine: AsyncEngine) -> None:
    assert await current_revision(engine) is not None
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), schema.metadata)
        )
    assert diff == []


async def test_migrating_twice_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        first = await current_revision(engine)
        await migrate(engine)
        assert await current_revision(engine) == first
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "guilds" in tables
    finally:
        await engine.dispose()


async def test_times_come_back_aware_utc(engine: AsyncEngine) -> None:
    joined = datetime(2025, 11, 6, 18, 30, tzinfo=UTC)
    async with engine.begin() as connection:
        await connection.execute(insert(schema.guilds).values(id=1, name="g", joined_at=joined))
        row = (await connection.execute(select(schema.guilds.c.joined_at))).one()
    assert row.joined_at == joined
    assert row.joined_at.tzinfo is not None


async def test_naive_times_are_refused(engine: AsyncEngine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with engine.begin() as connection:
            await connection.execute(
                insert(schema.guilds).values(id=2, name="g", joined_at=datetime(2025, 1, 1))  # noqa: DTZ001
            )
