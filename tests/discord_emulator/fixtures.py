"""Pytest fixtures: `emulator` (in-process, random port, driven over its control API) and `bot` (the real bot).

Import them into a conftest: `from tests.discord_emulator.fixtures import bot, emulator`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import yarl
from discord import gateway, http

from tests.discord_emulator.server import Emulator

if TYPE_CHECKING:
    from bot.settings import Settings


class ControlError(AssertionError):
    """The control API refused a request (its sentence says why)."""


class EmulatorHandle:
    """The running emulator and typed helpers over its control API (the same HTTP calls outside tools make)."""

    def __init__(self, server: Emulator, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def api_base(self) -> str:
        return self.server.api_base

    @property
    def gateway_url(self) -> str:
        return self.server.gateway_url

    @property
    def token(self) -> str:
        return self.server.token

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        async with self.session.request(method, url, json=body, params=params or None) as response:
            data = await response.json()
            if response.status != 200:
                raise ControlError(f"{method} {path}: {response.status} {data}")
            return data

    async def rest(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any, dict[str, str]]:
        """A request to the emulator's Discord API as the bot: (status, JSON body or None, headers)."""
        headers = {"Authorization": f"Bot {self.token}"}
        url = f"{self.api_base}{path}"
        async with self.session.request(method, url, json=body, params=params or None, headers=headers) as response:
            data = await response.json() if response.content_type == "application/json" else None
            return response.status, data, dict(response.headers)

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/state")
        return result

    async def channel_id(self, name: str = "general", guild: int = 0) -> int:
        state = await self.state()
        return int(next(c["id"] for c in state["guilds"][guild]["channels"] if c["name"] == name))

    async def run_command(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user: str | int = "member",
        subcommand: str | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
    ) -> int:
        body: dict[str, Any] = {"command": command, "options": options or {}, "user": str(user)}
        if subcommand:
            body["subcommand"] = subcommand
        if guild_id:
            body["guild_id"] = str(guild_id)
        if channel_id:
            body["channel_id"] = str(channel_id)
        return int((await self.call("POST", "/interactions", body))["id"])

    async def wait_interaction(self, interaction_id: int, wait: float = 5.0) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", f"/interactions/{interaction_id}", wait=str(wait))
        return result

    async def ask(
        self, command: str, options: dict[str, Any] | None = None, *, wait: float = 5.0, **kwargs: Any
    ) -> dict[str, Any]:
        """Run a command and wait for the bot's answer."""
        return await self.wait_interaction(await self.run_command(command, options, **kwargs), wait)

    async def press(self, message_id: int | str, custom_id: str, user: str | int = "member") -> int:
        body = {"message_id": str(message_id), "custom_id": custom_id, "user": str(user)}
        return int((await self.call("POST", "/components", body))["id"])

    async def autocomplete(
        self,
        command: str,
        focused: str,
        options: dict[str, Any] | None = None,
        *,
        user: str | int = "member",
        subcommand: str | None = None,
    ) -> list[dict[str, Any]]:
        """The choices the bot offers while a user types `focused`; ControlError when Discord refused them."""
        body = {"command": command, "focused": focused, "options": options or {}, "user": str(user)}
        if subcommand:
            body["subcommand"] = subcommand
        result = await self.call("POST", "/autocomplete", body)
        if result["choices"] is None:
            raise ControlError(f"the bot offered no choices: {result['error']}")
        choices: list[dict[str, Any]] = result["choices"]
        return choices

    async def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.call("GET", f"/channels/{channel_id}/messages")
        return result

    async def fault(
        self,
        method: str,
        path: str,
        status: int,
        count: int = 1,
        body: dict[str, Any] | None = None,
        *,
        after: bool = False,
    ) -> None:
        """The next `count` matching requests fail with `status`; with `after`, each is carried out first and only
        its answer fails (Discord posted the message, the bot never heard)."""
        await self.call(
            "POST",
            "/faults",
            {"method": method, "path": path, "status": status, "count": count, "body": body, "after": after},
        )

    async def stall(self, method: str, path: str, seconds: float, count: int = 1) -> None:
        """The next `count` matching requests get no answer for `seconds` (a stalled connection), then are carried
        out as usual; one whose client gave up first is not carried out."""
        await self.call("POST", "/faults", {"method": method, "path": path, "count": count, "stall": seconds})

    async def requests(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/requests")
        return result

    async def permissions(self, channel_id: int, allow: list[str] = [], deny: list[str] = []) -> None:  # noqa: B006
        await self.call("POST", "/permissions", {"channel_id": str(channel_id), "allow": allow, "deny": deny})

    async def remove_bot(self, guild_id: int) -> None:
        """The server removes the bot (GUILD_DELETE)."""
        await self.call("DELETE", f"/guilds/{guild_id}")

    async def add_role(
        self,
        name: str,
        *,
        permissions: list[str] = [],  # noqa: B006
        mentionable: bool = False,
        members: list[str | int] = [],  # noqa: B006
        guild_id: int | None = None,
    ) -> int:
        body: dict[str, Any] = {
            "name": name,
            "permissions": permissions,
            "mentionable": mentionable,
            "members": [str(m) for m in members],
        }
        if guild_id:
            body["guild_id"] = str(guild_id)
        return int((await self.call("POST", "/roles", body))["id"])

    async def command_permissions(
        self, command: str | None, permissions: list[dict[str, Any]], guild_id: int | None = None
    ) -> None:
        """Overrides as a server admin sets them in Integrations; `command` None for every command."""
        body: dict[str, Any] = {"command": command, "permissions": permissions}
        if guild_id:
            body["guild_id"] = str(guild_id)
        await self.call("POST", "/command-permissions", body)

    async def reconnect(self) -> int:
        return int((await self.call("POST", "/reconnect"))["asked"])

    async def reset(self) -> None:
        await self.call("POST", "/reset")


def settings_for(emulator: EmulatorHandle, database: Path, sources: Path, **extra: Any) -> Settings:
    """The bot's settings against this emulator, with SQLite at `database` and `sources` as SOURCES_FILE; no .env."""
    from bot.settings import load_settings

    extra.setdefault("POLL_WORKERS", 1)  # tests poll a few small feeds: one worker to start, not one per core
    return load_settings(
        env_file=None,
        DISCORD_TOKEN=emulator.token,
        DISCORD_API_BASE=emulator.api_base,
        DISCORD_GATEWAY_URL=emulator.gateway_url,
        DATABASE_URL=f"sqlite:///{database}",
        SOURCES_FILE=sources,
        **extra,
    )


@contextlib.contextmanager
def pointed_at(emulator: EmulatorHandle) -> Iterator[None]:
    """discord.py's REST base and first gateway point at the emulator, and back afterwards.

    They are class attributes (discord.py has no option for them), so the previous values are restored for
    whatever test runs next.
    """
    previous = (http.Route.BASE, gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    http.Route.BASE = emulator.api_base
    gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
    try:
        yield
    finally:
        http.Route.BASE, gateway.DiscordWebSocket.DEFAULT_GATEWAY = previous


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorHandle]:
    server = Emulator()
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield EmulatorHandle(server, session)
    finally:
        await server.stop()


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    """The bot's SOURCES_FILE: none by default, so that no test reaches the internet; a test module that
    needs news overrides this fixture with a file naming a local feed server."""
    path = tmp_path / "sources.toml"
    path.write_text("# no sources: tests never reach the internet\n")
    return path


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    """Extra settings for the bot under test (override in a module, e.g. POLL_INTERVAL)."""
    return {}


@pytest.fixture
async def bot(
    emulator: EmulatorHandle, tmp_path: Path, sources_file: Path, bot_settings: dict[str, Any]
) -> AsyncIterator[Any]:
    """The real bot, started by `bot.app.running_bot` against the emulator, with SQLite in tmp_path."""
    from bot.app import running_bot

    settings = settings_for(emulator, tmp_path / "bot.db", sources_file, **bot_settings)
    with pointed_at(emulator):
        async with running_bot(settings, guild_ready_timeout=0.1) as running:
            runner = running.deliveries  # test pace: see tests/e2e/newsroom.py `quick`
            runner.idle, runner.retry_base, runner.retry_max = 0.2, 0.05, 1.0
            yield running


running_bot_fixture = bot
