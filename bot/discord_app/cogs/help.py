"""`/help`: what the bot does and which commands exist."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.render import Item, build_embed

ABOUT = (
    "Accord Watch follows normalization agreements with Israel: the Abraham Accords (the UAE, Bahrain, "
    "Morocco, Sudan; Kazakhstan's announced accession) and the countries around them. It keeps a sourced "
    "record of members and events, and reads the news so that your server hears of new developments."
)
COMMANDS = (
    Item("/members [status]", "Members of the Abraham Accords: status, since when, what they signed, sources."),
    Item(
        "/timeline [country] [year] [kind]",
        "Events newest first, filtered by country, year or kind; turn pages with the buttons.",
    ),
    Item("/help", "This message."),
)


class HelpCog(commands.Cog):
    @app_commands.command(name="help", description="What Accord Watch does and which commands it has")
    async def help(self, interaction: discord.Interaction) -> None:
        embed = build_embed(title="Accord Watch", description=ABOUT, items=COMMANDS, footer="Sources are linked.")
        await interaction.response.send_message(embed=embed, ephemeral=True)
