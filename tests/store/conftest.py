"""Store test fixtures: two schemas of one PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.database import async_url
from tests.conftest import _postgres_or_skip


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
