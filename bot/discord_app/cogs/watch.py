"""`/watch`: the server's watched topics, as queries ("Abraham Accords" OR normaliz*)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.checks import admin_only, guild_id_of
from bot.discord_app.client import Services
from bot.discord_app.pager import send_pages
from bot.discord_app.render import Item, build_embed, escape, paginate, shorten
from bot.discord_app.story_render import event_line

QUERY_HELP = 'Words, "exact phrases", OR, -exclude, NOT, (groups), prefix*'


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class WatchCog(commands.GroupCog, group_name="watch", group_description="The topics this server watches"):
    def __init__(self, services: Services) -> None:
        self.services = services
        super().__init__()

    @app_commands.command(name="add", description="Watch a new topic")
    @app_commands.describe(name="A short name, e.g. saudi-talks", query=QUERY_HELP)
    @admin_only
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 32],
        query: app_commands.Range[str, 1, 500],
    ) -> None:
        topic = await self.services.delivery.add_topic(guild_id_of(interaction), name, query)
        await interaction.response.send_message(
            f"Now watching **{escape(topic.name)}**: `{shorten(topic.query, 1800)}`. New stories that match it "
            "reach the channels subscribed to it (or to all topics).",
            ephemeral=True,
        )

    @app_commands.command(name="remove", description="Stop watching a topic")
    @app_commands.describe(name="The topic's name")
    @admin_only
    async def remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 32]) -> None:
        removed = await self.services.delivery.remove_topic(guild_id_of(interaction), name)
        if removed is None:
            text = f"This server watches no topic called “{escape(name)}”."
        elif removed.builtin:
            text = (
                f"Stopped watching **{escape(removed.name)}**, the built-in topic: the news it matched no longer "
                "reaches this server. `/watch reset` brings it back."
            )
        else:
            text = f"Stopped watching **{escape(removed.name)}**."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="reset", description="Watch the built-in topic again")
    @admin_only
    async def reset(self, interaction: discord.Interaction) -> None:
        restored = await self.services.delivery.restore_builtin(guild_id_of(interaction))
        text = (
            "Watching the built-in topic again: news about the accords and normalization with Israel."
            if restored
            else "This server already watches the built-in topic."
        )
        await interaction.response.send_message(text, ephemeral=True)

    @remove.autocomplete("name")
    async def _names(self, interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        # Only admins may run the command: nobody else learns the server's topic names from its choices.
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            return []
        topics = await self.services.delivery.list_topics(interaction.guild_id)
        return [
            app_commands.Choice(name=topic.name, value=topic.name)
            for topic in topics
            if typed.casefold() in topic.name.casefold()
        ][:25]

    @app_commands.command(name="list", description="The topics this server watches")
    @admin_only
    async def list(self, interaction: discord.Interaction) -> None:
        topics = await self.services.delivery.list_topics(guild_id_of(interaction))
        if not topics:
            await interaction.response.send_message(
                "This server watches no topic. Add one with `/watch add`.", ephemeral=True
            )
            return
        items = [
            Item(topic.name + (" (built in)" if topic.builtin else ""), f"`{shorten(topic.query, 1000)}`")
            for topic in topics
        ]
        pages = paginate(items, per_page=10, budget=5000)
        embeds = [build_embed(title="Watched topics", items=page) for page in pages]
        await send_pages(interaction, embeds, ephemeral=True)

    @app_commands.command(name="test", description="Which stories of the last 7 days a query matches, and why")
    @app_commands.describe(query=QUERY_HELP)
    @admin_only
    async def test(self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 500]) -> None:
        hits = await self.services.delivery.test_query(guild_id_of(interaction), query, days=7)
        if not hits:
            await interaction.response.send_message(
                f"`{shorten(query, 1800)}` matches no story of the last 7 days.", ephemeral=True
            )
            return
        items = [
            Item(
                escape(hit.story.title),
                "\n".join(
                    line
                    for line in (
                        event_line(hit.story),
                        "Matched: " + ", ".join(f"`{term}`" for term in hit.terms),
                        f"`/story {hit.story.id}`",
                    )
                    if line
                ),
            )
            for hit in hits
        ]
        pages = paginate(items, per_page=8, budget=5000)
        embeds = [
            build_embed(title=f"{len(hits)} stor{'y' if len(hits) == 1 else 'ies'} matched", items=page)
            for page in pages
        ]
        await send_pages(interaction, embeds, ephemeral=True)
