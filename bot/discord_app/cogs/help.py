"""`/help`: what the bot does and which commands exist."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.checks import is_admin
from bot.discord_app.render import Item, build_embed

ABOUT = (
    "Accord Watch follows normalization agreements with Israel: the Abraham Accords (the UAE, Bahrain, "
    "Morocco, Sudan; Kazakhstan's announced accession) and the countries around them. It keeps a sourced "
    "record of members and events, and reads the news so that your server hears of new developments."
)
MEMBER_SETUP = Item(
    "Digests and alerts in a channel",
    "A server admin (Manage Server) sets them up with `/subscribe`; `/status` shows when the next digest is due.",
)
COMMANDS = (
    Item("/members [status]", "Members of the Abraham Accords: status, since when, what they signed, sources."),
    Item(
        "/timeline [country] [year] [kind]",
        "Events newest first, filtered by country, year or kind; turn pages with the buttons.",
    ),
    Item("/latest [topic] [count] · /story id", "The newest matching stories; one story with every link."),
    Item("/digest preview · /digest now", "What a channel's next digest holds; send it now (admins)."),
    Item("/status", "Are the sources healthy, when is the next digest, what is paused and why."),
    Item(
        "Set up (Manage Server)",
        "1. `/subscribe channel:#news mode:both schedule:daily 09:00 timezone:Europe/London`\n"
        "2. `/watch add name:saudi query:Saudi normaliz*` (optional: the built-in topic covers the accords)\n"
        "3. `/digest now channel:#news` to see it work. Also `/unsubscribe`, `/subscriptions`, `/watch list|test|"
        "remove|reset`, `/sources add|list|remove`.",
    ),
    Item("/help", "This message."),
)


class HelpCog(commands.Cog):
    @app_commands.command(name="help", description="What Accord Watch does and which commands it has")
    async def help(self, interaction: discord.Interaction) -> None:
        # Members see no setup steps they cannot run.
        items = (
            COMMANDS
            if is_admin(interaction)
            else tuple(MEMBER_SETUP if i.name.startswith("Set up") else i for i in COMMANDS)
        )
        embed = build_embed(title="Accord Watch", description=ABOUT, items=items, footer="Sources are linked.")
        await interaction.response.send_message(embed=embed, ephemeral=True)
