"""The poll job as the running bot schedules it: at start, then on its tick, stories into the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import schedule_polling
from bot.news.models import Source
from bot.news.service import NewsService
from bot.scheduling import Scheduler
from bot.store.news import NewsStore
from tests.news.feedserver import FeedServer

SAVED = Path(__file__).with_name("saved")


async def test_the_poll_job_runs_at_start_and_stores_stories(engine: AsyncEngine) -> None:
    async with FeedServer() as server:
        for outlet in ("bbc", "cnn", "guardian"):
            server.set(f"/{outlet}", body=(SAVED / f"2020-08-13-{outlet}.xml").read_bytes(), headers={"ETag": '"1"'})
        sources = [Source(url=server.url(f"/{outlet}"), name=outlet) for outlet in ("bbc", "cnn", "guardian")]
        news = NewsService(NewsStore(engine), sources, lambda: datetime.now(UTC), default_interval=600)
        scheduler = Scheduler()
        try:
            schedule_polling(scheduler, news.poll_once, 600, datetime.now(UTC))
            scheduler.start()
            async with asyncio.timeout(10):
                while news.last_report is None:
                    await asyncio.sleep(0.05)
        finally:
            scheduler.shutdown(wait=False)
            await news.close()
        report = news.last_report
        assert [source.status for source in report.sources] == ["ok", "ok", "ok"]
        stories = await news.store.recent_stories(datetime(2020, 1, 1, tzinfo=UTC), limit=50)
        titles = " ".join(story.title for story in stories)
        assert "UAE" in titles
        uae = [story for story in stories if story.event and "AE" in story.event.countries]
        assert uae
        assert len(uae[0].outlets) == 3
        assert scheduler.failures == {}
