"""Interactions against Discord's rules (issue 11): autocomplete choices (item 2), who an interaction response
pings (item 5), removing the bot from a server and per-server command permission overrides (item 7), followups
(item 8). The rig's discord.py client answers (tests/discord_emulator/conftest.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord import app_commands

from tests.discord_emulator.conftest import Rig
from tests.discord_emulator.fixtures import ControlError
from tests.discord_emulator.validation import check_choices

# Item 2: autocomplete choices ----------------------------------------------------------------------------


async def offer(rig: Rig, choices: list[app_commands.Choice[Any]]) -> dict[str, Any]:
    rig.outcomes["fruits"] = choices
    body = {"command": "fruit", "focused": "fruit", "options": {"fruit": "a"}, "user": "member"}
    result: dict[str, Any] = await rig.emulator.call("POST", "/autocomplete", body)
    return result


@pytest.mark.parametrize(
    ("choice", "path"),
    [
        (app_commands.Choice(name="n" * 101, value="v"), "name"),
        (app_commands.Choice(name="n", value="v" * 101), "value"),
        (app_commands.Choice(name="", value="v"), "name"),
        (app_commands.Choice(name="n", value=3), "value"),  # the option is a string
    ],
)
async def test_autocomplete_choices_discord_refuses(rig: Rig, choice: app_commands.Choice[Any], path: str) -> None:
    result = await offer(rig, [app_commands.Choice(name="apple", value="apple"), choice])
    assert result["choices"] is None
    assert result["error"]["code"] == 50035
    assert result["error"]["errors"]["data"]["choices"]["1"][path]["_errors"]


async def test_autocomplete_choices_at_the_limits_are_accepted(rig: Rig) -> None:
    longest = app_commands.Choice(name="n" * 100, value="v" * 100)
    assert (await offer(rig, [longest]))["choices"] == [{"name": "n" * 100, "value": "v" * 100}]
    many = [app_commands.Choice(name=str(n), value=str(n)) for n in range(26)]
    result = await offer(rig, many)
    assert result["error"]["errors"]["data"]["choices"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


def test_a_choice_without_a_name_or_value_is_refused() -> None:
    refusal = check_choices({"choices": [{"value": "x"}, {"name": "n"}]}, 3)
    assert refusal is not None
    errors = refusal[1]["errors"]["data"]["choices"]
    assert errors["0"]["name"]["_errors"][0]["code"] == "BASE_TYPE_REQUIRED"
    assert errors["1"]["value"]["_errors"][0]["code"] == "BASE_TYPE_REQUIRED"
    assert check_choices({"choices": [{"name": "n", "value": 2.5}]}, 10) is None
    assert check_choices({"choices": [{"name": "n", "value": "2"}]}, 4) is None  # digits read as a number


# Item 5: an interaction response parses only users by default -------------------------------------------


async def test_an_interaction_response_pings_users_only_by_default(rig: Rig) -> None:
    state = await rig.emulator.state()
    member = state["users"]["member"]["id"]
    role = await rig.emulator.add_role("watchers", mentionable=True)
    text = f"<@{member}> <@&{role}> @everyone"
    for later in (False, True):
        answer = await rig.emulator.ask("echo", {"text": text, "later": later})
        [message] = answer["messages"]
        assert (message["mentions"], message["mention_roles"], message["mention_everyone"]) == ([member], [], False)


# Item 7: the bot removed from a server -----------------------------------------------------------------------


async def test_removing_the_bot_sends_guild_delete_and_hides_the_server(rig: Rig) -> None:
    created = await rig.emulator.call("POST", "/guilds", {"name": "Short stay"})
    guild_id = int(created["id"])
    for _ in range(100):
        if rig.client.get_guild(guild_id) is not None:
            break
        await asyncio.sleep(0.01)
    channel = rig.client.get_guild(guild_id).text_channels[0]  # type: ignore[union-attr]
    removed: list[int] = []

    async def on_guild_remove(guild: discord.Guild) -> None:
        removed.append(guild.id)

    rig.client.event(on_guild_remove)
    await rig.emulator.remove_bot(guild_id)
    for _ in range(100):
        if removed:
            break
        await asyncio.sleep(0.01)
    assert removed == [guild_id]
    assert rig.client.get_guild(guild_id) is None
    with pytest.raises(discord.Forbidden) as caught:
        await rig.client.http.send_message(channel.id, params=_text("anyone?"))
    assert caught.value.code == 50001
    with pytest.raises(ControlError, match=f"no guild {guild_id}"):
        await rig.emulator.run_command("ping", guild_id=guild_id)
    state = await rig.emulator.state()
    assert str(guild_id) not in {g["id"] for g in state["guilds"]}
    await rig.emulator.call("POST", f"/guilds/{guild_id}/join")
    for _ in range(100):
        if rig.client.get_guild(guild_id) is not None:
            break
        await asyncio.sleep(0.01)
    assert rig.client.get_guild(guild_id) is not None
    await rig.client.http.send_message(channel.id, params=_text("back"))


def _text(content: str) -> Any:
    from discord.http import handle_message_parameters

    return handle_message_parameters(content=content)


# Item 7: command permission overrides ------------------------------------------------------------------------


async def test_a_role_granted_a_hidden_command_may_run_it_and_the_bot_decides(rig: Rig) -> None:
    with pytest.raises(ControlError, match="hidden from user"):
        await rig.emulator.run_command("admin", user="member")
    helpers = await rig.emulator.add_role("helpers", members=["member"])
    await rig.emulator.command_permissions("admin", [{"type": "role", "id": str(helpers), "permission": True}])
    answer = await rig.emulator.ask("admin", user="member")
    assert answer["messages"][0]["content"] == "hello admin"
    # Discord lets the member run it; the member still lacks Manage Server, which the bot itself can see.
    assert rig.outcomes["admin"] == (False, True)


async def test_overrides_deny_users_channels_and_everyone(rig: Rig) -> None:
    state = await rig.emulator.state()
    guild = state["guilds"][0]
    admin = state["users"]["admin"]["id"]
    news = await rig.emulator.channel_id("news")
    await rig.emulator.command_permissions("admin", [{"type": "user", "id": admin, "permission": False}])
    with pytest.raises(ControlError, match="hidden from user"):
        await rig.emulator.run_command("admin", user="admin")
    await rig.emulator.ask("admin", user="owner")  # the owner uses every command
    await rig.emulator.command_permissions("admin", [{"type": "channel", "id": str(news), "permission": False}])
    await rig.emulator.ask("admin", user="admin")
    with pytest.raises(ControlError, match="hidden from user"):
        await rig.emulator.run_command("admin", user="admin", channel_id=news)
    # Application-wide: @everyone denied every command, except where a command's own override allows.
    await rig.emulator.command_permissions("admin", [])
    await rig.emulator.command_permissions(None, [{"type": "role", "id": guild["id"], "permission": False}])
    with pytest.raises(ControlError, match="hidden from user"):
        await rig.emulator.run_command("ping", user="member")
    await rig.emulator.command_permissions("ping", [{"type": "role", "id": guild["id"], "permission": True}])
    assert (await rig.emulator.ask("ping", user="member"))["messages"][0]["content"] == "pong"
    with pytest.raises(ControlError, match="type"):
        await rig.emulator.command_permissions("ping", [{"type": "team", "id": "1", "permission": True}])


# Item 8: followups -------------------------------------------------------------------------------------------


async def test_a_followup_answers_with_its_message_even_without_wait(rig: Rig) -> None:
    await rig.emulator.ask("once")
    _, token = rig.captured["once"]
    app = rig.emulator.server.application_id
    url = f"{rig.emulator.api_base}/webhooks/{app}/{token}"
    async with rig.emulator.session.post(url, json={"content": "more"}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["content"] == "more"
    assert body["webhook_id"] == str(app)
