"""SIGTERM while a poll waits on a slow source: the bot stops at once, cleanly, and keeps what the poll saved.

Before, the scheduler gave the poll 10 s and then cancelled it, logging an ERROR traceback, while the README said a
running poll finishes first. Now a stop ends the poll at once (what it saved stays saved; the sources it had not
finished are due at the next start), and the README says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.store.database import create_engine
from bot.store.news import NewsStore
from tests.faults.conftest import Rig


@pytest.fixture
async def slow_feed() -> AsyncIterator[str]:
    async def feed(_: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(body=b"<rss/>", content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/slow.xml", feed)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.7", 0).start()
    try:
        yield f"http://127.0.0.7:{runner.addresses[0][1]}/slow.xml"
    finally:
        await runner.cleanup()


async def test_sigterm_during_a_poll_stops_at_once_without_an_error(rig: Rig, slow_feed: str) -> None:
    sources = Path(rig.bot.env["SOURCES_FILE"])
    sources.write_text(sources.read_text() + f'[[source]]\nurl = "{slow_feed}"\nname = "Slow"\n')
    rig.newsroom.publish("bbc")
    await rig.bot.start()
    await asyncio.sleep(2)  # the first poll has saved the BBC story and waits on the slow source
    started = time.monotonic()
    assert await rig.bot.terminate() == 0
    assert time.monotonic() - started < 8
    log = rig.bot.text()
    assert "poll stopped: the bot is shutting down" in log
    assert " ERROR " not in log
    assert "Traceback" not in log
    engine = create_engine(rig.bot.env["DATABASE_URL"])
    try:
        stories = await NewsStore(engine).all_stories()
    finally:
        await engine.dispose()
    assert [a.outlet for s in stories for a in s.articles] == ["BBC News"]  # saved before the stop, kept
