"""The Discord client: no privileged intents, app commands only, mentions off by default."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import discord
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.accords import Knowledge
from bot.news.service import NewsService
from bot.scheduling import Scheduler
from bot.settings import Settings
from bot.store.guilds import mark_removed, record_guild

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """What the command groups need from the core, handed down by `bot.app`."""

    knowledge: Knowledge
    engine: AsyncEngine
    clock: Callable[[], datetime]
    news: NewsService
    scheduler: Scheduler


class AccordWatchBot(commands.Bot):
    def __init__(self, *, settings: Settings, services: Services, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles and permissions; nothing privileged
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.services = services
        self.closed = asyncio.Event()  # set once close() ran, whoever called it

    async def setup_hook(self) -> None:
        from bot.discord_app import cogs, errors

        self.services.scheduler.start()  # jobs run on this loop from now on; close() stops them
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

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await record_guild(self.services.engine, guild.id, guild.name, self.services.clock())

    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("joined server %s (%d)", guild.name, guild.id)
        await record_guild(self.services.engine, guild.id, guild.name, self.services.clock())

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        log.info("removed from server %s (%d)", guild.name, guild.id)
        await mark_removed(self.services.engine, guild.id, self.services.clock())

    async def close(self) -> None:
        try:
            if self.services.scheduler.running:
                self.services.scheduler.shutdown(wait=False)
            await super().close()
        finally:
            self.closed.set()
