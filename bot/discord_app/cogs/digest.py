"""`/digest preview` (anyone) and `/digest now` (admins): a channel's next digest, seen or sent now."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.values import Subscription
from bot.discord_app.checks import is_admin, require_admin
from bot.discord_app.client import AccordWatchBot
from bot.discord_app.pager import send_pages
from bot.wording import count


@app_commands.guild_only()
class DigestCog(commands.GroupCog, group_name="digest", group_description="A channel's digest"):
    def __init__(self, bot: AccordWatchBot) -> None:
        self.bot = bot
        super().__init__()

    async def _subscription_of(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None
    ) -> Subscription | None:
        target = channel or interaction.channel
        subscription = await self.bot.services.delivery.subscription(target.id) if target else None
        if subscription is None or subscription.guild_id != interaction.guild_id or subscription.mode == "alerts":
            where = channel.mention if channel else "This channel"
            how = "Start one with" if is_admin(interaction) else "An admin can start one with"
            await interaction.response.send_message(
                f"{where} gets no digest. {how} `/subscribe mode:digest`.", ephemeral=True
            )
            return None
        return subscription

    @app_commands.command(name="preview", description="What the next digest of a channel holds so far")
    @app_commands.describe(channel="The subscribed channel (default: this one)")
    async def preview(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        subscription = await self._subscription_of(interaction, channel)
        if subscription is None:
            return
        embeds = await self.bot.deliveries.preview(subscription)
        if not embeds:
            await interaction.response.send_message("Nothing new since the last digest.", ephemeral=True)
            return
        await send_pages(interaction, embeds, ephemeral=True)

    @app_commands.command(name="now", description="Send a channel's digest now (admins)")
    @app_commands.describe(channel="The subscribed channel (default: this one)")
    async def now(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        require_admin(interaction)  # /digest preview is for everyone, so this is checked here
        subscription = await self._subscription_of(interaction, channel)
        if subscription is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.bot.deliveries.send_digest(subscription)
        stories, parts = count(result.stories, "story"), count(result.parts, "message")
        if result.stories == 0:
            text = "Nothing new since the last digest: nothing was sent."
        elif result.deferred:
            text = (
                f"Discord is refusing messages for now: {result.sent} of {parts} of the digest ({stories}) were "
                "sent; the rest go out as soon as Discord accepts them. `/status` shows them."
            )
        elif result.sent < result.parts:
            text = "The digest could not be sent; `/status` says why."
        else:
            text = f"Sent {stories} in {count(result.sent, 'message')} to <#{subscription.channel_id}>."
        await interaction.followup.send(text, ephemeral=True)
