"""Who may run what: configuration needs Manage Server, set as the command's default permission (so Discord
hides it from others) and checked again here, because server admins can override default permissions."""

from __future__ import annotations

import unicodedata
from typing import Any

import discord
from discord import app_commands

from bot.aio import FOREGROUND


def require_admin(interaction: discord.Interaction) -> bool:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


admin_only = app_commands.check(require_admin)


def is_admin(interaction: discord.Interaction) -> bool:
    """Whether the person asking may run the admin commands: hints point only to commands they can use."""
    return interaction.guild is not None and interaction.permissions.manage_guild


def guild_id_of(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def _control_characters(options: Any) -> bool:
    """Whether any string option, at any depth, holds a control character (tab and newlines aside)."""
    for option in options or ():
        value = option.get("value")
        if isinstance(value, str) and any(
            unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r" for ch in value
        ):
            return True
        if _control_characters(option.get("options")):
            return True
    return False


class Tree(app_commands.CommandTree[Any]):
    """The command tree, with one check before every command: text with control characters is refused at the
    boundary (a NUL reaching PostgreSQL fails the query; none belongs in a topic, a name or an address). Every
    command and autocomplete runs in the foreground: a poll holds back until it has answered (bot.aio.Foreground).
    """

    async def _call(self, interaction: discord.Interaction[Any]) -> None:
        with FOREGROUND.claim():
            await super()._call(interaction)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        data: Any = interaction.data or {}
        if not _control_characters(data.get("options")):
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            await interaction.response.send_message(
                "That text holds control characters (such as NUL), which no option accepts. Type it again without "
                "them.",
                ephemeral=True,
            )
        return False
