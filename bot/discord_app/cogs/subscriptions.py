"""`/subscribe`, `/unsubscribe`, `/subscriptions`: which channels get digests and alerts, and when."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.timezones import timezone_choices, timezone_label
from bot.delivery.values import DEFAULT_ALERT_THRESHOLD, Subscription
from bot.discord_app.checks import admin_only, guild_id_of
from bot.discord_app.client import AccordWatchBot
from bot.discord_app.delivery_runner import missing_permissions
from bot.discord_app.pager import send_pages
from bot.discord_app.render import Item, build_embed, paginate

Mode = Literal["digest", "alerts", "both"]


def describe(subscription: Subscription, next_digest: str | None) -> str:
    parts = [f"**{subscription.mode}**"]
    if subscription.schedule and subscription.mode != "alerts":
        parts.append(f"digest {subscription.schedule} ({subscription.timezone})")
        if next_digest:
            parts.append(f"next {next_digest}")
    if subscription.mode != "digest":
        parts.append(f"alerts from importance {subscription.threshold:g}")
        if subscription.role_id:
            parts.append(f"mentions <@&{subscription.role_id}>")
        if subscription.quiet_hours:
            parts.append(f"quiet {subscription.quiet_hours}")
    parts.append("topics: " + (", ".join(subscription.topics) if subscription.topics else "all of the server's"))
    if subscription.paused_reason:
        parts.append(f"⏸ paused: {subscription.paused_reason}")
    return " · ".join(parts)


class SubscriptionsCog(commands.Cog):
    def __init__(self, bot: AccordWatchBot) -> None:
        self.bot = bot
        self.delivery = bot.services.delivery

    def _next(self, subscription: Subscription) -> str | None:
        at = self.delivery.next_digest_at(subscription, self.bot.services.clock())
        return discord.utils.format_dt(at, "R") if at else None

    @app_commands.command(name="subscribe", description="Send digests and/or alerts to a channel")
    @app_commands.describe(
        channel="Where to post",
        mode="digest on a schedule, alerts at once, or both",
        schedule="daily 09:00 · twice daily 08:00 20:00 · weekly mon 09:00 · every 6h (default daily 09:00)",
        timezone="IANA timezone of the schedule and quiet hours, e.g. Europe/London (default UTC)",
        min_importance=f"Alerts only for stories at least this important (default {DEFAULT_ALERT_THRESHOLD:g})",
        role="A role to mention on alerts (only that role is pinged)",
        topics="Comma-separated topic names (default: all of the server's)",
        quiet_hours="Hold alerts during these hours, e.g. 22:00-07:00",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def subscribe(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        mode: Mode,
        schedule: app_commands.Range[str, 1, 100] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        min_importance: app_commands.Range[float, 0.0, 100.0] | None = None,
        role: discord.Role | None = None,
        topics: app_commands.Range[str, 1, 500] | None = None,
        quiet_hours: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None  # guild_only
        missing = missing_permissions(channel, guild.me)
        if missing:
            await interaction.response.send_message(
                f"I cannot post in {channel.mention}: missing {', '.join(missing)}. Give the bot those "
                "permissions in that channel, then run `/subscribe` again.",
                ephemeral=True,
            )
            return
        names = tuple(name.strip() for name in topics.split(",") if name.strip()) if topics else None
        subscription = await self.delivery.subscribe(
            guild_id_of(interaction),
            channel.id,
            mode=mode,
            schedule=schedule,
            timezone=timezone or "UTC",
            min_importance=min_importance,
            role_id=role.id if role else None,
            topics=names,
            quiet_hours=quiet_hours,
        )
        self.bot.deliveries.schedule(subscription)
        note = ""
        if role is not None and not role.mentionable and not channel.permissions_for(guild.me).mention_everyone:
            note = f"\nNote: {role.mention} is not mentionable, so alerts will name it without pinging it."
        await interaction.response.send_message(
            f"{channel.mention}: {describe(subscription, self._next(subscription))}{note}",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @subscribe.autocomplete("timezone")
    async def _timezone(self, _interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=timezone_label(name), value=name) for name in timezone_choices(typed)]

    @app_commands.command(name="unsubscribe", description="Stop sending digests and alerts to a channel")
    @app_commands.describe(channel="The channel to stop")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def unsubscribe(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        removed = await self.delivery.unsubscribe(guild_id_of(interaction), channel.id)
        self.bot.deliveries.unschedule(channel.id)
        text = (
            f"{channel.mention} gets no more digests or alerts." if removed else f"{channel.mention} is not subscribed."
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="subscriptions", description="The channels that get digests and alerts")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def subscriptions(self, interaction: discord.Interaction) -> None:
        subscriptions = await self.delivery.subscriptions(guild_id_of(interaction))
        if not subscriptions:
            await interaction.response.send_message(
                "No channel is subscribed. Start with `/subscribe channel:#news mode:digest`.", ephemeral=True
            )
            return
        items = [Item(f"#{self._name(s.channel_id)}", describe(s, self._next(s))) for s in subscriptions]
        embeds = [build_embed(title="Subscriptions", items=page) for page in paginate(items, per_page=10, budget=5000)]
        await send_pages(interaction, embeds, ephemeral=True)

    def _name(self, channel_id: int) -> str:
        channel = self.bot.get_channel(channel_id)
        return getattr(channel, "name", str(channel_id))
