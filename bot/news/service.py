"""The news engine as the running bot uses it: one shared HTTP session per trust level, the store, the poller, and
the worker processes that parse and match.

`NewsService.poll_once()` is what the scheduler's poll job calls; it never raises for a source's failure (the
pipeline reports those as values) and logs one line a poll. `stop()` ends a poll under way at once: what it saved
stays saved, and the sources it had not finished are due again at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from bot.health import Metrics, PollResult
from bot.news.fetch import Fetcher, make_session
from bot.news.models import Source
from bot.news.netguard import Network
from bot.news.pipeline import Poller, PollReport, TopicProvider
from bot.news.work import FeedWork, InlineWork
from bot.store.news import NewsStore, SavedPoll
from bot.wording import count

log = logging.getLogger(__name__)

SourceProvider = Callable[[], Awaitable[Sequence[Source]]]


class NewsService:
    def __init__(
        self,
        store: NewsStore,
        sources: Sequence[Source],
        clock: Callable[[], datetime],
        *,
        default_interval: int,
        extra_sources: SourceProvider | None = None,
        topic_provider: TopicProvider | None = None,
        allow: Iterable[Network] = (),
        work: FeedWork | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.allowed_networks = tuple(allow)  # the private networks servers' own sources may reach
        self.sources = tuple(sources)
        self._clock = clock
        self._default_interval = default_interval
        self._extra_sources = extra_sources
        self._session = make_session(guarded=False)
        self._guarded = make_session(guarded=True, allow=self.allowed_networks)
        self.fetcher = Fetcher(
            self._session,
            clock=clock,
            guarded_session=self._guarded,
            default_interval=default_interval,
            allow=self.allowed_networks,
        )
        self.work = work or InlineWork()
        self.metrics = metrics
        self._listeners: list[Callable[[SavedPoll], None]] = []
        self.poller = Poller(
            self.store, self.fetcher, clock, work=self.work, topic_provider=topic_provider, on_saved=self._saved
        )
        self.last_report: PollReport | None = None
        self.last_poll: datetime | None = None
        self._polling: set[asyncio.Task[PollReport]] = set()

    def add_listener(self, listener: Callable[[SavedPoll], None]) -> None:
        """Call `listener` each time a poll has written news (while the poll goes on)."""
        self._listeners.append(listener)

    async def warm_up(self) -> None:
        """Start the workers that parse and match, with the topics of the next poll: called while the bot logs in,
        so that its first poll neither starts processes nor builds matchers."""
        await self.work.warm_up(await self.poller.topics())

    async def _saved(self, saved: SavedPoll) -> None:
        for listener in self._listeners:
            listener(saved)

    async def poll_once(self) -> PollReport | None:
        """Poll every due source: the operator's, and the servers' own when a provider is given. None when the
        poll was stopped (the bot is shutting down)."""
        sources = list(self.sources)
        if self._extra_sources is not None:
            sources.extend(await self._extra_sources())
        polling = asyncio.create_task(self.poller.poll(sources), name="poll")
        self._polling.add(polling)
        started = time.perf_counter()
        try:
            report = await asyncio.shield(polling)
        except asyncio.CancelledError:
            if polling.cancelled():  # stopped by stop(), not by our own caller
                log.info("poll stopped: the bot is shutting down; what it saved is kept")
                self._measure("stopped", started)
                return None
            polling.cancel()
            raise
        except Exception:
            self._measure("failed", started)
            raise
        finally:
            self._polling.discard(polling)
        self._measure("ok", started)
        self.last_report, self.last_poll = report, self._clock()
        failed = sum(1 for source in report.sources if source.status in ("failed", "error"))
        log.info(
            "poll: %s, %d failed; %s, %d updated",
            count(len(report.sources), "source"),
            failed,
            count(len(report.new_stories), "new story", "new stories"),
            len(report.updated_stories),
        )
        return report

    def _measure(self, result: PollResult, started: float) -> None:
        if self.metrics is not None:
            self.metrics.poll_finished(result, time.perf_counter() - started)

    async def stop(self) -> None:
        """End the polls under way now (see the module docstring)."""
        running = {task for task in self._polling if not task.done()}
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=10)

    async def close(self) -> None:
        await self.stop()
        await self.work.close()
        await self._session.close()
        await self._guarded.close()
