"""The one place that turns errors in app commands into answers.

Order: a failed check (missing permission, wrong place) is the user's to fix and is answered with what to do;
anything else is our fault, logged with its traceback and answered with a short apology. The answer is
ephemeral and works whether or not the interaction was already answered or deferred.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.delivery.values import DeliveryError

log = logging.getLogger(__name__)


def delivery_message(error: DeliveryError) -> str:
    """The refusal, and for a query the problem's position, marked under the query when it fits one line."""
    if error.position is None:
        return error.message
    text = f"{error.message} at character {error.position + 1}"
    query = error.query
    if query is not None and len(query) <= 120 and "`" not in query and "\n" not in query:
        text += f"\n```\n{query}\n{' ' * error.position}^\n```"
    return text


def message_for(error: app_commands.AppCommandError) -> str | None:
    """The user-facing text for an error that is the user's to fix; None for our own failures."""
    original = getattr(error, "original", None)
    if isinstance(original, DeliveryError):
        return delivery_message(original)
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ").replace("guild", "server").title() for p in error.missing_permissions)
        return f"You need the {needed} permission to use this command."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server, not in direct messages."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use this command here."
    if isinstance(error, app_commands.TransformerError):
        return f"That value was not understood: {error.value!r}."
    return None


async def reply(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral answer, as a first response or as a followup."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    text = message_for(error)
    if text is None:
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("command /%s failed", command, exc_info=error)
        text = "Sorry, something went wrong on our side while answering. It has been logged; please try again later."
    try:
        await reply(interaction, text)
    except discord.HTTPException:
        log.warning("could not tell the user about the error (interaction gone)")
    client: Any = interaction.client
    services = getattr(client, "services", None)
    if services is not None and interaction.command is not None:
        waited = max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
        services.metrics.command_answered(interaction.command.qualified_name, waited)
