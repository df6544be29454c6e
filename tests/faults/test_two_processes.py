"""Two processes on one database (a double start, or a rolling deploy that starts the new one first). Before, both
ran the digest job and both sent it (2 of 5 channels on PostgreSQL, 1 of 5 on SQLite). Now on SQLite, which serves
one process, the second is refused at start; on PostgreSQL both run and a scheduled digest is sent once: each run
is claimed by its scheduled time in the database, and each outbox row by one sender."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.conftest import BotProcess, Rig


async def test_a_scheduled_digest_is_sent_once_by_two_processes(rig: Rig) -> None:
    await rig.bot.start()
    if rig.bot.env["DATABASE_URL"].startswith("sqlite"):
        second = BotProcess(rig.bot.env, rig.bot.log.with_name("second.log"))
        with pytest.raises(AssertionError, match="another Accord Watch process already runs on this database"):
            await second.start()
        assert second.process is not None
        assert second.process.returncode == 2
        return
    news = await rig.emulator.channel_id("news")
    rig.newsroom.publish("bbc", "cnn")
    due = datetime.now(UTC) + timedelta(seconds=75)
    due = due.replace(second=0, microsecond=0)
    await rig.ask("subscribe", {"channel": str(news), "mode": "digest", "schedule": f"daily {due:%H:%M}"}, user="admin")
    second = BotProcess(rig.bot.env, rig.bot.log.with_name("second.log"))
    await second.start()
    try:
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 8)
        deadline = time.monotonic() + 15
        digests: list[object] = []
        while time.monotonic() < deadline and not digests:
            digests = [m for m in await rig.emulator.channel_messages(news) if m["embeds"]]
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)
        digests = [m for m in await rig.emulator.channel_messages(news) if m["embeds"]]
        assert len(digests) == 1, f"{len(digests)} digests\n{rig.bot.text()[-3000:]}\n{second.text()[-3000:]}"
    finally:
        await second.stop()
