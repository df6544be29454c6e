"""News saved in one process wakes the delivery of the others at once: PostgreSQL's LISTEN/NOTIFY.

The poller notifies the channel of its schema (`notify_news`) in the transaction that writes the news (PostgreSQL
delivers it at commit, so a listener never hears of news it cannot read yet); each gateway listens on a connection
of its own and runs a delivery round when it hears. Delivery also runs every few seconds regardless, so a lost
notification (a dropped connection) only delays, never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.aio import cancel
from bot.store.locks import SCHEMA

log = logging.getLogger(__name__)

# The channel's name, derived by PostgreSQL from the schema of the bot's tables: channels belong to the whole
# database, and a deployment in another schema of it must not wake this one's delivery (as bot.store.locks).
_CHANNEL = f"'accord_watch_news_' || left(md5({SCHEMA}), 16)"


async def notify_news(connection: AsyncConnection, seq: int) -> None:
    """Within a writing transaction: tell the listeners, at commit, that news up to change `seq` is stored."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f"SELECT pg_notify({_CHANNEL}, :payload)"), {"payload": str(seq)})


async def news_channel(connection: AsyncConnection) -> str:
    """The channel `notify_news` notifies on this connection's schema."""
    return str(await connection.scalar(text(f"SELECT {_CHANNEL}")))


class NewsListener:
    """Calls `on_news()` each time a NOTIFY arrives; reconnects when its connection drops (PostgreSQL only)."""

    def __init__(self, engine: AsyncEngine, on_news: Callable[[], None], *, retry: float = 5.0) -> None:
        self._engine = engine
        self._on_news = on_news
        self._retry = retry
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        if self._engine.dialect.name == "postgresql" and self._task is None:
            self._task = asyncio.create_task(self._run(), name="news-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    def _heard(self, *_: Any) -> None:
        self._on_news()

    async def _run(self) -> None:
        while True:
            try:
                async with self._engine.connect() as connection:
                    channel = await news_channel(connection)
                    await connection.commit()  # the listening connection holds no transaction open
                    raw = await connection.get_raw_connection()
                    driver: Any = raw.driver_connection
                    closed = asyncio.Event()
                    driver.add_termination_listener(lambda _connection, done=closed: done.set())
                    await driver.add_listener(channel, self._heard)
                    self.listening.set()
                    try:
                        await closed.wait()
                    finally:
                        self.listening.clear()
                        with contextlib.suppress(Exception):
                            await driver.remove_listener(channel, self._heard)
                log.warning("the connection listening for news closed; listening again")
            except (DBAPIError, SQLAlchemyError, OSError) as exc:
                log.warning("cannot listen for news (%s); trying again in %g s", type(exc).__name__, self._retry)
            self._on_news()  # something may have been missed meanwhile
            await asyncio.sleep(self._retry)
