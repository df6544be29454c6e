"""Wiring: settings in, a running bot out. The only module that knows every part.

Three roles share one wiring (`opened`):
- `all` (`python -m bot`): everything in one process: polling, Discord for every shard, delivery. SQLite or
  PostgreSQL; on SQLite it must be the only process on its file.
- `worker` (`python -m bot worker`): polls the sources and builds stories; no Discord. Only one worker polls at a
  time (bot.store.locks.PollLock); another waits and takes over when it dies.
- `gateway` (`python -m bot gateway`): connects to Discord for its shards (SHARD_COUNT, SHARD_IDS) and delivers for
  their servers; it hears of new news through PostgreSQL's LISTEN/NOTIFY.
`running_bot()` is the one way the bot is started, by `python -m bot` and by the end-to-end tests alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import discord
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import native
from bot.accords import DatasetError, Knowledge, load_knowledge
from bot.aio import cancel, settle_heap
from bot.delivery.service import Delivery
from bot.discord_app import endpoints
from bot.discord_app.client import FAILING_SOURCE_THRESHOLD, AccordWatchBot, Services
from bot.health import HealthServer, LoopLagProbe, Metrics
from bot.news.service import NewsService
from bot.news.sources import SourcesError, load_sources
from bot.news.work import InlineWork, ProcessWork
from bot.scheduling import Scheduler
from bot.settings import Settings, SettingsError
from bot.store.database import create_engine, migrate
from bot.store.locks import DatabaseInUse, PollLock, SingleProcess
from bot.store.news import NewsStore

log = logging.getLogger(__name__)

Role = Literal["all", "worker", "gateway"]
POLLS_AT_ONCE = 4  # a tick starts a poll even while earlier ones wait on slow sources (each fetches other sources)


class StartupError(Exception):
    """Start-up failed for a reason that is not a setting (the message says what)."""


async def open_database(settings: Settings) -> AsyncEngine:
    """The engine with every migration applied; an unreachable database is a DATABASE_URL error."""
    engine = create_engine(settings.DATABASE_URL)
    try:
        await migrate(engine)
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        # The driver's message can carry the password of the URL: name the kind of failure only.
        reason = type(getattr(exc, "orig", None) or exc).__name__
        raise SettingsError("DATABASE_URL", f"cannot open the database ({reason})") from None
    return engine


def check_role(settings: Settings, role: Role) -> None:
    """A fleet role needs PostgreSQL (SQLite serves one process); a gateway needs the token."""
    if role != "all" and settings.uses_sqlite:
        raise SettingsError(
            "DATABASE_URL",
            f"`python -m bot {role}` is for a fleet of processes on PostgreSQL; SQLite serves one process "
            "(run `python -m bot`), or set DATABASE_URL=postgresql://user:password@host:5432/dbname",
        )
    if role != "worker":
        settings.token  # noqa: B018 - fail fast, before any connection is made


def schedule_polling(scheduler: Scheduler, poll: Callable[[], Awaitable[object]], interval: int, now: datetime) -> None:
    """Poll at start, then every tick; each tick fetches only the sources that are due (own intervals,
    backoff, Retry-After) and not still being fetched by an earlier poll, so a slow source delays nothing else."""
    tick = max(1, min(60, interval))
    scheduler.add_job(
        poll,
        IntervalTrigger(seconds=tick),
        id="poll",
        name="poll the news sources",
        next_run_time=now,
        misfire_grace_time=max(tick, 30),
        max_instances=POLLS_AT_ONCE,
        replace_existing=True,
    )


async def migrate_only(settings: Settings) -> None:
    engine = await open_database(settings)
    await engine.dispose()
    log.info("database is up to date")


@dataclass
class Core:
    """What every role opens: the store, the knowledge, the news and delivery services, the scheduler."""

    settings: Settings
    role: Role
    engine: AsyncEngine
    knowledge: Knowledge
    clock: Callable[[], datetime]
    news: NewsService
    delivery: Delivery
    scheduler: Scheduler
    poll_lock: PollLock
    metrics: Metrics
    started: datetime
    checks: list[Callable[[], Awaitable[list[str]]]]  # what /healthz asks, by role (see `problems`)

    async def poll_tick(self) -> None:
        """The poll job: poll when this process holds the poll lock, then disable the servers' sources that keep
        failing (a gateway tells their admins). Delivery hears of the news as each batch is saved."""
        if not await self.poll_lock.held():
            return
        report = await self.news.poll_once()
        if report is None:
            return
        await self.delivery.disable_failing_sources(threshold=FAILING_SOURCE_THRESHOLD)
        failing = sum(1 for source in report.sources if source.status in ("failed", "error"))
        disabled = await self.delivery.store.disabled_source_count()
        self.metrics.set_sources(len(report.sources) - failing, failing, disabled)
        self.metrics.set_stories(await self.news.store.story_count())

    async def problems(self) -> list[str]:
        """What keeps this process from doing its role now: the database, and each role's own checks."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(select(1))
        except (OSError, SQLAlchemyError) as exc:
            return [f"database unreachable ({type(getattr(exc, 'orig', None) or exc).__name__})"]
        found: list[str] = []
        for check in self.checks:
            found.extend(await check())
        return found

    async def polls_recently(self) -> list[str]:
        """A poller's check: some process (this one, or the worker holding the poll lock) polled within three
        intervals (the first three intervals after start are a grace)."""
        tick = max(1, min(60, self.settings.POLL_INTERVAL))
        limit = timedelta(seconds=3 * max(tick, self.settings.POLL_INTERVAL))
        now = self.clock()
        if now - self.started < limit:
            return []
        last = await self.news.store.last_fetch()
        if last is None and not self.news.sources:
            return []
        if last is None or now - last > limit:
            when = "never" if last is None else f"{int((now - last).total_seconds())} s ago"
            return [f"no poll for three intervals (last fetch {when})"]
        return []


async def _warm_up(news: NewsService) -> None:
    try:
        await news.warm_up()
    except Exception:  # the first poll starts them again, and says why if it cannot
        log.warning("the feed workers could not be started ahead of the first poll", exc_info=True)


async def _warm_up_answers(delivery: Delivery) -> None:
    """Read the reported accessions that /members and /timeline show on every call while the bot logs in. Read by
    the first command instead, they were read during the first poll, which shares the loop: 300 ms of a /members
    with 10,000 stories stored (511 stories, 1,284 articles); later calls read only the stories that changed."""
    try:
        await delivery.reported_members()
    except Exception:  # the first command reads them, and fails with its own message if it cannot
        log.warning("the reported accessions could not be read ahead of the first command", exc_info=True)


@contextlib.asynccontextmanager
async def opened(settings: Settings, role: Role, clock: Callable[[], datetime] | None = None) -> AsyncIterator[Core]:
    check_role(settings, role)
    single = SingleProcess(settings.DATABASE_URL) if settings.uses_sqlite else None
    if single is not None:
        try:
            single.acquire()
        except DatabaseInUse as exc:
            raise SettingsError(
                "DATABASE_URL",
                f"another Accord Watch process already runs on this database (lock {exc}); stop it first, as on "
                "SQLite one process serves every server, or use PostgreSQL to run several",
            ) from None
    try:
        try:
            knowledge = load_knowledge()
        except DatasetError as exc:
            raise StartupError(f"the accords dataset is invalid: {exc}") from None
        try:
            sources = load_sources(settings.SOURCES_FILE)
        except SourcesError as exc:
            raise SettingsError("SOURCES_FILE", str(exc)) from None
        engine = await open_database(settings)
        if clock is None:

            def clock() -> datetime:
                return datetime.now(UTC)

        max_age = timedelta(hours=settings.MAX_ARTICLE_AGE) if settings.MAX_ARTICLE_AGE else None
        metrics = Metrics()
        news_store = NewsStore(engine, max_article_age=max_age)
        delivery = Delivery(engine, news_store, clock, max_article_age=max_age)
        polls = role in ("all", "worker")
        work = ProcessWork(settings.POLL_WORKERS) if polls else InlineWork()
        if polls:
            log.info("news core: %s (bot/native.py)", native.chosen())
        news = NewsService(
            news_store,
            sources,
            clock,
            default_interval=settings.POLL_INTERVAL,
            extra_sources=delivery.guild_sources,
            topic_provider=delivery.all_topics,
            allow=settings.allowed_networks,
            work=work,
            metrics=metrics,
        )
        core = Core(
            settings,
            role,
            engine,
            knowledge,
            clock,
            news,
            delivery,
            Scheduler(),
            PollLock(engine),
            metrics,
            clock(),
            [],
        )
        if polls:
            schedule_polling(core.scheduler, core.poll_tick, settings.POLL_INTERVAL, clock())
            core.checks.append(core.polls_recently)
        probe = LoopLagProbe(metrics)
        health = (
            HealthServer(settings.HEALTH_PORT, checks=core.problems, metrics=metrics) if settings.HEALTH_PORT else None
        )
        settle_heap()
        # The workers start (spawn, imports: a few tenths of a second) while the bot logs in, not in the first poll.
        warming = asyncio.create_task(_warm_up(news), name="warm-up-workers") if isinstance(work, ProcessWork) else None
        answering = (
            asyncio.create_task(_warm_up_answers(delivery), name="warm-up-answers")
            if role in ("all", "gateway")
            else None
        )
        try:
            await probe.start()
            if health is not None:
                try:
                    await health.start()
                except OSError as exc:
                    raise SettingsError(
                        "HEALTH_PORT", f"cannot listen on port {settings.HEALTH_PORT} ({exc.strerror})"
                    ) from None
            yield core
        finally:
            await cancel(warming)
            await cancel(answering)
            if health is not None:
                await health.stop()
            await probe.stop()
            await news.close()
            await core.poll_lock.release()
            await engine.dispose()
    finally:
        if single is not None:
            single.release()


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, *, role: Role = "all", clock: Callable[[], datetime] | None = None, **bot_options: Any
) -> AsyncIterator[AccordWatchBot]:
    """Open everything, log in and connect; yield the bot once every shard is ready. `clock` (aware UTC now) is the
    real one unless a test moves time."""
    async with opened(settings, role, clock) as core:
        endpoints.apply(settings.DISCORD_API_BASE, settings.DISCORD_GATEWAY_URL)
        services = Services(
            knowledge=core.knowledge,
            engine=core.engine,
            clock=core.clock,
            news=core.news,
            scheduler=core.scheduler,
            delivery=core.delivery,
            metrics=core.metrics,
        )
        shards = settings.shard_ids if role == "gateway" else None
        bot = AccordWatchBot(
            settings=settings,
            services=services,
            shard_count=settings.SHARD_COUNT,
            shard_ids=list(shards) if shards is not None else None,
            **bot_options,
        )
        core.checks.append(bot.connection_problems)
        async with bot:
            try:
                await bot.login(settings.token)
            except discord.LoginFailure:
                raise SettingsError("DISCORD_TOKEN", "Discord rejected the token") from None
            runner = asyncio.create_task(bot.connect(reconnect=True), name="discord-gateway")
            ready = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
            if runner in done:
                ready.cancel()
                runner.result()  # re-raise why the gateway stopped
                raise StartupError("the gateway connection ended before the bot was ready")
            try:
                yield bot
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError, discord.DiscordException, OSError):
                    await runner


async def _until_stopped(stop: Callable[[], Coroutine[Any, Any, None]], done: asyncio.Event) -> None:
    """Wait until `done`, calling `stop` on the first SIGTERM (what platforms send to stop a worker) or Ctrl-C."""
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    def on_signal(name: str) -> None:
        if stopping:  # a second signal while closing: the first close is already under way
            return
        log.info("%s: stopping", name)
        stopping.add(loop.create_task(stop()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows has no loop signal handlers
            loop.add_signal_handler(signum, on_signal, signal.Signals(signum).name)
    await done.wait()


async def run(settings: Settings, role: Role = "all") -> None:
    """Run a role until it is stopped: SIGTERM and Ctrl-C stop it gracefully (a poll under way stops at once,
    keeping what it saved; messages owed are sent at the next start)."""
    if role == "worker":
        await run_worker(settings)
        return
    async with running_bot(settings, role=role) as bot:
        shards = "" if bot.shard_ids is None else f", shards {','.join(map(str, bot.shard_ids))} of {bot.shard_count}"
        log.info("ready as %s in %d server(s)%s", bot.user, len(bot.guilds), shards)
        await _until_stopped(bot.close, bot.closed)
    log.info("stopped")


async def run_worker(settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
    """The worker role: poll (when it holds the poll lock) until stopped."""
    async with opened(settings, "worker", clock) as core:
        done = asyncio.Event()

        async def stop() -> None:
            core.scheduler.hold()  # no poll starts from now on
            await core.news.stop()
            await core.scheduler.stop()
            done.set()

        core.scheduler.start()
        log.info("worker ready: polling %d source(s) of the operator and the servers' own", len(core.news.sources))
        await _until_stopped(stop, done)
    log.info("stopped")
