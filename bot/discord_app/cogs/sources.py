"""`/sources`: a server's own RSS, Atom or JSON feeds, checked when added and refused on private addresses."""

from __future__ import annotations

from collections import Counter

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.checks import admin_only, guild_id_of
from bot.discord_app.client import Services
from bot.discord_app.pager import send_pages
from bot.discord_app.render import Item, build_embed, escape, paginate, shorten
from bot.news.models import FetchStatus, Source, SourceState
from bot.news.netguard import RefusedURLError, check_url
from bot.news.parse import parse_feed
from bot.wording import count

CHOICE_LIMIT = 100  # an autocomplete choice's name and value, at most (Discord refuses longer)


def _disabled(reason: str | None) -> str:
    return f"\n⛔ disabled: {escape(reason)}" if reason else ""


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class SourcesCog(commands.GroupCog, group_name="sources", group_description="This server's own news feeds"):
    def __init__(self, services: Services) -> None:
        self.services = services
        super().__init__()

    @app_commands.command(name="add", description="Add an RSS, Atom or JSON feed for this server")
    @app_commands.describe(url="The feed's address (https://...)")
    @admin_only
    async def add(self, interaction: discord.Interaction, url: app_commands.Range[str, 8, 2000]) -> None:
        guild_id = guild_id_of(interaction)
        url = url.strip()
        try:
            check_url(url, allow=self.services.news.allowed_networks)
        except RefusedURLError as exc:
            await interaction.response.send_message(f"That address cannot be added: {exc}.", ephemeral=True)
            return
        # Fetching can take longer than Discord's 3 seconds: answer "thinking" first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        source = Source(url=url, name=url, guild_id=guild_id)
        result = await self.services.news.fetcher.fetch(source, SourceState())
        if result.status is not FetchStatus.OK or result.body is None:
            await interaction.followup.send(
                f"Could not fetch that feed: {result.error or result.status}.", ephemeral=True
            )
            return
        feed = parse_feed(result.body, source=source, content_type=result.content_type)
        if not feed.entries:
            why = feed.error or "it has no entries"
            await interaction.followup.send(f"That address is not a feed I can read: {why}.", ephemeral=True)
            return
        info = await self.services.delivery.add_source(guild_id, url, feed.title or url)
        await interaction.followup.send(
            f"Added **{escape(info.name)}** ({count(len(feed.entries), 'entry')} now). It is polled with the others; "
            "new stories from it that match your topics reach your subscribed channels.",
            ephemeral=True,
        )

    @app_commands.command(name="remove", description="Remove one of this server's feeds")
    @app_commands.describe(source="The feed's name or address")
    @admin_only
    async def remove(self, interaction: discord.Interaction, source: app_commands.Range[str, 1, 2000]) -> None:
        removed = await self.services.delivery.remove_source(guild_id_of(interaction), source)
        text = f"Removed **{escape(removed.name)}**." if removed else f"This server has no source “{source}”."
        await interaction.response.send_message(text, ephemeral=True)

    @remove.autocomplete("source")
    async def _sources(self, interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        """The server's sources matching what is typed. A choice's value (at most 100 characters) must name the
        source for `remove`: its URL, else its name when that is unique; a source with neither that short is
        not offered (typing its whole URL still removes it)."""
        if interaction.guild_id is None:
            return []
        infos = await self.services.delivery.list_sources(interaction.guild_id)
        names = Counter(info.name.casefold() for info in infos)
        choices = []
        for info in infos:
            if typed.casefold() not in (info.name + info.url).casefold():
                continue
            if len(info.url) <= CHOICE_LIMIT:
                value = info.url
            elif len(info.name) <= CHOICE_LIMIT and names[info.name.casefold()] == 1:
                value = info.name
            else:
                continue
            choices.append(app_commands.Choice(name=shorten(info.name, CHOICE_LIMIT) or value, value=value))
        return choices[:25]

    @app_commands.command(name="list", description="This server's own feeds and their health")
    @admin_only
    async def list(self, interaction: discord.Interaction) -> None:
        infos = await self.services.delivery.list_sources(guild_id_of(interaction))
        if not infos:
            await interaction.response.send_message(
                "This server has no sources of its own; the built-in ones are always read. "
                "Add one with `/sources add`.",
                ephemeral=True,
            )
            return
        items = [Item(escape(info.name), info.url + _disabled(info.disabled_reason)) for info in infos]
        embeds = [
            build_embed(title="This server's sources", items=page) for page in paginate(items, per_page=10, budget=5000)
        ]
        await send_pages(interaction, embeds, ephemeral=True)
