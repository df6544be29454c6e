"""The gateway refuses what Discord refuses (issue 11, item 6) and speaks shards (issue 13): raw WebSocket
sessions for the close codes, discord.py's own clients (AutoShardedClient, and two clients of one shard each)
for the routing of each guild's events."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_emulator.fixtures import EmulatorHandle, pointed_at
from tests.discord_emulator.gateway import INTENTS
from tests.discord_emulator.server import Emulator
from tests.discord_emulator.world import shard_of

GUILDS = INTENTS["guilds"]
ROOT = Path(__file__).parent.parent.parent


async def running(**options: Any) -> tuple[Emulator, aiohttp.ClientSession, EmulatorHandle]:
    server = Emulator(**options)
    await server.start()
    session = aiohttp.ClientSession()
    return server, session, EmulatorHandle(server, session)


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Awaitable[EmulatorHandle]]]:
    """Start an emulator with the given options; stopped at the end of the test."""
    started: list[tuple[Emulator, aiohttp.ClientSession]] = []

    async def make(**options: Any) -> EmulatorHandle:
        server, session, handle = await running(**options)
        started.append((server, session))
        return handle

    yield make
    for server, session in started:
        await session.close()
        await server.stop()


class Socket:
    """A raw gateway connection: what a client library sends, and every frame and the close code it gets."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, op: int, data: Any) -> None:
        await self.ws.send_json({"op": op, "d": data})

    async def frame(self, silence: float = 2.0) -> dict[str, Any] | None:
        """The next payload, or None once the gateway closed the connection (or stayed silent `silence` s)."""
        try:
            message = await self.ws.receive(timeout=silence)
        except TimeoutError:
            return None
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        frame: dict[str, Any] = json.loads(message.data)
        return frame

    async def until(self, event: str) -> dict[str, Any]:
        while True:
            frame = await self.frame()
            assert frame is not None, f"closed ({self.ws.close_code}) before {event}"
            if frame.get("t") == event:
                return frame

    async def closed(self, silence: float = 3.0) -> int | None:
        while await self.frame(silence) is not None:
            pass
        return self.ws.close_code


async def connect(api: EmulatorHandle, query: str = "?v=10&encoding=json") -> Socket:
    ws = await api.session.ws_connect(api.gateway_url + query)
    socket = Socket(ws)
    hello = await socket.frame()
    if hello is not None:
        assert hello["op"] == 10
    return socket


def identify(api: EmulatorHandle, **extra: Any) -> dict[str, Any]:
    return {"token": api.token, "intents": GUILDS, "properties": {"os": "linux"}} | extra


# Item 6: IDENTIFY ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"intents": None}, 4013),
        ({"intents": 1 << 30}, 4013),
        ({"intents": "1"}, 4013),
        ({"intents": GUILDS | INTENTS["members"]}, 4014),
        ({"intents": INTENTS["message_content"]}, 4014),
        ({"shard": [2, 2]}, 4010),
        ({"shard": [0, 0]}, 4010),
        ({"shard": [-1, 2]}, 4010),
        ({"shard": "0,1"}, 4010),
        ({"token": "wrong"}, 4004),
    ],
)
async def test_identify_discord_refuses_is_closed_with_its_code(
    start: Callable[..., Awaitable[EmulatorHandle]], extra: dict[str, Any], code: int
) -> None:
    api = await start()
    socket = await connect(api)
    payload = {k: v for k, v in (identify(api) | extra).items() if v is not None}
    await socket.send(2, payload)
    assert await socket.closed() == code
    assert api.server.gateway.identifies == 0


async def test_approved_privileged_intents_are_a_setting(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start(privileged_intents=["members", "message_content"])
    socket = await connect(api)
    await socket.send(2, identify(api, intents=GUILDS | INTENTS["members"] | INTENTS["message_content"]))
    ready = await socket.until("READY")
    assert ready["d"]["shard"] == [0, 1]
    socket = await connect(api)
    await socket.send(2, identify(api, intents=GUILDS | INTENTS["presences"]))
    assert await socket.closed() == 4014
    with pytest.raises(ValueError, match="privileged"):
        Emulator(privileged_intents=["guilds"])


async def test_a_second_identify_on_one_socket_is_4005(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start()
    socket = await connect(api)
    await socket.send(2, identify(api))
    await socket.until("GUILD_CREATE")
    await socket.send(2, identify(api))
    assert await socket.closed() == 4005


async def test_events_follow_the_intents_asked_for(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start()
    socket = await connect(api)
    await socket.send(2, identify(api, intents=0))
    await socket.until("READY")
    await api.call("POST", "/channels", {"name": "quiet"})
    assert await socket.frame(0.3) is None  # no GUILDS intent: neither GUILD_CREATE nor CHANNEL_CREATE


async def test_the_connection_parameters_discord_refuses(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start()
    assert await (await connect(api, "?v=10&encoding=etf")).closed() == 4002
    assert await (await connect(api, "?v=6&encoding=json")).closed() == 4012
    socket = await connect(api, "?v=9&encoding=json")
    await socket.send(2, identify(api))
    await socket.until("READY")


# Item 6: heartbeats ----------------------------------------------------------------------------------------


async def test_a_client_that_stops_heartbeating_is_closed_and_may_resume(
    start: Callable[..., Awaitable[EmulatorHandle]],
) -> None:
    api = await start(heartbeat_interval_ms=200)
    socket = await connect(api)
    await socket.send(2, identify(api))
    ready = await socket.until("READY")
    for _ in range(4):  # heartbeats on time keep it open
        await asyncio.sleep(0.15)
        await socket.send(1, None)
    assert socket.ws.close_code is None
    assert await socket.closed(2.0) == 4009  # then silence: closed after 1.5 intervals
    again = await connect(api)
    await again.send(6, {"token": api.token, "session_id": ready["d"]["session_id"], "seq": ready["s"]})
    await again.until("RESUMED")


async def test_heartbeats_are_acknowledged(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start(heartbeat_ack_delay=0.01)
    socket = await connect(api)
    await socket.send(1, None)
    assert await socket.frame() == {"op": 11}


def test_the_ack_does_not_make_discord_py_think_it_is_behind() -> None:
    """discord.py measures latency from the moment its keep-alive thread noted the send; an ACK that reaches it
    earlier counts the whole interval (its "Can't keep up ... 41.3s behind" warning). With the emulator on
    another thread (as in another process), the latency it measures must be the round trip, not the interval."""
    server = Emulator(heartbeat_interval_ms=300)
    started, stop = threading.Event(), threading.Event()

    def serve() -> None:
        async def run() -> None:
            await server.start()
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            await server.stop()

        asyncio.run(run())

    async def measure() -> list[float]:
        intents = discord.Intents.none()
        intents.guilds = True
        client = discord.Client(intents=intents, guild_ready_timeout=0.1)
        async with aiohttp.ClientSession() as session, client:
            with pointed_at(EmulatorHandle(server, session)):
                await client.login(server.token)
                runner = asyncio.create_task(client.connect())
                await asyncio.wait_for(client.wait_until_ready(), 5)
                latencies = []
                for _ in range(6):
                    await asyncio.sleep(0.3)
                    latencies.append(client.latency)
                await client.close()
                await runner
                return latencies

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert started.wait(5)
        latencies = asyncio.run(measure())
    finally:
        stop.set()
        thread.join(5)
    assert server.gateway.heartbeats >= 4
    assert max(latencies) < 0.2, latencies  # the interval is 0.3 s


# Item 6: Request Guild Members (op 8) ---------------------------------------------------------------------


async def test_request_guild_members_is_answered(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start(privileged_intents=["members"])
    state = await api.state()
    guild, users = state["guilds"][0]["id"], state["users"]
    socket = await connect(api)
    await socket.send(8, {"guild_id": guild, "query": "", "limit": 0})
    assert await socket.closed() == 4003  # before IDENTIFY
    socket = await connect(api)
    await socket.send(2, identify(api))
    await socket.until("GUILD_CREATE")
    await socket.send(8, {"guild_id": guild, "query": "adm", "limit": 10, "nonce": "n1"})
    chunk = (await socket.until("GUILD_MEMBERS_CHUNK"))["d"]
    assert [m["user"]["id"] for m in chunk["members"]] == [users["admin"]["id"]]
    assert (chunk["chunk_index"], chunk["chunk_count"], chunk["nonce"]) == (0, 1, "n1")
    await socket.send(8, {"guild_id": guild, "user_ids": [users["member"]["id"], "42"]})
    chunk = (await socket.until("GUILD_MEMBERS_CHUNK"))["d"]
    assert [m["user"]["id"] for m in chunk["members"]] == [users["member"]["id"]]
    assert chunk["not_found"] == ["42"]
    await socket.send(8, {"guild_id": guild, "query": "", "limit": 0})
    assert await socket.frame(0.3) is None  # the whole list needs the GUILD_MEMBERS intent: no answer
    members = await connect(api)
    await members.send(2, identify(api, intents=GUILDS | INTENTS["members"]))
    await members.until("GUILD_CREATE")
    await members.send(8, {"guild_id": guild, "query": "", "limit": 0})
    chunk = (await members.until("GUILD_MEMBERS_CHUNK"))["d"]
    assert {m["user"]["id"] for m in chunk["members"]} == {u["id"] for u in users.values()}
    await members.send(8, {"guild_id": guild})
    assert await members.closed() == 4001  # neither query nor user_ids


# Issue 13: shards ------------------------------------------------------------------------------------------


async def test_gateway_bot_recommends_shards_and_counts_session_starts(
    start: Callable[..., Awaitable[EmulatorHandle]],
) -> None:
    api = await start(recommended_shards=3)
    status, body, _ = await api.rest("GET", "/gateway/bot")
    assert (status, body["url"], body["shards"]) == (200, api.gateway_url, 3)
    assert body["session_start_limit"] == {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
    socket = await connect(api)
    await socket.send(2, identify(api, shard=[1, 3]))
    await socket.until("READY")
    limit = (await api.rest("GET", "/gateway/bot"))[1]["session_start_limit"]
    assert limit["remaining"] == 999
    assert 0 < limit["reset_after"] <= 24 * 3600 * 1000
    default = await start()
    assert (await default.rest("GET", "/gateway/bot"))[1]["shards"] == 1


async def test_a_shard_over_the_servers_limit_is_4011(start: Callable[..., Awaitable[EmulatorHandle]]) -> None:
    api = await start(servers_per_shard=2)
    for shard in ([0, 2], [1, 2]):
        await api.call("POST", "/guilds", {"name": f"on {shard}", "shard": shard})
    socket = await connect(api)
    await socket.send(2, identify(api))  # three guilds on one shard
    assert await socket.closed() == 4011
    for shard_id in (0, 1):
        socket = await connect(api)
        await socket.send(2, identify(api, shard=[shard_id, 2]))
        ready = await socket.until("READY")
        assert len(ready["d"]["guilds"]) <= 2


async def two_shard_world(api: EmulatorHandle) -> dict[int, list[int]]:
    """Guilds on both shards of two: shard id -> guild ids."""
    for shard in ([0, 2], [1, 2], [1, 2]):
        await api.call("POST", "/guilds", {"name": f"shard {shard[0]}", "shard": shard})
    owned: dict[int, list[int]] = {0: [], 1: []}
    for guild in (await api.state())["guilds"]:
        owned[shard_of(int(guild["id"]), 2)].append(int(guild["id"]))
    assert all(owned.values())
    return owned


class Sharded(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py waits 5 s between shards by default; the emulator has no identify rate limit


async def test_auto_sharded_client_gets_each_guild_on_its_shard(
    start: Callable[..., Awaitable[EmulatorHandle]],
) -> None:
    api = await start(recommended_shards=2)
    owned = await two_shard_world(api)
    intents = discord.Intents.none()
    intents.guilds = True
    client = Sharded(intents=intents, guild_ready_timeout=0.1)
    tree = app_commands.CommandTree(client)

    @tree.command(description="Which shard answers")
    async def where(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"shard {interaction.guild.shard_id if interaction.guild else None}")

    with pointed_at(api):
        async with client:
            await client.login(api.token)
            await tree.sync()
            runner = asyncio.create_task(client.connect())
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)
                assert client.shard_count == 2
                assert {g.id: g.shard_id for g in client.guilds} == {
                    guild: shard for shard, guilds in owned.items() for guild in guilds
                }
                for shard, guilds in owned.items():
                    answer = await api.ask("where", guild_id=guilds[-1], channel_id=None)
                    assert answer["messages"][0]["content"] == f"shard {shard}"
            finally:
                await client.close()
                await asyncio.wait_for(runner, 5)
    sessions = list(api.server.gateway.sessions.values()) or []
    assert api.server.gateway.identifies == 2
    for session in sessions:  # every event a session got belongs to a guild of its shard
        for frame in session.sent:
            guild_id = frame["d"].get("guild_id") or (frame["d"]["id"] if frame["t"] == "GUILD_CREATE" else None)
            if guild_id is not None:
                assert shard_of(int(guild_id), 2) == session.shard[0]


class OneShard(discord.Client):
    """A client of one shard of two that notes the guild events it receives."""

    def __init__(self, shard_id: int) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, shard_id=shard_id, shard_count=2, guild_ready_timeout=0.1)
        self.seen: list[tuple[str, int | None]] = []

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.seen.append(("interaction", interaction.guild_id))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.seen.append(("remove", guild.id))

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self.seen.append(("channel", channel.guild.id))


async def test_two_clients_of_one_shard_each_see_only_their_guilds(
    start: Callable[..., Awaitable[EmulatorHandle]],
) -> None:
    api = await start()
    owned = await two_shard_world(api)
    clients = [OneShard(0), OneShard(1)]
    tree = app_commands.CommandTree(clients[0])

    @tree.command(description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    runners = []
    with pointed_at(api):
        for client in clients:
            await client.login(api.token)
        await tree.sync()
        try:
            for client in clients:
                runners.append(asyncio.create_task(client.connect()))
                await asyncio.wait_for(client.wait_until_ready(), 5)
            for number, client in enumerate(clients):
                assert sorted(g.id for g in client.guilds) == sorted(owned[number])
            await api.run_command("ping", guild_id=owned[1][0])
            await api.call("POST", "/channels", {"name": "fresh", "guild_id": str(owned[0][0])})
            await api.remove_bot(owned[1][-1])
            expected: dict[int, list[tuple[str, int | None]]] = {
                0: [("channel", owned[0][0])],
                1: [("interaction", owned[1][0]), ("remove", owned[1][-1])],
            }
            for _ in range(100):
                if {n: c.seen for n, c in enumerate(clients)} == expected:
                    break
                await asyncio.sleep(0.02)
            assert {n: c.seen for n, c in enumerate(clients)} == expected
        finally:
            for client in clients:
                await client.close()
            await asyncio.wait_for(asyncio.gather(*runners), 5)


def test_the_command_line_takes_the_gateway_settings() -> None:
    command = [
        sys.executable,
        "-m",
        "tests.discord_emulator",
        "--port",
        "0",
        "--privileged-intents",
        "members",
        "--shards",
        "4",
        "--servers-per-shard",
        "10",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))

        async def check() -> None:
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bot {lines['DISCORD_TOKEN']}"}
                async with session.get(lines["DISCORD_API_BASE"] + "/gateway/bot", headers=headers) as response:
                    assert (await response.json())["shards"] == 4
                async with session.ws_connect(lines["DISCORD_GATEWAY_URL"]) as ws:
                    socket = Socket(ws)
                    await socket.frame()
                    intents = GUILDS | INTENTS["members"]
                    await socket.send(2, {"token": lines["DISCORD_TOKEN"], "intents": intents, "properties": {}})
                    await socket.until("READY")

        asyncio.run(check())
    finally:
        process.terminate()
        process.wait(10)
    refused = subprocess.run([*command[:3], "--privileged-intents", "guilds"], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "not a privileged intent: guilds" in refused.stderr
