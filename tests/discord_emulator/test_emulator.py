"""The emulator alone, driven by a bare, unmodified discord.py client with a few tiny commands (the rig of
tests/discord_emulator/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_emulator.conftest import Rig


async def test_login_sync_and_ready(rig: Rig) -> None:
    synced = rig.outcomes["synced"]
    assert {c.name for c in synced} == {
        "ping",
        "slow",
        "once",
        "late",
        "expired",
        "big",
        "admin",
        "say",
        "fruit",
        "echo",
    }
    assert all(c.id > 0 for c in synced)
    state = await rig.emulator.state()
    stored = {c["name"]: c for c in state["commands"]}
    assert stored["say"]["options"][0]["type"] == 7  # channel
    assert [c["value"] for c in stored["say"]["options"][1]["choices"]] == ["calm", "loud"]
    assert stored["admin"]["default_member_permissions"] == str(1 << 5)
    assert rig.client.user is not None
    assert rig.client.user.id == int(state["users"]["bot"]["id"])
    assert [c.name for c in rig.guild().text_channels] == ["general", "news"]
    me = rig.guild().me
    assert me.guild_permissions.embed_links
    assert not me.guild_permissions.manage_guild
    log = [(e["method"], e["path"]) for e in (await rig.emulator.requests())["requests"]]
    assert log[:2] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]


async def test_invalid_command_definition_is_refused_with_field_path(rig: Rig) -> None:
    async def noop(interaction: discord.Interaction) -> None:
        return None

    rig.tree.add_command(app_commands.Command(name="wordy", description="d" * 101, callback=noop))
    with pytest.raises(app_commands.CommandSyncFailure) as caught:
        await rig.tree.sync()
    assert caught.value.code == 50035
    assert "In command 'wordy'" in str(caught.value)
    assert "description: Must be between 1 and 100 in length." in str(caught.value)


async def test_a_slash_command_is_answered(rig: Rig) -> None:
    answer = await rig.emulator.ask("ping")
    assert answer["status"] == "answered"
    assert answer["ephemeral"]
    assert [m["content"] for m in answer["messages"]] == ["pong"]
    assert await rig.emulator.channel_messages(await rig.emulator.channel_id()) == []  # ephemeral: not in the channel


async def test_first_followup_after_defer_edits_the_loading_message(rig: Rig) -> None:
    interaction_id = await rig.emulator.run_command("slow")
    answer = await rig.emulator.wait_interaction(interaction_id)
    assert answer["deferred"]
    assert answer["status"] == "answered"
    for _ in range(50):
        if len(answer["messages"]) == 2:
            break
        await asyncio.sleep(0.02)
        answer = await rig.emulator.wait_interaction(interaction_id, 0)
    assert [m["content"] for m in answer["messages"]] == ["first", "second"]
    posted = await rig.emulator.channel_messages(await rig.emulator.channel_id())
    assert [m["content"] for m in posted] == ["first", "second"]


async def test_a_second_response_is_40060(rig: Rig) -> None:
    answer = await rig.emulator.ask("once")
    assert answer["status"] == "answered"
    interaction_id, token = rig.captured["once"]
    url = f"{rig.emulator.api_base}/interactions/{interaction_id}/{token}/callback"
    async with rig.emulator.session.post(url, json={"type": 4, "data": {"content": "two"}}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 40060
    report = await rig.emulator.wait_interaction(interaction_id, 0)
    assert report["error"]["code"] == 40060


async def test_a_response_after_three_seconds_is_10062(rig: Rig) -> None:
    answer = await rig.emulator.ask("late", wait=1.0)
    assert answer["status"] == "expired"
    assert answer["messages"] == []
    error = rig.outcomes["late"]
    assert isinstance(error, discord.NotFound)
    assert error.code == 10062


async def test_followups_stop_when_the_token_expires(rig: Rig) -> None:
    interaction_id = await rig.emulator.run_command("expired")
    await rig.emulator.wait_interaction(interaction_id, 1.0)
    for _ in range(50):
        if "expired" in rig.outcomes:
            break
        await asyncio.sleep(0.02)
    error = rig.outcomes["expired"]
    assert error.status == 401
    assert error.code == 50027


async def test_oversize_embed_is_50035_with_the_field_path(rig: Rig) -> None:
    answer = await rig.emulator.ask("big", {"size": 4097})
    assert [m["content"] for m in answer["messages"]] == ["the embed was refused"]
    error = rig.outcomes["big"]
    assert error.code == 50035
    assert "In data.embeds.0.description: Must be 4096 or fewer in length." in str(error)


async def test_options_are_typed_from_the_synced_definition(rig: Rig) -> None:
    news = await rig.emulator.channel_id("news")
    answer = await rig.emulator.ask("say", {"where": news, "mood": "loud"})
    assert answer["messages"][0]["content"] == "loud in #news"
    with pytest.raises(AssertionError, match="must be one of"):
        await rig.emulator.run_command("say", {"where": news, "mood": "angry"})
    with pytest.raises(AssertionError, match="no option 'volume'"):
        await rig.emulator.run_command("say", {"where": news, "volume": 3})
    with pytest.raises(AssertionError, match="needs option 'where'"):
        await rig.emulator.run_command("say", {})
    with pytest.raises(AssertionError, match="no synced command /nope"):
        await rig.emulator.run_command("nope")


async def test_member_permissions_are_computed_for_the_user(rig: Rig) -> None:
    with pytest.raises(AssertionError, match="hidden from user"):
        await rig.emulator.run_command("admin", user="member")
    answer = await rig.emulator.ask("admin", user="admin")
    assert answer["messages"][0]["content"] == "hello admin"
    assert rig.outcomes["admin"] == (True, True)


async def test_autocomplete_returns_the_bots_choices(rig: Rig) -> None:
    choices = await rig.emulator.autocomplete("fruit", "fruit", {"fruit": "ap"})
    assert [c["value"] for c in choices] == ["apple", "apricot"]


async def test_missing_permission_is_50013_and_an_unseen_channel_50001(rig: Rig) -> None:
    news = rig.channel("news")
    await news.send("allowed")
    await rig.emulator.permissions(news.id, deny=["embed_links"])
    await news.send("text still works")
    with pytest.raises(discord.Forbidden) as caught:
        await news.send(embed=discord.Embed(title="no embeds here"))
    assert caught.value.code == 50013
    await rig.emulator.permissions(news.id, deny=["view_channel"])
    for _ in range(50):  # CHANNEL_UPDATE reaches the client's cache
        if not news.permissions_for(rig.guild().me).view_channel:
            break
        await asyncio.sleep(0.01)
    assert not news.permissions_for(rig.guild().me).view_channel
    with pytest.raises(discord.Forbidden) as caught:
        await news.send("hidden")
    assert caught.value.code == 50001  # Missing Access: without View Channel the bot cannot see the channel
    assert [m["content"] for m in await rig.emulator.channel_messages(news.id)] == ["allowed", "text still works"]


async def test_unknown_channel_is_10003(rig: Rig) -> None:
    with pytest.raises(discord.NotFound) as caught:
        await rig.client.get_partial_messageable(1234).send("anyone?")
    assert caught.value.code == 10003


async def test_new_channel_reaches_the_cache(rig: Rig) -> None:
    created = await rig.emulator.call("POST", "/channels", {"name": "alerts"})
    for _ in range(50):
        if rig.client.get_channel(int(created["id"])):
            break
        await asyncio.sleep(0.01)
    channel = rig.client.get_channel(int(created["id"]))
    assert isinstance(channel, discord.TextChannel)
    assert channel.name == "alerts"
    await rig.emulator.call("DELETE", f"/channels/{created['id']}")
    for _ in range(50):
        if rig.client.get_channel(int(created["id"])) is None:
            break
        await asyncio.sleep(0.01)
    assert rig.client.get_channel(int(created["id"])) is None


async def test_nonce_enforced_returns_the_original_message(rig: Rig) -> None:
    general = rig.channel("general")
    first = await general.send("once only", nonce="abc123")
    again = await rig.client.http.send_message(general.id, params=_params("once only", "abc123"))
    assert int(again["id"]) == first.id
    assert len(await rig.emulator.channel_messages(general.id)) == 1


def _params(content: str, nonce: str) -> Any:
    from discord.http import handle_message_parameters

    return handle_message_parameters(content=content, nonce=nonce)


async def test_message_edit_is_recorded(rig: Rig) -> None:
    general = rig.channel("general")
    message = await general.send("draft")
    await message.edit(content="final")
    [posted] = await rig.emulator.channel_messages(general.id)
    assert posted["content"] == "final"
    assert posted["edited"]
    assert posted["nonce"] is not None  # discord.py sends a nonce with enforce_nonce


async def test_bad_token_fails_login_and_gateway_closes_4004(rig: Rig) -> None:
    stranger = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await stranger.login("not-the-token")
    await stranger.close()
    async with rig.emulator.session.ws_connect(rig.emulator.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        await ws.receive()
        assert ws.close_code == 4004


async def test_429_on_a_message_is_retried(rig: Rig) -> None:
    await rig.emulator.fault("POST", r"/channels/\d+/messages$", 429, body={"retry_after": 0.05})
    await rig.channel("general").send("after a 429")
    report = await rig.emulator.requests()
    statuses = [e["status"] for e in report["requests"] if e["method"] == "POST"]
    assert statuses[-2:] == [429, 200]
    assert report["rate_limited"] == 1


async def test_a_500_once_is_survived(rig: Rig) -> None:
    await rig.emulator.fault("POST", r"/channels/\d+/messages$", 500)
    message = await rig.channel("general").send("after a 500")
    assert message.content == "after a 500"


async def test_a_stalled_request_is_answered_late_or_not_carried_out_when_the_client_gives_up(rig: Rig) -> None:
    general = rig.channel("general")
    await rig.emulator.stall("POST", r"/channels/\d+/messages$", seconds=0.5)
    started = asyncio.get_running_loop().time()
    message = await general.send("late")
    assert message.content == "late"
    assert asyncio.get_running_loop().time() - started >= 0.5

    await rig.emulator.stall("POST", r"/channels/\d+/messages$", seconds=60)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await general.send("never")
    await asyncio.sleep(0.2)  # the emulator notices the client has gone
    posted = [m["content"] for m in await rig.emulator.channel_messages(general.id)]
    assert "late" in posted
    assert "never" not in posted
    statuses = [e["status"] for e in (await rig.emulator.requests())["requests"] if e["method"] == "POST"]
    assert statuses[-2:] == [200, 499]


async def test_a_stall_must_be_a_number_of_seconds(rig: Rig) -> None:
    with pytest.raises(Exception, match="stall must be a number of seconds"):
        await rig.emulator.stall("POST", ".*", seconds=-1)


async def test_reconnect_resume_keeps_answering(rig: Rig) -> None:
    assert await rig.emulator.reconnect() == 1
    for _ in range(200):
        if (await rig.emulator.requests())["gateway"]["resumes"] == 1:
            break
        await asyncio.sleep(0.02)
    report = await rig.emulator.requests()
    assert report["gateway"] == report["gateway"] | {"resumes": 1, "identifies": 1}
    answer = await rig.emulator.ask("ping")
    assert answer["messages"][0]["content"] == "pong"


async def test_the_client_gets_zlib_stream_and_plain_frames_work_too(rig: Rig) -> None:
    assert (await rig.emulator.requests())["gateway"]["compressed_connections"] == 1
    async with rig.emulator.session.ws_connect(rig.emulator.gateway_url + "?v=10&encoding=json") as ws:
        hello = await ws.receive()
        assert hello.type == aiohttp.WSMsgType.TEXT
        assert json.loads(hello.data)["op"] == 10
        await ws.send_json({"op": 1, "d": None})
        assert (await ws.receive_json())["op"] == 11
    url = rig.emulator.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    async with rig.emulator.session.ws_connect(url) as ws:
        inflate = zlib.decompressobj()
        frame = await ws.receive()
        assert frame.type == aiohttp.WSMsgType.BINARY
        assert frame.data.endswith(b"\x00\x00\xff\xff")
        assert json.loads(inflate.decompress(frame.data))["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": rig.emulator.token, "intents": 1, "properties": {}}})
        ready = json.loads(inflate.decompress((await ws.receive()).data))
        assert ready["t"] == "READY"
        assert ready["d"]["resume_gateway_url"] == rig.emulator.gateway_url
        guild = json.loads(inflate.decompress((await ws.receive()).data))
        assert guild["t"] == "GUILD_CREATE"
        assert len(guild["d"]["channels"]) == 2


async def test_rate_limit_headers_and_route_buckets(rig: Rig) -> None:
    url = f"{rig.emulator.api_base}/channels/{rig.channel('news').id}/messages"
    headers = {"Authorization": f"Bot {rig.emulator.token}"}
    statuses = []
    for number in range(6):
        async with rig.emulator.session.post(url, json={"content": str(number)}, headers=headers) as response:
            statuses.append(response.status)
            assert response.headers["X-RateLimit-Limit"] == "5"
            assert {"X-RateLimit-Bucket", "X-RateLimit-Reset", "X-RateLimit-Reset-After"} <= set(response.headers)
            last = (response.headers.copy(), await response.json())
    assert statuses == [200] * 5 + [429]
    assert last[0]["Via"]
    assert last[0]["X-RateLimit-Scope"] == "user"
    assert last[0]["X-RateLimit-Remaining"] == "0"
    assert last[1]["retry_after"] > 0
    assert last[1]["global"] is False


async def test_global_limit_of_50_per_second_spares_interactions(rig: Rig) -> None:
    url = f"{rig.emulator.api_base}/users/@me"
    headers = {"Authorization": f"Bot {rig.emulator.token}"}
    before = (await rig.emulator.requests())["global_rate_limited"]

    async def get() -> tuple[int, Any]:
        async with rig.emulator.session.get(url, headers=headers) as response:
            return response.status, await response.json()

    results = await asyncio.gather(*(get() for _ in range(60)))
    limited = [body for status, body in results if status == 429]
    assert len(limited) >= 10
    assert all(body["global"] for body in limited)
    callback = f"{rig.emulator.api_base}/interactions/1/nope/callback"
    async with rig.emulator.session.post(callback, json={"type": 4}) as response:
        assert response.status == 404  # not 429: interaction endpoints are exempt
    assert (await rig.emulator.requests())["global_rate_limited"] - before == len(limited)
