"""The rig the emulator's tests share: the emulator and a bare, unmodified discord.py client with a few tiny
commands, logged in, synced and connected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_emulator.fixtures import EmulatorHandle, pointed_at
from tests.discord_emulator.server import Emulator


class Clock:
    """Wall time plus an offset the test moves forward, to cross the 3 s and 15 min deadlines at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Rig:
    emulator: EmulatorHandle
    client: discord.Client
    tree: app_commands.CommandTree[discord.Client]
    clock: Clock
    outcomes: dict[str, Any] = field(default_factory=dict)
    captured: dict[str, tuple[int, str]] = field(default_factory=dict)

    def guild(self) -> discord.Guild:
        return self.client.guilds[0]

    def channel(self, name: str) -> discord.TextChannel:
        found = discord.utils.get(self.guild().text_channels, name=name)
        assert found is not None
        return found


def build_tree(rig: Rig) -> None:
    tree = rig.tree

    @tree.command(description="Answer pong")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    @tree.command(description="Defer, then follow up twice")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("first")
        await interaction.followup.send("second")

    @tree.command(description="Answer, and remember the token")
    async def once(interaction: discord.Interaction) -> None:
        rig.captured["once"] = (interaction.id, interaction.token)
        await interaction.response.send_message("one")

    @tree.command(description="Answer after the 3-second window")
    async def late(interaction: discord.Interaction) -> None:
        rig.clock.advance(3.5)
        try:
            await interaction.response.send_message("too late")
        except discord.HTTPException as exc:
            rig.outcomes["late"] = exc

    @tree.command(description="Follow up after the token expired")
    async def expired(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        rig.clock.advance(16 * 60)
        try:
            await interaction.followup.send("hello?")
        except discord.HTTPException as exc:
            rig.outcomes["expired"] = exc

    @tree.command(description="An embed over the limits")
    @app_commands.describe(size="Characters of description")
    async def big(interaction: discord.Interaction, size: int) -> None:
        try:
            await interaction.response.send_message(embed=discord.Embed(description="x" * size))
        except discord.HTTPException as exc:
            rig.outcomes["big"] = exc
            await interaction.response.send_message("the embed was refused", ephemeral=True)

    @tree.command(description="Admins only")
    @app_commands.default_permissions(manage_guild=True)
    async def admin(interaction: discord.Interaction) -> None:
        assert isinstance(interaction.user, discord.Member)
        rig.outcomes["admin"] = (interaction.permissions.manage_guild, interaction.app_permissions.embed_links)
        await interaction.response.send_message("hello admin")

    @tree.command(description="Say something in a channel")
    @app_commands.describe(where="The channel", mood="How")
    @app_commands.choices(
        mood=[app_commands.Choice(name="calm", value="calm"), app_commands.Choice(name="loud", value="loud")]
    )
    async def say(interaction: discord.Interaction, where: discord.TextChannel, mood: str = "calm") -> None:
        await interaction.response.send_message(f"{mood} in #{where.name}")

    @tree.command(description="Pick a fruit")
    @app_commands.describe(fruit="A fruit")
    async def fruit(interaction: discord.Interaction, fruit: str) -> None:
        await interaction.response.send_message(fruit)

    @fruit.autocomplete("fruit")
    async def _fruits(_: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        offered: list[app_commands.Choice[str]] | None = rig.outcomes.get("fruits")
        if offered is not None:  # a test chose what the handler answers
            return offered
        names = ["apple", "apricot", "banana"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(typed)]

    @tree.command(description="Repeat some text")
    @app_commands.describe(text="What to say", later="Defer, then answer with a followup")
    async def echo(interaction: discord.Interaction, text: str, later: bool = False) -> None:
        if later:
            await interaction.response.defer()
            await interaction.followup.send(text)
        else:
            await interaction.response.send_message(text)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = Clock()
    server = Emulator(clock=clock)
    await server.start()
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.1)
    tree = app_commands.CommandTree(client)
    async with aiohttp.ClientSession() as session:
        handle = EmulatorHandle(server, session)
        built = Rig(handle, client, tree, clock)
        build_tree(built)
        with pointed_at(handle):
            async with client:
                await client.login(server.token)
                synced = await tree.sync()
                built.outcomes["synced"] = synced
                runner = asyncio.create_task(client.connect())
                await asyncio.wait_for(client.wait_until_ready(), 5)
                try:
                    yield built
                finally:
                    await client.close()
                    await asyncio.wait_for(runner, 5)
    await server.stop()
