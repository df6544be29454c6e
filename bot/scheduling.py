"""The one scheduler of the process: APScheduler on the bot's event loop.

Jobs are `async def` with an id, one instance at a time, coalesced, and with a real misfire grace time
(APScheduler's default of 1 s silently skips a job that fires late, e.g. after the loop was busy). An error
listener logs and counts failures, so a failing job is visible instead of silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


class Scheduler(AsyncIOScheduler):  # type: ignore[misc]  # APScheduler 3 ships no type information
    """An AsyncIOScheduler that counts failed and missed runs per job id."""

    def __init__(self) -> None:
        super().__init__(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self.failures: Counter[str] = Counter()
        self.missed: Counter[str] = Counter()
        self.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def hold(self) -> None:
        """Fire no more jobs (the runs in progress go on): a stop's first step, so that no poll starts while the rest
        of the bot stops (one started then ran on until `stop` cut it, 10 s later, with an ERROR)."""
        if self.running:
            self.pause()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop firing jobs and wait (a bounded time) for the runs in progress, so that none is cut off
        mid-transaction when the store closes after us."""
        if not self.running:
            return
        self.pause()
        running = [
            future
            for executor in self._executors.values()
            for future in getattr(executor, "_pending_futures", ())  # AsyncIOExecutor's in-flight job tasks
            if not future.done()
        ]
        if running:
            await asyncio.wait(running, timeout=grace)
        self.shutdown(wait=False)  # cancels whatever outlived the timeout

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            self.missed[event.job_id] += 1
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
            return
        self.failures[event.job_id] += 1
        log.error("job %s failed", event.job_id, exc_info=event.exception)
