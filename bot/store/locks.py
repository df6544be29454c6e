"""Who may do what when several processes share one database.

- On SQLite one process only: a second process on the same file would poll and post too (both would send every
  message), so the first holds an exclusive lock on a file beside the database and a second is refused at start.
- On PostgreSQL only one process polls at a time: a session advisory lock, held on a connection of its own for as
  long as the process polls. When that process dies its connection closes and PostgreSQL releases the lock; a
  waiting worker takes it at its next tick.

Advisory locks belong to the whole database, not to a schema: the key names the schema the bot's tables are in
(`lock_key`), so that two deployments (or two test runs) in different schemas of one database never wait for
each other. Before, a second one never polled while the first ran, and said nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import TextClause, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)


# The schema the bot's tables are in, as PostgreSQL names it: what every lock key and notification channel is
# derived from (in SQL, on the connection that takes it, so nothing is read first or kept).
SCHEMA = "coalesce(current_schema(), '')"


def lock_key(name: str) -> TextClause:
    """SQL for the advisory lock key of `name` (the poll, migrations) for this schema's tables (a 64-bit hash)."""
    return text(f"hashtextextended('accordwatch:{name}:' || {SCHEMA}, 0)")


class DatabaseInUse(Exception):
    """Another process already runs on this SQLite file."""


class SingleProcess:
    """An exclusive lock on `<database>.lock` while the process runs (POSIX; elsewhere nothing is checked)."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.path = Path(f"{url.database}.lock") if url.database and url.database != ":memory:" else None
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        try:
            import fcntl
        except ImportError:  # Windows: no flock; one process is the operator's to ensure
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise DatabaseInUse(str(self.path)) from None
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class PollLock:
    """The right to poll: always held on SQLite (one process); on PostgreSQL an advisory lock (see the module)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def shared(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def held(self) -> bool:
        """Whether this process may poll now; takes the lock when it is free."""
        if not self.shared:
            return True
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                return True
            except (DBAPIError, SQLAlchemyError, OSError):
                log.warning("lost the database connection that held the poll lock; taking it again")
                await self._drop()
        connection = await self._engine.connect()
        try:
            taken = bool(await connection.scalar(select(func.pg_try_advisory_lock(lock_key("poll")))))
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        log.info("this process polls the sources (it holds the poll lock)")
        return True

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(DBAPIError, SQLAlchemyError, OSError):
                await connection.close()

    async def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError, SQLAlchemyError, OSError):
                await self._connection.execute(select(func.pg_advisory_unlock(lock_key("poll"))))
            await self._drop()
