"""Store test fixtures: two schemas of one PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import _postgres_or_skip, postgres_schema


@pytest.fixture
async def schemas() -> AsyncIterator[list[str]]:
    """Two URLs of one PostgreSQL database, each with its own empty schema (as two deployments, or two test runs)."""
    base = _postgres_or_skip()
    async with postgres_schema(base) as first, postgres_schema(base) as second:
        yield [first, second]
