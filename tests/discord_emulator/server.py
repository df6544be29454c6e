"""The emulator: one aiohttp application holding the world, and the state every route reads and writes."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.discord_emulator.gateway import HEARTBEAT_INTERVAL_MS, Gateway
from tests.discord_emulator.interactions import RESPONSE_DEADLINE, TOKEN_LIFETIME, Interaction, Message
from tests.discord_emulator.ratelimit import Faults, RateLimiter
from tests.discord_emulator.world import Channel, Guild, Snowflakes, User, World

API_PREFIX = "/api/v10"
NONCE_WINDOW = 5 * 60.0  # enforce_nonce: "within the past few minutes"


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Content-Type exactly application/json: discord.py compares it with == (http.py:110)."""
    if status == 204:
        return web.Response(status=204, headers=headers)
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={**(headers or {}), "Content-Type": "application/json"}
    )


def error(status: int, code: int, message: str) -> web.Response:
    return reply(status, {"code": code, "message": message})


@dataclass(frozen=True, slots=True)
class Logged:
    method: str
    path: str
    status: int

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status}


class Emulator:
    """Discord for one bot: REST under /api/v10, the gateway at /gateway, the control API under /_emulator.

    `clock` gives seconds (wall time by default); tests may pass a clock they advance to cross the 3-second and
    15-minute deadlines without waiting for them.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
    ) -> None:
        self.clock = clock
        self.host = host
        self.port = port
        self.ids = Snowflakes()
        self.token = token or f"emulator.{secrets.token_urlsafe(24)}"
        self.world = World(self.ids)
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> synced
        self.syncs = 0
        self.messages: dict[int, Message] = {}
        self.nonces: dict[tuple[int, str], tuple[float, int]] = {}
        self.interactions: dict[int, Interaction] = {}
        self.faults = Faults()
        self.limiter = RateLimiter(clock)
        self.log: list[Logged] = []
        self.gateway = Gateway(
            token=lambda: self.token,
            resume_url=lambda: self.gateway_url,
            ready=self.ready_payload,
            guilds=lambda: [guild.payload(self.world.bot) for guild in self.world.guilds.values()],
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None

    def _build_app(self) -> web.Application:
        from tests.discord_emulator import control, rest

        app = web.Application(middlewares=[rest.middleware(self)])
        app.router.add_get("/gateway", self.gateway.handle)
        rest.add_routes(app, self)
        control.add_routes(app, self)
        return app

    # Addresses ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            # Port 0 picks a free port; the runner's addresses say which.
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # World ---------------------------------------------------------------------------------------------

    @property
    def application_id(self) -> int:
        return self.world.bot.id

    def ready_payload(self, session_id: str) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.world.bot.payload() | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(guild_id), "unavailable": True} for guild_id in self.world.guilds],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["emulator"],
        }

    def user(self, who: Any) -> User | None:
        if who in ("admin", "member", "bot", "owner"):
            user: User = getattr(self.world, str(who))
            return user
        try:
            return self.world.users.get(int(who))
        except (TypeError, ValueError):
            return None

    def guild_of(self, channel: Channel) -> Guild:
        return self.world.guilds[channel.guild_id]

    def post_message(
        self,
        channel: Channel,
        body: dict[str, Any],
        *,
        interaction: Interaction | None = None,
        flags: int = 0,
    ) -> Message:
        message = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.world.bot,
            body=dict(body),
            created_at=datetime.now(UTC),
            application_id=self.application_id if interaction else None,
            interaction_id=interaction.id if interaction else None,
            flags=flags | int(body.get("flags") or 0),
        )
        self.messages[message.id] = message
        if interaction is not None:
            interaction.messages.append(message)
            interaction.touch()
        return message

    def channel_messages(self, channel_id: int) -> list[Message]:
        """Oldest first; ephemeral messages are seen by one user only and are not in the channel."""
        found = [m for m in self.messages.values() if m.channel_id == channel_id and not m.ephemeral]
        return sorted(found, key=lambda m: m.id)

    def commands_for(self, guild_id: int) -> list[dict[str, Any]]:
        """What a user in that guild sees: guild commands first, then global ones of other names."""
        local = self.commands.get(guild_id, [])
        names = {c["name"] for c in local}
        return local + [c for c in self.commands.get(None, []) if c["name"] not in names]

    # Interactions --------------------------------------------------------------------------------------

    def interaction_state(self, interaction: Interaction) -> str | None:
        """Why the token cannot be used for the initial response, or None if it can."""
        if interaction.response is not None:
            return "acknowledged"
        if self.clock() - interaction.created > RESPONSE_DEADLINE:
            return "late"
        return None

    def token_expired(self, interaction: Interaction) -> bool:
        return self.clock() - interaction.created > TOKEN_LIFETIME

    def interaction_by_token(self, token: str) -> Interaction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def wait_interaction(self, interaction: Interaction, seconds: float) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while not interaction.answered and interaction.choices is None:
            if interaction.response == 6:  # deferred update: nothing more will show
                return
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(interaction.changed.wait(), remaining)
            except TimeoutError:
                return

    def reset(self) -> None:
        self.messages.clear()
        self.nonces.clear()
        self.interactions.clear()
        self.faults.pending.clear()
        self.log.clear()
        self.limiter.reset()
