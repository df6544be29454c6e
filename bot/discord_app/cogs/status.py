"""`/status`: is the bot reading its sources, when is the next digest, what is paused and why."""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.values import SourceHealth
from bot.discord_app.checks import guild_id_of, is_admin
from bot.discord_app.client import Services
from bot.discord_app.render import Item, build_embed, escape, shorten
from bot.wording import count

MAX_SOURCES_SHOWN = 15


def when(moment: datetime | None) -> str:
    return discord.utils.format_dt(moment, "R") if moment else "never"


def health_line(health: SourceHealth, names: dict[str, str] | None = None) -> str:
    state = health.state
    name = escape(health.name or (names or {}).get(health.url) or health.url)
    if health.disabled_reason:
        return f"⛔ {name}: disabled ({escape(health.disabled_reason)})"
    if state.last_attempt is None:
        return f"… {name}: not polled yet"
    if state.consecutive_failures:
        error = escape(shorten(state.last_error or f"HTTP {state.last_status}", 120))
        failures = count(state.consecutive_failures, "failure")
        return f"⚠️ {name}: {failures}, {error}; next try {when(state.next_attempt)}"
    return f"✅ {name}: ok {when(state.last_success)}"


class StatusCog(commands.Cog):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="status", description="Poll health, next digests, and what is paused and why")
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction) -> None:
        now = self.services.clock()
        status = await self.services.delivery.status(guild_id_of(interaction), now)
        last_poll = status.last_poll  # read from the database: in a fleet, a worker process polls
        healthy = sum(1 for s in status.sources if not s.state.consecutive_failures and not s.disabled_reason)
        description = f"Last poll {when(last_poll)} · {healthy} of {count(len(status.sources), 'source')} healthy."
        shown = sorted(status.sources, key=lambda s: (not s.state.consecutive_failures, s.url))
        names = {source.url: source.name for source in self.services.news.sources}
        lines = [health_line(source, names) for source in shown[:MAX_SOURCES_SHOWN]]
        if len(shown) > MAX_SOURCES_SHOWN:
            more = f"… and {len(shown) - MAX_SOURCES_SHOWN} more"
            lines.append(f"{more}; `/sources list` shows this server's own" if is_admin(interaction) else more)
        items = [Item("Sources", "\n".join(lines) or "No sources.")]
        if status.next_digests:
            items.append(
                Item("Next digests", "\n".join(f"<#{d.channel_id}> {when(d.at)}" for d in status.next_digests))
            )
        if status.paused:
            items.append(
                Item("Paused", "\n".join(f"<#{s.channel_id}>: {escape(s.paused_reason or '')}" for s in status.paused))
            )
        if status.undelivered:
            lines = [
                f"{'⏳' if t.state == 'retrying' else '❌'} <#{t.channel_id}> {t.kind} {when(t.created_at)}: "
                f"{t.state}, {escape(shorten(t.error, 150))}"
                for t in status.undelivered
            ]
            items.append(Item("Undelivered messages", "\n".join(lines)))
        if status.failing_sources:
            items.append(Item("This server's failing sources", "\n".join(map(health_line, status.failing_sources))))
        embed = build_embed(title="Accord Watch status", description=description, items=items)
        await interaction.response.send_message(embed=embed, ephemeral=True)
