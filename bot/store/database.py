"""Engine creation and migrations.

Operators write plain URLs (`sqlite:///data/x.db`, `postgresql://...`); the async drivers are chosen here so
that one code path serves both databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, select
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.locks import lock_key

MIGRATIONS = Path(__file__).with_name("migrations")

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(database_url: str) -> URL:
    """Map a plain database URL to its async driver; an explicit driver is kept."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if url.drivername == backend and backend in _ASYNC_DRIVERS:
        url = url.set(drivername=_ASYNC_DRIVERS[backend])
    return url


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine; a SQLite file's folder is created, and SQLite gets WAL and foreign keys."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    url, server_settings = _split_pg_options(url)
    return create_async_engine(url, pool_pre_ping=True, connect_args={"server_settings": server_settings})


def _split_pg_options(url: URL) -> tuple[URL, dict[str, str]]:
    """libpq's `?options=-csearch_path=x` is not understood by asyncpg: pass it as server settings."""
    options = url.query.get("options")
    if not options:
        return url, {}
    settings: dict[str, str] = {}
    for part in (options if isinstance(options, str) else " ".join(options)).split():
        key, _, value = part.removeprefix("-c").partition("=")
        if key and value:
            settings[key] = value
    return url.difference_update_query(["options"]), settings


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# One writer at a time per SQLite database in this process (see `transaction`), keyed by the engine.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()`, with SQLite's writers taking turns in the process.

    Why: SQLite lets one connection write at a time and makes the others wait in a busy loop, then fail with
    "database is locked" (a poll writing thousands of stories held it for seconds, and a delivery's mark or a
    command's write failed meanwhile). Waiting on an asyncio lock instead costs nothing while it waits, never
    fails, and a writer cancelled while it waits leaves no connection half-closed. One process serves a SQLite
    file (bot.store.locks); PostgreSQL needs no such turn."""
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            yield connection
        return
    lock = _SQLITE_WRITERS.setdefault(engine.sync_engine, asyncio.Lock())
    async with lock, engine.begin() as connection:
        yield connection


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` (all of them by default). On PostgreSQL, processes starting at
    once take turns (a transaction-scoped advisory lock, for this schema's tables: bot.store.locks.lock_key): the
    first migrates, the others find nothing to do."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(select(func.pg_advisory_xact_lock(lock_key("migrate"))))
        await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
