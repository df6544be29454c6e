"""Wiring: settings in, a running bot out. The only module that knows every part.

`running_bot()` is the one way the bot is started, by `python -m bot` and by the end-to-end tests alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.accords import DatasetError, load_knowledge
from bot.delivery.service import Delivery
from bot.discord_app import endpoints
from bot.discord_app.client import AccordWatchBot, Services
from bot.news.service import NewsService
from bot.news.sources import SourcesError, load_sources
from bot.news.work import ProcessWork
from bot.scheduling import Scheduler
from bot.settings import Settings, SettingsError
from bot.store.database import create_engine, migrate
from bot.store.news import NewsStore

log = logging.getLogger(__name__)


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


POLLS_AT_ONCE = 4  # a tick starts a poll even while earlier ones wait on slow sources (each fetches other sources)


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


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, *, clock: Callable[[], datetime] | None = None, **bot_options: Any
) -> AsyncIterator[AccordWatchBot]:
    """Open the store, load the knowledge, log in and connect; yield the bot once it is ready. `clock` (aware UTC
    now) is the real one unless a test moves time."""
    try:
        knowledge = load_knowledge()
    except DatasetError as exc:
        raise StartupError(f"the accords dataset is invalid: {exc}") from None
    try:
        sources = load_sources(settings.SOURCES_FILE)
    except SourcesError as exc:
        raise SettingsError("SOURCES_FILE", str(exc)) from None
    engine = await open_database(settings)
    endpoints.apply(settings.DISCORD_API_BASE, settings.DISCORD_GATEWAY_URL)

    if clock is None:

        def clock() -> datetime:
            return datetime.now(UTC)

    max_age = timedelta(hours=settings.MAX_ARTICLE_AGE) if settings.MAX_ARTICLE_AGE else None
    news_store = NewsStore(engine, max_article_age=max_age)
    delivery = Delivery(engine, news_store, clock, max_article_age=max_age)
    news = NewsService(
        news_store,
        sources,
        clock,
        default_interval=settings.POLL_INTERVAL,
        extra_sources=delivery.guild_sources,
        topic_provider=delivery.all_topics,
        allow=settings.allowed_networks,
        work=ProcessWork(),
    )
    scheduler = Scheduler()
    services = Services(
        knowledge=knowledge, engine=engine, clock=clock, news=news, scheduler=scheduler, delivery=delivery
    )
    bot = AccordWatchBot(settings=settings, services=services, **bot_options)
    schedule_polling(scheduler, bot.poll_job, settings.POLL_INTERVAL, clock())
    try:
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
    finally:
        await news.close()
        await engine.dispose()


async def run(settings: Settings) -> None:
    """Run until the gateway connection ends for good, or a SIGTERM (what platforms send to stop a worker) or
    Ctrl-C: both stop it gracefully, letting a running poll or digest finish within the scheduler's grace."""
    async with running_bot(settings) as bot:
        log.info("ready as %s in %d server(s)", bot.user, len(bot.guilds))
        loop = asyncio.get_running_loop()
        stopping: set[asyncio.Task[None]] = set()

        def stop(name: str) -> None:
            if stopping:  # a second signal while closing: the first close is already under way
                return
            log.info("%s: stopping", name)
            stopping.add(loop.create_task(bot.close()))

        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows has no loop signal handlers
                loop.add_signal_handler(signum, stop, signal.Signals(signum).name)
        await bot.closed.wait()
    log.info("stopped")
