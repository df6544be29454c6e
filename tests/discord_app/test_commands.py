"""The command handlers through discord.py's app-command objects, without a network.

The Discord side is a spec'd mock of `discord.Interaction` (it records what the handler answered); the full
end-to-end run against the Discord API emulator lives in tests/e2e.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, Mock

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.accords import Status, load_knowledge
from bot.delivery.service import Delivery
from bot.discord_app.client import Services
from bot.discord_app.cogs.help import HelpCog
from bot.discord_app.cogs.members import MembersCog
from bot.discord_app.cogs.timeline import TimelineCog
from bot.discord_app.pager import REFUSAL, Pager
from bot.discord_app.render import EMBED_TOTAL_LIMIT, embed_size
from bot.news.service import NewsService
from bot.scheduling import Scheduler
from bot.store.database import create_engine, migrate
from bot.store.news import NewsStore

KNOWLEDGE = load_knowledge()


def make_interaction(user_id: int = 111) -> Any:
    interaction = Mock(spec=discord.Interaction)
    interaction.user = Mock(spec=discord.Member)
    interaction.user.id = user_id
    interaction.response = Mock(spec=discord.InteractionResponse)
    interaction.response.send_message = AsyncMock()
    interaction.response.edit_message = AsyncMock()
    interaction.response.is_done = Mock(return_value=False)
    interaction.original_response = AsyncMock(return_value=Mock(spec=discord.InteractionMessage))
    return interaction


def sent(interaction: Any) -> dict[str, Any]:
    interaction.response.send_message.assert_awaited_once()
    kwargs: dict[str, Any] = interaction.response.send_message.await_args.kwargs
    args = interaction.response.send_message.await_args.args
    if args:
        kwargs = {**kwargs, "content": args[0]}
    return kwargs


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[commands.Bot]:
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    await migrate(engine)

    def clock() -> datetime:
        return datetime.now(UTC)

    store = NewsStore(engine)
    news = NewsService(store, (), clock, default_interval=600)
    delivery = Delivery(engine, store, clock, max_article_age=None)
    services = Services(
        knowledge=KNOWLEDGE, engine=engine, clock=clock, news=news, scheduler=Scheduler(), delivery=delivery
    )
    client = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    for cog in (MembersCog(services), TimelineCog(services), HelpCog()):
        await client.add_cog(cog)
    yield client
    await news.close()
    await engine.dispose()


def command(bot: commands.Bot, name: str) -> app_commands.Command[Any, ..., Any]:
    found = bot.tree.get_command(name)
    assert isinstance(found, app_commands.Command)
    return found


def test_command_definitions_are_valid_for_discord(bot: commands.Bot) -> None:
    payloads = {cmd.name: cmd.to_dict(bot.tree) for cmd in bot.tree.get_commands()}
    assert set(payloads) == {"members", "timeline", "help"}
    for payload in payloads.values():
        assert 1 <= len(payload["description"]) <= 100
        for option in payload.get("options", []):
            assert 1 <= len(option["description"]) <= 100
            assert len(option.get("choices", [])) <= 25
    timeline = {option["name"]: option for option in payloads["timeline"]["options"]}
    assert timeline["country"]["autocomplete"] is True
    assert timeline["kind"]["autocomplete"] is True
    assert timeline["year"]["type"] == discord.AppCommandOptionType.integer.value
    assert not any(option["required"] for option in timeline.values())
    status = payloads["members"]["options"][0]
    assert {choice["value"] for choice in status["choices"]} == {s.value for s in Status}


async def test_members_lists_every_member_with_dates_and_sources(bot: commands.Bot) -> None:
    interaction = make_interaction()
    await command(bot, "members").callback(bot.get_cog("MembersCog"), interaction)  # type: ignore[arg-type]
    embed: discord.Embed = sent(interaction)["embed"]
    assert embed_size(embed) <= EMBED_TOTAL_LIMIT
    text = "\n".join(f"{field.name}\n{field.value}" for field in embed.fields)
    for name in ("United Arab Emirates", "Bahrain", "Morocco", "Sudan", "Kazakhstan"):
        assert name in text
    assert "Signed, not ratified" in text  # Sudan, never over-claimed
    assert "Announced intent to join" in text
    assert "2025-11-06" in text
    assert embed.fields[-1].name.startswith("Related")
    assert "Kosovo" in embed.fields[-1].value
    assert "Somaliland" in embed.fields[-1].value
    assert all("](http" in field.value for field in embed.fields)  # sourced
    assert "Egypt" not in text.replace("Egypt (1979)", "")


async def test_members_filtered_by_status(bot: commands.Bot) -> None:
    interaction = make_interaction()
    choice = app_commands.Choice(name="x", value=Status.SIGNED_NOT_RATIFIED.value)
    await command(bot, "members").callback(bot.get_cog("MembersCog"), interaction, status=choice)  # type: ignore[arg-type]
    embed: discord.Embed = sent(interaction)["embed"]
    assert [field.name.split(" · ")[0].split(" ", 1)[-1] for field in embed.fields] == ["Sudan"]


async def test_timeline_filters_and_paginates_with_buttons(bot: commands.Bot) -> None:
    interaction = make_interaction()
    cog = bot.get_cog("TimelineCog")
    await command(bot, "timeline").callback(cog, interaction, country=None, year=None, kind=None)  # type: ignore[arg-type]
    answer = sent(interaction)
    pager = answer["view"]
    assert isinstance(pager, Pager)
    assert len(pager.pages) > 1
    dates = [field.name[:10] for page in pager.pages for field in page.fields]
    assert len(dates) == len(KNOWLEDGE.events)  # every event, exactly once
    assert dates == sorted(dates, reverse=True)  # newest first
    assert all(embed_size(page) <= EMBED_TOTAL_LIMIT for page in pager.pages)
    assert pager.previous.disabled
    assert not pager.next.disabled

    press = make_interaction(user_id=111)
    await pager.next.callback(press)
    assert pager.index == 1
    press.response.edit_message.assert_awaited_once()
    assert press.response.edit_message.await_args.kwargs["embed"] is pager.pages[1]


async def test_another_user_cannot_turn_the_pages(bot: commands.Bot) -> None:
    pager = Pager([discord.Embed(title="1"), discord.Embed(title="2")], owner_id=111)
    stranger = make_interaction(user_id=222)
    assert await pager.interaction_check(stranger) is False
    assert sent(stranger) == {"content": REFUSAL, "ephemeral": True}
    assert pager.index == 0


async def test_timeline_by_country_code_and_year(bot: commands.Bot) -> None:
    interaction = make_interaction()
    cog = bot.get_cog("TimelineCog")
    await command(bot, "timeline").callback(cog, interaction, country="sd", year=2021, kind=None)  # type: ignore[arg-type]
    answer = sent(interaction)
    embed: discord.Embed = answer.get("embed") or answer["view"].pages[0]
    assert embed.fields
    assert all(field.name.startswith("2021-") for field in embed.fields)
    assert all("Sudan" in field.value for field in embed.fields)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"country": "Atlantis", "year": None, "kind": None}, "Atlantis"),
        ({"country": None, "year": 1999, "kind": None}, "1999"),
        ({"country": "Kosovo", "year": 2022, "kind": "signing"}, "Kosovo"),
    ],
)
async def test_no_result_is_ephemeral_and_names_the_filter(
    bot: commands.Bot, options: dict[str, Any], needle: str
) -> None:
    interaction = make_interaction()
    await command(bot, "timeline").callback(bot.get_cog("TimelineCog"), interaction, **options)  # type: ignore[arg-type]
    answer = sent(interaction)
    assert answer["ephemeral"] is True
    assert needle in answer["content"]


async def test_country_autocomplete_offers_dataset_countries(bot: commands.Bot) -> None:
    cog = bot.get_cog("TimelineCog")
    assert isinstance(cog, TimelineCog)
    choices = await cog._country(make_interaction(), "mor")
    assert [choice.value for choice in choices][:1] == ["Morocco"]
    everything = await cog._country(make_interaction(), "")
    assert 0 < len(everything) <= 25


async def test_help_lists_the_commands(bot: commands.Bot) -> None:
    interaction = make_interaction()
    await command(bot, "help").callback(bot.get_cog("HelpCog"), interaction)  # type: ignore[arg-type]
    embed: discord.Embed = sent(interaction)["embed"]
    names = [field.name for field in embed.fields]
    assert any(name.startswith("/members") for name in names)
    assert any(name.startswith("/timeline") for name in names)
