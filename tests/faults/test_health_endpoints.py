"""`/healthz` and `/metrics` of real processes over HTTP: a worker and a gateway say they work, and a worker says
503, with the reason, when its database is gone (a database of its own, closed to connections mid-test)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.database import async_url
from tests.conftest import POSTGRES_URL
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import Newsroom
from tests.faults.conftest import BotProcess, bot_env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    """A PostgreSQL database of this test's own (it will be closed to connections)."""
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    name = f"aw_health_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await admin.dispose()


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
        return response.status, await response.text()


async def test_a_worker_and_a_gateway_report_health_and_metrics_and_503_without_the_database(
    emulator: EmulatorHandle, own_database: str, tmp_path: Path
) -> None:
    async with Newsroom() as newsroom, aiohttp.ClientSession() as session:
        newsroom.publish("bbc")
        sources = tmp_path / "sources.toml"
        sources.write_text(newsroom.sources_toml())
        env = bot_env(emulator, own_database, sources)
        worker_port, gateway_port = free_port(), free_port()
        worker = BotProcess({**env, "HEALTH_PORT": str(worker_port)}, tmp_path / "worker.log", role="worker")
        gateway = BotProcess({**env, "HEALTH_PORT": str(gateway_port)}, tmp_path / "gateway.log", role="gateway")
        try:
            await worker.start(ready="worker ready")
            await gateway.start()
            for port in (worker_port, gateway_port):
                status, body = await get(session, f"http://127.0.0.1:{port}/healthz")
                assert (status, body) == (200, "ok"), (port, body)
            await asyncio.sleep(1.5)  # a poll or two
            status, metrics = await get(session, f"http://127.0.0.1:{worker_port}/metrics")
            assert status == 200
            assert 'accordwatch_polls_total{result="ok"}' in metrics
            assert "accordwatch_event_loop_lag_seconds_bucket" in metrics
            status, metrics = await get(session, f"http://127.0.0.1:{gateway_port}/metrics")
            assert "accordwatch_messages_pending" in metrics

            # the database goes away: its connections are cut and no new one is accepted
            name = make_url(own_database).database
            admin = create_async_engine(async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
                await connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
            await admin.dispose()
            deadline = time.monotonic() + 20
            while True:
                status, body = await get(session, f"http://127.0.0.1:{worker_port}/healthz")
                if status == 503 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert status == 503, body
            assert body.startswith("database unreachable"), body
        finally:
            await worker.stop()
            await gateway.stop()
