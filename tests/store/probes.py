"""What the store tests watch the store do: the article rows a call reads, how much work runs between two turns of
the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextlib.contextmanager
def full_article_reads(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """The (statement, parameters) of each read of whole article rows while the block runs."""
    reads: list[tuple[str, Any]] = []

    def record(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "articles.summary" in statement:
            reads.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield reads
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextlib.asynccontextmanager
async def most_calls_between_turns(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str
) -> AsyncIterator[list[int]]:
    """Counts the calls of `owner.name` between two turns of the event loop while the block runs; the list holds the
    most, once the block has ended."""
    real: Callable[..., Any] = getattr(owner, name)
    since_turn, most = [0], [0]

    def counted(*args: Any) -> Any:
        since_turn[0] += 1
        most[0] = max(most[0], since_turn[0])
        return real(*args)

    monkeypatch.setattr(owner, name, counted)
    done = False

    async def turns() -> None:
        while not done:
            since_turn[0] = 0
            await asyncio.sleep(0)

    turning = asyncio.create_task(turns())
    try:
        yield most
    finally:
        done = True
        await turning
        monkeypatch.setattr(owner, name, real)
