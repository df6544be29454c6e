"""The command groups, one module each; `build` makes one cog of each for the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from bot.discord_app.client import AccordWatchBot


def build(bot: AccordWatchBot) -> list[commands.Cog]:
    from bot.discord_app.cogs.digest import DigestCog
    from bot.discord_app.cogs.help import HelpCog
    from bot.discord_app.cogs.members import MembersCog
    from bot.discord_app.cogs.sources import SourcesCog
    from bot.discord_app.cogs.status import StatusCog
    from bot.discord_app.cogs.stories import StoriesCog
    from bot.discord_app.cogs.subscriptions import SubscriptionsCog
    from bot.discord_app.cogs.timeline import TimelineCog
    from bot.discord_app.cogs.watch import WatchCog

    services = bot.services
    return [
        MembersCog(services),
        TimelineCog(services),
        StoriesCog(services),
        StatusCog(services),
        WatchCog(services),
        SourcesCog(services),
        SubscriptionsCog(bot),
        DigestCog(bot),
        HelpCog(),
    ]
