"""The bot end to end, as a user meets it: the real bot, started by `bot.app.running_bot`, against the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from bot.accords import Status, country_choices, find_events, kind_choices, list_members, load_knowledge
from bot.aio import FOREGROUND
from bot.discord_app.client import AccordWatchBot
from bot.discord_app.cogs import members as members_cog
from bot.discord_app.pager import REFUSAL
from tests.discord_emulator.fixtures import EmulatorHandle
from tests.discord_emulator.validation import check_commands

KNOWLEDGE = load_knowledge()


def footer(message: dict[str, Any]) -> str:
    return str(message["embeds"][0]["footer"]["text"])


def custom_ids(message: dict[str, Any]) -> dict[str, bool]:
    """custom_id -> disabled, read from the message's components as a user's client would."""
    return {c["custom_id"]: bool(c.get("disabled")) for row in message["components"] for c in row["components"]}


async def test_startup_logs_in_syncs_valid_commands_and_is_ready(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    assert bot.is_ready()
    assert [g.name for g in bot.guilds] == ["Accord Watch Test"]
    state = await emulator.state()
    commands = {c["name"]: c for c in state["commands"]}
    assert set(commands) == {
        "members",
        "timeline",
        "help",
        "latest",
        "story",
        "status",
        "watch",
        "sources",
        "subscribe",
        "unsubscribe",
        "subscriptions",
        "digest",
    }
    admin = str(1 << 5)  # Manage Server: configuration commands are hidden from others by default
    for name in ("watch", "sources", "subscribe", "unsubscribe", "subscriptions"):
        assert commands[name]["default_member_permissions"] == admin
    for name in ("members", "timeline", "latest", "story", "status", "digest", "help"):
        assert commands[name]["default_member_permissions"] is None
    assert check_commands([{k: v for k, v in c.items() if k != "id"} for c in state["commands"]]) is None
    [status] = commands["members"]["options"]
    assert status["type"] == 3
    assert not status["required"]
    assert [c["value"] for c in status["choices"]] == [s.value for s in Status]
    options = {o["name"]: o for o in commands["timeline"]["options"]}
    assert options["country"]["autocomplete"]
    assert options["kind"]["autocomplete"]
    assert (options["year"]["type"], options["year"]["min_value"], options["year"]["max_value"]) == (4, 1900, 2100)
    report = await emulator.requests()
    paths = [(e["method"], e["path"].split("/")[1]) for e in report["requests"]]
    assert paths[:3] == [("GET", "users"), ("GET", "oauth2"), ("PUT", "applications")]
    assert report["gateway"]["identifies"] == 1


async def test_a_command_runs_in_the_foreground_so_a_poll_holds_back(
    emulator: EmulatorHandle, bot: AccordWatchBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def members(*args: Any, **kwargs: Any) -> Any:
        seen.append(FOREGROUND.busy())
        return list_members(*args, **kwargs)

    monkeypatch.setattr(members_cog, "list_members", members)
    assert not FOREGROUND.busy()
    answer = await emulator.ask("members")
    assert answer["status"] == "answered"
    assert seen == [True]
    assert not FOREGROUND.busy()


async def test_members_with_and_without_a_status(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    everyone = await emulator.ask("members")
    [message] = everyone["messages"]
    assert everyone["status"] == "answered"
    assert not everyone["ephemeral"]
    view = list_members(KNOWLEDGE)
    assert len(message["embeds"][0]["fields"]) == len(view.members) + (1 if view.related else 0)
    in_force = await emulator.ask("members", {"status": "in_force"})
    [embed] = in_force["messages"][0]["embeds"]
    names = " ".join(f["name"] for f in embed["fields"])
    for member in list_members(KNOWLEDGE, Status.IN_FORCE).members:
        assert member.country.name in names
    assert "(in force)" in embed["title"].lower() or Status.IN_FORCE.label.lower() in embed["title"].lower()
    posted = await emulator.channel_messages(await emulator.channel_id())
    assert len(posted) == 2
    assert posted[0]["allowed_mentions"] == {"parse": []}


async def test_timeline_filters(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    answer = await emulator.ask("timeline", {"country": "Morocco", "year": 2020})
    expected = find_events(KNOWLEDGE, country="Morocco", year=2020).events
    [message] = answer["messages"]
    shown = [f for f in message["embeds"][0]["fields"]]
    assert len(shown) == min(len(expected), 6)
    assert expected
    assert all(f["name"].startswith("2020-") for f in shown)
    assert "Filtered by country Morocco, year 2020" in message["embeds"][0]["description"]


async def test_unknown_country_is_answered_ephemerally(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    answer = await emulator.ask("timeline", {"country": "Narnia"})
    assert answer["ephemeral"]
    assert answer["messages"][0]["content"] == find_events(KNOWLEDGE, country="Narnia").empty_reason
    assert await emulator.channel_messages(await emulator.channel_id()) == []


async def test_autocomplete_offers_countries_and_kinds(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    countries = await emulator.autocomplete("timeline", "country", {"country": "Mo"})
    assert [c["value"] for c in countries] == [c.name for c in country_choices(KNOWLEDGE, "Mo")]
    assert "Morocco" in [c["value"] for c in countries]
    kinds = await emulator.autocomplete("timeline", "kind", {"kind": "sig"})
    assert [c["value"] for c in kinds] == list(kind_choices(KNOWLEDGE, "sig"))
    assert "signing" in [c["value"] for c in kinds]
    assert len(await emulator.autocomplete("timeline", "kind", {"kind": ""})) <= 25


async def test_pagination_by_pressing_the_buttons(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    answer = await emulator.ask("timeline", user="member")
    message = answer["messages"][0]
    assert custom_ids(message) == {"pager:previous": True, "pager:next": False}
    seen = [f["name"] for f in message["embeds"][0]["fields"]]
    pages = [footer(message)]
    while not custom_ids(message)["pager:next"]:
        pressed = await emulator.wait_interaction(await emulator.press(message["id"], "pager:next", "member"))
        assert pressed["status"] == "answered"
        assert not pressed["ephemeral"]
        message = pressed["messages"][-1]
        seen += [f["name"] for f in message["embeds"][0]["fields"]]
        pages.append(footer(message))
    total = len(find_events(KNOWLEDGE).events)
    assert len(seen) == total
    assert len(pages) > 1
    assert pages[-1].startswith(f"Page {len(pages)} of {len(pages)}")
    back = await emulator.wait_interaction(await emulator.press(message["id"], "pager:previous", "member"))
    assert footer(back["messages"][-1]).startswith(f"Page {len(pages) - 1} of")
    [posted] = await emulator.channel_messages(await emulator.channel_id())
    assert posted["edited"]
    assert footer(posted) == footer(back["messages"][-1])


async def test_a_button_pressed_by_another_user_is_refused(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    answer = await emulator.ask("timeline", user="member")
    message_id = answer["messages"][0]["id"]
    refused = await emulator.wait_interaction(await emulator.press(message_id, "pager:next", "admin"))
    assert refused["ephemeral"]
    assert refused["messages"][0]["content"] == REFUSAL
    [posted] = await emulator.channel_messages(await emulator.channel_id())
    assert footer(posted).startswith("Page 1 of")
    assert not posted["edited"]


async def test_help_is_ephemeral(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    answer = await emulator.ask("help")
    assert answer["ephemeral"]
    assert "/timeline" in str(answer["messages"][0]["embeds"])


async def test_a_429_on_the_command_response_is_retried(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    await emulator.fault("POST", r"^/interactions/\d+/[^/]+/callback$", 429, body={"retry_after": 0.1})
    answer = await emulator.ask("members")
    assert answer["status"] == "answered"
    assert answer["error"] is None
    report = await emulator.requests()
    callbacks = [e["status"] for e in report["requests"] if e["path"].endswith("/callback")]
    assert callbacks == [429, 200]
    assert report["rate_limited"] == 1


async def test_a_429_on_a_message_is_retried(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    general = bot.get_channel(await emulator.channel_id())
    assert isinstance(general, discord.TextChannel)
    await emulator.fault("POST", r"^/channels/\d+/messages$", 429, body={"retry_after": 0.1})
    await general.send(embed=discord.Embed(title="digest"))
    [posted] = await emulator.channel_messages(general.id)
    assert posted["embeds"][0]["title"] == "digest"
    statuses = [e["status"] for e in (await emulator.requests())["requests"] if e["path"].endswith("/messages")]
    assert statuses == [429, 200]


async def test_a_500_once_is_survived(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    await emulator.fault("POST", r"/callback$", 500)
    answer = await emulator.ask("members")
    assert answer["status"] == "answered"
    callbacks = [e["status"] for e in (await emulator.requests())["requests"] if e["path"].endswith("/callback")]
    assert callbacks == [500, 200]


async def test_reconnect_and_resume_keep_the_bot_answering(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    assert await emulator.reconnect() == 1
    for _ in range(200):
        if (await emulator.requests())["gateway"]["resumes"] == 1:
            break
        await asyncio.sleep(0.02)
    gateway = (await emulator.requests())["gateway"]
    assert (gateway["resumes"], gateway["identifies"]) == (1, 1)
    answer = await emulator.ask("members", {"status": "announced_intent"})
    assert answer["status"] == "answered"
