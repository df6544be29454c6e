"""The news engine as the running bot uses it: one shared HTTP session per trust level, the store, the poller.

`NewsService.poll_once()` is what the scheduler's poll job calls; it never raises for a source's failure (the
pipeline reports those as values) and logs one line a poll.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from bot.news.fetch import Fetcher, make_session
from bot.news.models import Source
from bot.news.netguard import Network
from bot.news.pipeline import Poller, PollReport, TopicProvider
from bot.store.news import NewsStore

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
        self.poller = Poller(self.store, self.fetcher, clock, topic_provider=topic_provider)
        self.last_report: PollReport | None = None
        self.last_poll: datetime | None = None

    async def poll_once(self) -> PollReport:
        """Poll every due source: the operator's, and the servers' own when a provider is given."""
        sources = list(self.sources)
        if self._extra_sources is not None:
            sources.extend(await self._extra_sources())
        report = await self.poller.poll(sources)
        self.last_report, self.last_poll = report, self._clock()
        failed = sum(1 for source in report.sources if source.status in ("failed", "error"))
        log.info(
            "poll: %d source(s), %d failed, %d new and %d updated stor(ies)",
            len(report.sources),
            failed,
            len(report.new_stories),
            len(report.updated_stories),
        )
        return report

    async def close(self) -> None:
        await self._session.close()
        await self._guarded.close()
