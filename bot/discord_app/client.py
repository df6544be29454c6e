"""The Discord client: no privileged intents, app commands only, mentions off by default."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import discord
from apscheduler.triggers.interval import IntervalTrigger
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.accords import Knowledge
from bot.delivery.service import Delivery
from bot.discord_app.checks import Tree
from bot.discord_app.delivery_runner import DeliveryRunner, process_owner
from bot.discord_app.pacing import SEND_RATE, Pacer, RedisPacer, SendPacer, share
from bot.health import Metrics
from bot.news.service import NewsService
from bot.scheduling import Scheduler
from bot.settings import Settings
from bot.store.guilds import mark_removed, record_guild
from bot.store.notify import NewsListener

log = logging.getLogger(__name__)

_Handler = TypeVar("_Handler", bound=Callable[..., Coroutine[Any, Any, None]])


def tracked(handler: _Handler) -> _Handler:
    """Register the running event handler so that close() lets it finish its database work first
    (discord.py runs each event in a task of its own and does not wait for them when closing)."""

    @functools.wraps(handler)
    async def run(self: AccordWatchBot, *args: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._busy_handlers.add(task)
        try:
            await handler(self, *args)
        finally:
            if task is not None:
                self._busy_handlers.discard(task)

    return run  # type: ignore[return-value]


FAILING_SOURCE_THRESHOLD = 5  # consecutive failures before a server's own source is disabled


def _since(interaction: discord.Interaction) -> float:
    """Seconds from the interaction's creation (its snowflake) to now: what the user waited."""
    return max(0.0, (datetime.now(UTC) - interaction.created_at).total_seconds())


def _rate_limit_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """Counts Discord's 429s, by scope, on every REST request discord.py makes (it retries them itself)."""
    trace = aiohttp.TraceConfig()

    async def on_end(_session: Any, _context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status == 429:
            headers = params.response.headers
            is_global = headers.get("X-RateLimit-Global") == "true" or headers.get("X-RateLimit-Scope") == "global"
            metrics.rate_limited("global" if is_global else "route")

    trace.on_request_end.append(on_end)
    return trace


@dataclass(frozen=True, slots=True)
class Services:
    """What the command groups need from the core, handed down by `bot.app`."""

    knowledge: Knowledge
    engine: AsyncEngine
    clock: Callable[[], datetime]
    news: NewsService
    scheduler: Scheduler
    delivery: Delivery
    metrics: Metrics = field(default_factory=Metrics)


class AccordWatchBot(commands.AutoShardedBot):
    """The bot for one process: every shard (SHARD_COUNT unset: as many as Discord recommends), or the shards
    `shard_ids` of a fleet's gateway, which then delivers only for the servers of those shards."""

    def __init__(self, *, settings: Settings, services: Services, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles and permissions; nothing privileged
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=Tree,
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=_rate_limit_trace(services.metrics),
            **options,
        )
        self.settings = settings
        self.services = services
        self.fleet = self.shard_ids is not None  # a gateway of some shards, beside others
        # Rounds at least every poll tick, and retries no farther apart: what is owed goes out within one tick.
        tick = max(1, min(60, settings.POLL_INTERVAL))
        self.deliveries = DeliveryRunner(
            self,
            services.delivery,
            services.scheduler,
            services.clock,
            pacer=self._pacer(),
            idle=min(5.0, tick),
            retry_max=float(tick),
            owns=self.owns if self.fleet else None,
            sole_process=settings.uses_sqlite,
            owner=process_owner(self.shard_ids),
        )
        self.news_listener = NewsListener(services.engine, self.deliveries.wake)
        self.closed = asyncio.Event()  # set once close() ran, whoever called it
        self._started = False
        self._busy_handlers: set[asyncio.Task[Any]] = set()

    async def connection_problems(self) -> list[str]:
        """A gateway's check for /healthz: every shard of this process connected to Discord."""
        if not self.is_ready():
            return ["not connected to Discord yet"]
        down = sorted(shard_id for shard_id, shard in self.shards.items() if shard.is_closed())
        return [f"shard {shard_id} is not connected" for shard_id in down]

    async def on_app_command_completion(self, interaction: discord.Interaction, command: Any) -> None:
        self.services.metrics.command_answered(command.qualified_name, _since(interaction))

    def owns(self, guild_id: int) -> bool:
        """Whether this process delivers for a server: its shard, `(guild_id >> 22) % shard_count`, is one of ours."""
        if self.shard_ids is None or self.shard_count is None:
            return True
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    def _pacer(self) -> SendPacer:
        """The send budget: shared through Redis by every gateway (REDIS_URL), else this process's share of the
        global limit, in proportion to its shards."""
        settings = self.settings
        shards, of = (len(self.shard_ids), self.shard_count or 1) if self.shard_ids is not None else (1, 1)
        own = Pacer(share(SEND_RATE, shards, of))
        if settings.REDIS_URL:
            return RedisPacer(settings.REDIS_URL, SEND_RATE, fallback=own)
        return own

    async def setup_hook(self) -> None:
        from bot.discord_app import cogs, errors

        self.services.news.add_listener(lambda _saved: self.deliveries.wake())  # news saved here: deliver it now
        self.news_listener.start()  # news saved by a worker (PostgreSQL): the same
        self.services.scheduler.start()  # jobs run on this loop from now on; close() stops them
        self.services.scheduler.add_job(
            self.purge_removed_guilds, IntervalTrigger(hours=6), id="purge", replace_existing=True
        )
        self.tree.error(errors.on_app_command_error)
        for cog in cogs.build(self):
            await self.add_cog(cog)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Sync globally, or only to DEV_GUILD_ID (instant, for development)."""
        if self.settings.DEV_GUILD_ID:
            guild = discord.Object(id=self.settings.DEV_GUILD_ID)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("synced %d command(s)%s", len(synced), " to the dev guild" if self.settings.DEV_GUILD_ID else "")

    async def purge_removed_guilds(self) -> None:
        purged = await self.services.delivery.purge_removed_guilds(self.services.clock())
        if purged:
            log.info("deleted the data of %d server(s) removed more than the grace period ago", purged)

    @tracked
    async def on_ready(self) -> None:
        if self._started:
            return  # a resume or reconnect: jobs are already in place
        self._started = True
        await self.deliveries.start()

    @tracked
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._joined(guild)

    @tracked
    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("joined server %s (%d)", guild.name, guild.id)
        await self._joined(guild)

    async def _joined(self, guild: discord.Guild) -> None:
        await record_guild(self.services.engine, guild.id, guild.name, self.services.clock())
        await self.services.delivery.ensure_guild(guild.id)
        await self.services.delivery.guild_returned(guild.id)
        if self._started:  # a server back within its grace period: its digests resume (at start, start() does it)
            for subscription in await self.services.delivery.subscriptions(guild.id):
                if not subscription.paused:
                    self.deliveries.schedule(subscription)

    @tracked
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        log.info("removed from server %s (%d)", guild.name, guild.id)
        now = self.services.clock()
        await mark_removed(self.services.engine, guild.id, now)
        await self.services.delivery.guild_removed(guild.id, now)
        for subscription in await self.services.delivery.subscriptions(guild.id):
            self.deliveries.unschedule(subscription.channel_id)

    @tracked
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        if await self.services.delivery.remove_channel(channel.id):
            log.info("channel %d was deleted: its subscription is removed", channel.id)
        self.deliveries.unschedule(channel.id)

    async def close(self) -> None:
        try:
            self.services.scheduler.hold()  # no poll or digest starts from now on
            await self.services.news.stop()  # a poll under way ends now; what it saved is kept
            await self.deliveries.stop()
            await self.news_listener.stop()
            if isinstance(self.deliveries.pacer, RedisPacer):
                await self.deliveries.pacer.close()
            await self.services.scheduler.stop()
            others = [task for task in self._busy_handlers if task is not asyncio.current_task()]
            if others:
                await asyncio.wait(others, timeout=10)
            await super().close()
        finally:
            self.closed.set()
