"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

# The tests read and patch the Python sources: a compiled build (bot.native) is tested on its own, in
# tests/test_native.py, and by `ACCORD_NATIVE=require pytest tests/news`.
os.environ.setdefault("ACCORD_NATIVE", "off")

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.store.database import async_url, create_engine, migrate

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


def _postgres_or_skip() -> str:
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A plain database URL of an empty database: a SQLite file, or a fresh PostgreSQL schema.

    Each PostgreSQL test gets its own schema (named in the URL's search_path option) so that runs and
    tests never see each other's tables.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    async with postgres_schema(_postgres_or_skip()) as url:
        yield url


@contextlib.asynccontextmanager
async def postgres_schema(base: str) -> AsyncIterator[str]:
    """The URL of a fresh schema of the PostgreSQL database at `base` (named in the URL's search_path option),
    dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(async_url(base))
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on each database (SQLite, and PostgreSQL when configured)."""
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
