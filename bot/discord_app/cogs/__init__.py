"""The command groups, one module each; `build` makes one cog of each for the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from bot.discord_app.client import AccordWatchBot


def build(bot: AccordWatchBot) -> list[commands.Cog]:
    from bot.discord_app.cogs.help import HelpCog
    from bot.discord_app.cogs.members import MembersCog
    from bot.discord_app.cogs.timeline import TimelineCog

    return [MembersCog(bot.services), TimelineCog(bot.services), HelpCog()]
