"""`/timeline`: what happened when, newest first, filtered and paginated."""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.accords import Knowledge, TimelineEvent, country_choices, find_events, kind_choices, with_reported
from bot.discord_app.client import Services
from bot.discord_app.flags import flag
from bot.discord_app.pager import send_pages
from bot.discord_app.render import EMBED_TOTAL_LIMIT, Item, build_embed, escape, link, paginate

EVENTS_PER_PAGE = 6
PAGE_TIMEOUT = 300.0
# Room left for the title, description and footer of each page within the 6000-character limit.
PAGE_BUDGET = EMBED_TOTAL_LIMIT - 600


def kind_label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def event_item(event: TimelineEvent) -> Item:
    flags = "".join(flag(country) for country in event.countries)
    name = f"{event.date.isoformat()} · {kind_label(event.kind)}" + (f" {flags}" if flags else "")
    names = ", ".join(country.name for country in event.countries)
    confidence = "confirmed" if event.confidence == "confirmed" else "**reported**"
    outlets = f" by {escape(', '.join(event.outlets))}" if event.outlets else ""
    source = link("source", event.source_url)
    value = f"{escape(event.summary)}\n{names} · {confidence}{outlets}" + (f" · {source}" if source != "source" else "")
    return Item(name, value)


def describe_filters(country: str | None, year: int | None, kind: str | None) -> str:
    parts = [f"country {country}" if country else "", f"year {year}" if year else "", f"kind {kind}" if kind else ""]
    chosen = [part for part in parts if part]
    return ("Filtered by " + ", ".join(chosen) + ". ") if chosen else ""


def timeline_pages(events: Sequence[TimelineEvent], filters: str = "") -> list[discord.Embed]:
    """Every event exactly once, newest first, on as many pages as the limits need."""
    pages = paginate([event_item(event) for event in events], per_page=EVENTS_PER_PAGE, budget=PAGE_BUDGET)
    total = len(pages)
    return [
        build_embed(
            title="Abraham Accords timeline",
            description=f"{filters}Newest first.",
            items=page,
            footer=f"Page {number} of {total} · {len(events)} event{'s' if len(events) != 1 else ''}",
        )
        for number, page in enumerate(pages, start=1)
    ]


class TimelineCog(commands.Cog):
    def __init__(self, services: Services) -> None:
        self.services = services

    @app_commands.command(name="timeline", description="Events of the Abraham Accords, newest first")
    @app_commands.describe(
        country="A country's name or code, e.g. Morocco or MA",
        year="Only events of this year",
        kind="Only events of this kind, e.g. signing",
    )
    async def timeline(
        self,
        interaction: discord.Interaction,
        country: app_commands.Range[str, 1, 100] | None = None,
        year: app_commands.Range[int, 1900, 2100] | None = None,
        kind: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        result = find_events(await self._knowledge(), country=country, year=year, kind=kind)
        if result.empty_reason is not None or not result.events:
            await interaction.response.send_message(result.empty_reason or "No events match.", ephemeral=True)
            return
        pages = timeline_pages(result.events, describe_filters(country, year, kind))
        await send_pages(interaction, pages, idle=PAGE_TIMEOUT)

    async def _knowledge(self) -> Knowledge:
        """The curated events, and beside them the accessions the news reports (marked reported)."""
        return with_reported(self.services.knowledge, await self.services.delivery.reported_events())

    @timeline.autocomplete("country")
    async def _country(self, _interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=country.name, value=country.name)
            for country in country_choices(self.services.knowledge, typed)
        ]

    @timeline.autocomplete("kind")
    async def _kind(self, _interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=kind_label(kind), value=kind)
            for kind in kind_choices(await self._knowledge(), typed)
        ]
