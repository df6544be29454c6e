"""`/members`: who is in the Abraham Accords, since when, and what exactly they signed."""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.accords import Member, Status, list_members
from bot.accords.queries import MembersView
from bot.delivery.values import ReportedMember
from bot.discord_app.client import Services
from bot.discord_app.flags import with_flag
from bot.discord_app.render import FIELD_COUNT_LIMIT, Item, build_embed, escape, shorten

INTRO = (
    "Countries that signed the Abraham Accords or announced they will join. Egypt (1979) and Jordan (1994) "
    "have peace treaties with Israel but are not members."
)
STATUS_CHOICES = [app_commands.Choice(name=status.label, value=status.value) for status in Status]


def _links(urls: tuple[str, ...]) -> str:
    return " ".join(f"[source{'' if i == 0 else f' {i + 1}'}]({url})" for i, url in enumerate(urls[:3]))


def member_item(member: Member) -> Item:
    name = f"{with_flag(member.country)} · {member.status.label}"
    value = f"**Since {member.since.isoformat()}.** {escape(member.signed)} {_links(member.sources)}"
    return Item(name, value)


def related_item(related: tuple[Member, ...]) -> Item:
    lines = [
        f"{with_flag(m.country)}, {m.since.isoformat()}: {escape(shorten(m.signed, 300))} {_links(m.sources[:1])}"
        for m in related
    ]
    return Item("Related countries (not signatories)", "\n".join(lines))


def reported_item(reported: Sequence[ReportedMember]) -> Item:
    lines = [
        f"{with_flag(r.country)}: {r.kind.value.replace('_', ' ')} reported {r.date.isoformat()} by "
        f"{escape(', '.join(r.outlets[:4]))} (`/story {r.story_id}`)"
        for r in reported
    ]
    return Item("Reported in the news (not members until confirmed)", "\n".join(lines))


def members_embed(
    view: MembersView, status: Status | None = None, reported: Sequence[ReportedMember] = ()
) -> discord.Embed:
    """One embed: members first, related countries and news reports in their own sections, all sourced."""
    items = [member_item(member) for member in view.members]
    room = FIELD_COUNT_LIMIT - (1 if view.related else 0) - (1 if reported else 0)
    if len(items) > room:
        hidden = len(items) - room + 1
        items = [*items[: room - 1], Item("More", f"{hidden} more; filter with the `status` option.")]
    if view.related:
        items.append(related_item(view.related))
    if reported:
        items.append(reported_item(reported))
    title = "Abraham Accords: members" + (f" ({status.label.lower()})" if status else "")
    embed = build_embed(title=title, description=INTRO, items=items, footer="Dates are local dates of the event.")
    return embed


class MembersCog(commands.Cog):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="members", description="Who is in the Abraham Accords, since when, and what they signed")
    @app_commands.describe(status="Only countries with this status")
    @app_commands.choices(status=STATUS_CHOICES)
    async def members(self, interaction: discord.Interaction, status: app_commands.Choice[str] | None = None) -> None:
        chosen = Status(status.value) if status else None
        view = list_members(self.services.knowledge, chosen)
        if not view.members and not view.related:
            label = chosen.label.lower() if chosen else "any status"
            await interaction.response.send_message(f"No country has the status “{label}”.", ephemeral=True)
            return
        reported = [] if chosen else await self.services.delivery.reported_members()
        await interaction.response.send_message(embed=members_embed(view, chosen, reported))
