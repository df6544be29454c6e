"""`/latest` and `/story`: the newest matching stories, and one story with every link."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.checks import guild_id_of
from bot.discord_app.client import Services
from bot.discord_app.pager import send_pages
from bot.discord_app.story_render import latest_pages, story_pages

MAX_STORY_ID = 2**31 - 1  # story numbers are 32-bit in the database
MAX_OPTION = 2**53  # Discord's largest integer option


class StoriesCog(commands.Cog):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="latest", description="The newest stories that match this server's topics")
    @app_commands.describe(topic="Only this watched topic", count="How many (1-20, default 5)")
    @app_commands.guild_only()
    async def latest(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 32] | None = None,
        count: app_commands.Range[int, 1, 20] = 5,
    ) -> None:
        stories = await self.services.delivery.latest(guild_id_of(interaction), topic=topic, count=count)
        if not stories:
            about = f" for the topic “{topic}”" if topic else ""
            await interaction.response.send_message(f"No stories in the last 30 days{about}.", ephemeral=True)
            return
        heading = f"Latest stories{f' on {topic}' if topic else ''}"
        await send_pages(interaction, latest_pages(stories, heading))

    @latest.autocomplete("topic")
    async def _topic(self, interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        topics = await self.services.delivery.list_topics(interaction.guild_id)
        return [
            app_commands.Choice(name=t.name, value=t.name) for t in topics if typed.casefold() in t.name.casefold()
        ][:25]

    @app_commands.command(name="story", description="One story: its outlets, countries, event and every link")
    @app_commands.describe(id="The story's number, as digests and /latest show it")
    @app_commands.guild_only()
    async def story(self, interaction: discord.Interaction, id: app_commands.Range[int, 1, MAX_OPTION]) -> None:
        # Discord bounds the option to its integer range, and the bot does not trust even that: a number no story
        # can have (stories are numbered in 32 bits) is answered like any unknown number, never looked up.
        found = 1 <= id <= MAX_STORY_ID
        story = await self.services.delivery.story(guild_id_of(interaction), id) if found else None
        if story is None:
            await interaction.response.send_message(f"There is no story {id}.", ephemeral=True)
            return
        await send_pages(interaction, story_pages(story))
