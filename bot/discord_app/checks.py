"""Who may run what: configuration needs Manage Server, set as the command's default permission (so Discord
hides it from others) and checked again here, because server admins can override default permissions."""

from __future__ import annotations

import discord
from discord import app_commands


def require_admin(interaction: discord.Interaction) -> bool:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


admin_only = app_commands.check(require_admin)


def guild_id_of(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id
