"""The emulator: one aiohttp application holding the world, and the state every route reads and writes."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.discord_emulator.components import with_ids
from tests.discord_emulator.gateway import (
    HEARTBEAT_ACK_DELAY,
    HEARTBEAT_INTERVAL_MS,
    PRIVILEGED,
    SERVERS_PER_SHARD,
    Gateway,
    UnknownIntent,
    intent_bits,
)
from tests.discord_emulator.interactions import RESPONSE_DEADLINE, TOKEN_LIFETIME, Interaction, Message
from tests.discord_emulator.mentions import resolve
from tests.discord_emulator.ratelimit import Faults, RateLimiter
from tests.discord_emulator.validation import (
    IS_COMPONENTS_V2,
    SETTABLE_FLAGS,
    SUPPRESS_EMBEDS,
    Context,
    message_flags,
)
from tests.discord_emulator.world import Channel, Guild, Snowflakes, User, World, shard_of

API_PREFIX = "/api/v10"
NONCE_WINDOW = 5 * 60.0  # enforce_nonce: "within the past few minutes"
GUILDS_PER_RECOMMENDED_SHARD = 1000  # GET /gateway/bot recommends about one shard per 1,000 guilds
SESSION_STARTS = 1000  # IDENTIFYs allowed per day (session_start_limit.total)


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
    15-minute deadlines without waiting for them. `privileged_intents` are those the application is approved for
    (discord.py's names: members, presences, message_content); IDENTIFY with any other is closed with 4014.
    `servers_per_shard` is the most guilds one shard may hold (4011 above it), `recommended_shards` what
    GET /gateway/bot recommends (by default one shard per 1,000 guilds).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
        heartbeat_ack_delay: float = HEARTBEAT_ACK_DELAY,
        privileged_intents: Iterable[str] = (),
        servers_per_shard: int = SERVERS_PER_SHARD,
        recommended_shards: int | None = None,
    ) -> None:
        approved = list(privileged_intents)
        if not set(approved) <= set(PRIVILEGED):
            raise UnknownIntent(f"privileged intents are {', '.join(PRIVILEGED)}; got {', '.join(approved)}")
        if servers_per_shard < 1 or (recommended_shards is not None and recommended_shards < 1):
            raise ValueError("servers_per_shard and recommended_shards are at least 1")
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
        self.recommended_shards = recommended_shards
        self.gateway = Gateway(
            self,
            heartbeat_interval_ms=heartbeat_interval_ms,
            heartbeat_ack_delay=heartbeat_ack_delay,
            approved_intents=intent_bits(approved),
            servers_per_shard=servers_per_shard,
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

    def shard_recommendation(self) -> int:
        """GET /gateway/bot's `shards`: the configured number, else about one per 1,000 guilds."""
        if self.recommended_shards is not None:
            return self.recommended_shards
        return max(1, math.ceil(len(self.world.guilds) / GUILDS_PER_RECOMMENDED_SHARD))

    def session_start_limit(self) -> dict[str, int]:
        window = self.gateway.session_window(24 * 3600.0)
        return {
            "total": SESSION_STARTS,
            "remaining": max(0, SESSION_STARTS - window.started),
            "reset_after": int(window.reset_after * 1000),
            "max_concurrency": 1,
        }

    def guilds_of(self, shard: tuple[int, int]) -> list[Guild]:
        return [guild for guild in self.world.guilds.values() if shard_of(guild.id, shard[1]) == shard[0]]

    def guild_payloads(self, shard: tuple[int, int]) -> list[dict[str, Any]]:
        return [guild.payload(self.world.bot) for guild in self.guilds_of(shard)]

    def member_payloads(
        self, guild_id: int, query: str | None, user_ids: list[int] | None, limit: int
    ) -> tuple[list[dict[str, Any]], list[int]] | None:
        """Request Guild Members: members whose username starts with `query`, or those of `user_ids`."""
        guild = self.world.guilds.get(guild_id)
        if guild is None:
            return None
        members = [self.world.users[user_id] for user_id in guild.members]
        not_found: list[int] = []
        if user_ids is not None:
            not_found = [user_id for user_id in user_ids if user_id not in guild.members]
            members = [user for user in members if user.id in user_ids]
        elif query:
            members = [user for user in members if user.username.casefold().startswith(query.casefold())]
        if limit:
            members = members[:limit]
        return [guild.member_payload(user) for user in members], not_found

    async def dispatch_to_guild(self, event: str, data: dict[str, Any], guild: Guild) -> None:
        await self.gateway.dispatch(event, data, guild_id=guild.id)

    def ready_payload(self, session_id: str, shard: tuple[int, int]) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.world.bot.payload() | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in self.guilds_of(shard)],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": list(shard),
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
        reference: Message | None = None,
    ) -> Message:
        """Store a message the bot sent (its body already validated); the flags a sender may not set are left
        out, as Discord leaves them out."""
        context: Context = "interaction" if interaction else "channel"
        message = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.world.bot,
            body=_stored(body),
            created_at=datetime.now(UTC),
            application_id=self.application_id if interaction else None,
            interaction_id=interaction.id if interaction else None,
            flags=flags | (message_flags(body) & SETTABLE_FLAGS[context]),
            reference=reference,
        )
        self._mention(message, body.get("allowed_mentions"))
        self.messages[message.id] = message
        if interaction is not None:
            interaction.messages.append(message)
            interaction.touch()
        return message

    def edit_message(self, message: Message, changes: dict[str, Any]) -> None:
        """Apply an edit (already validated). New content (a V2 message's components) is parsed for mentions
        again, with the edit's allowed_mentions or else the defaults, not the original message's."""
        message.edit(_stored(changes))
        if changes.get("flags") is not None:
            # SUPPRESS_EMBEDS follows the edit both ways; IS_COMPONENTS_V2 can only be set (check_message)
            asked = message_flags(changes) & SETTABLE_FLAGS["edit"]
            message.flags = (message.flags & ~SUPPRESS_EMBEDS) | asked
        if "content" in changes or ("components" in changes and message.flags & IS_COMPONENTS_V2):
            self._mention(message, changes.get("allowed_mentions"))

    def _mention(self, message: Message, allowed: Any) -> None:
        channel = self.world.channel(message.channel_id)
        if channel is None:
            return
        body = {**message.body, "allowed_mentions": allowed}
        message.pings = resolve(
            body,
            message.flags,
            guild=self.guild_of(channel),
            channel=channel,
            sender=message.author.id,
            interaction=message.application_id is not None,
        )
        message.mentioned = [self.world.users[user_id] for user_id in message.pings.users]

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
            if interaction.kind == 4 and interaction.error is not None:  # refused choices are not sent again
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


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    """What Discord keeps of a message body: embed text trimmed, every component given an id."""
    stored = dict(body)
    if isinstance(stored.get("embeds"), list):
        stored["embeds"] = [_trimmed(embed) for embed in stored["embeds"]]
    if isinstance(stored.get("components"), list):
        stored["components"] = with_ids(stored["components"])
    return stored


def _trimmed(embed: dict[str, Any]) -> dict[str, Any]:
    embed = dict(embed)
    for key in ("title", "description"):
        if isinstance(embed.get(key), str):
            embed[key] = embed[key].strip()
    if isinstance(embed.get("fields"), list):
        embed["fields"] = [
            {**item, "name": item["name"].strip(), "value": item["value"].strip()} for item in embed["fields"]
        ]
    for part, key in (("footer", "text"), ("author", "name")):
        if isinstance(embed.get(part), dict) and isinstance(embed[part].get(key), str):
            embed[part] = {**embed[part], key: embed[part][key].strip()}
    return embed
