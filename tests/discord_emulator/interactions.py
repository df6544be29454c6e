"""Messages, interactions and their lifecycle: the 3-second window, the 15-minute token, one response only.

Interactions created through the control API are built from the synced command definitions, so a command or an
option the bot never registered is refused the way a Discord client would never send it.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.discord_emulator.mentions import Pings
from tests.discord_emulator.world import Channel, Guild, User, World

RESPONSE_DEADLINE = 3.0  # seconds to the initial response (receiving-and-responding.mdx:351)
TOKEN_LIFETIME = 15 * 60.0
EPHEMERAL = 1 << 6
LOADING = 1 << 7
OPTION_TYPES = {3: str, 4: int, 5: bool, 6: int, 7: int, 8: int, 10: float}


class Refused(ValueError):
    """The control API cannot create this interaction (a Discord client would not send it)."""


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author: User
    body: dict[str, Any]
    created_at: datetime
    application_id: int | None = None
    interaction_id: int | None = None
    flags: int = 0
    edited_at: datetime | None = None
    reference: Message | None = None  # the message this one replies to
    pings: Pings = field(default_factory=Pings)
    mentioned: list[User] = field(default_factory=list)  # the users of pings.users

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def edit(self, changes: dict[str, Any]) -> None:
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in changes:
                self.body[key] = changes[key]
        self.flags &= ~LOADING
        self.edited_at = datetime.now(UTC)

    def summary(self) -> dict[str, Any]:
        """As the control API shows it: what was sent, with edits applied."""
        return {
            "id": str(self.id),
            "content": self.body.get("content") or "",
            "embeds": self.body.get("embeds") or [],
            "components": self.body.get("components") or [],
            "allowed_mentions": self.body.get("allowed_mentions"),
            "mentions": [str(user_id) for user_id in self.pings.users],
            "mention_roles": [str(role_id) for role_id in self.pings.roles],
            "mention_everyone": self.pings.everyone,
            "reply_to": str(self.reference.id) if self.reference else None,
            "nonce": self.body.get("nonce"),
            "flags": self.flags,
            "edited": self.edited_at is not None,
        }

    def payload(self) -> dict[str, Any]:
        """The message object of the REST API."""
        payload: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.payload(),
            "content": self.body.get("content") or "",
            "timestamp": self.created_at.isoformat(),
            "edited_timestamp": self.edited_at.isoformat() if self.edited_at else None,
            "tts": bool(self.body.get("tts", False)),
            "mention_everyone": self.pings.everyone,
            "mentions": [user.payload() for user in self.mentioned],
            "mention_roles": [str(role_id) for role_id in self.pings.roles],
            "attachments": [],
            "embeds": self.body.get("embeds") or [],
            "components": self.body.get("components") or [],
            "pinned": False,
            "type": 20 if self.interaction_id else 19 if self.reference else 0,
            "flags": self.flags,
        }
        if self.reference is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": str(self.reference.id),
                "channel_id": str(self.reference.channel_id),
                "guild_id": str(self.reference.guild_id),
            }
            payload["referenced_message"] = self.reference.payload()
        if self.guild_id is not None:
            payload["guild_id"] = str(self.guild_id)
        if self.body.get("nonce") is not None:
            payload["nonce"] = self.body["nonce"]
        if self.application_id is not None:
            payload["application_id"] = str(self.application_id)
            payload["webhook_id"] = str(self.application_id)
        return payload


@dataclass
class Interaction:
    id: int
    kind: int
    token: str
    created: float  # emulator clock
    guild: Guild
    channel: Channel
    user: User
    payload: dict[str, Any]
    message: Message | None = None  # the message a pressed component sits on
    response: int | None = None  # callback type
    responded_at: float | None = None
    messages: list[Message] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def deferred(self) -> bool:
        return self.response in (5, 6)

    @property
    def ephemeral(self) -> bool:
        return any(m.ephemeral for m in self.messages)

    @property
    def answered(self) -> bool:
        """Final as far as a user can tell: a response that is not a 'thinking...' placeholder."""
        if self.response is None:
            return False
        return not any(m.flags & LOADING for m in self.messages)

    def touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def report(self, now: float) -> dict[str, Any]:
        if self.answered:
            status = "answered"
        elif self.response is not None:
            status = "deferred"
        elif now - self.created > RESPONSE_DEADLINE:
            status = "expired"
        else:
            status = "pending"
        error = self.error
        if error is None and status == "expired":
            error = {"code": 10062, "message": "Unknown interaction (no response within 3 s)"}
        return {
            "id": str(self.id),
            "status": status,
            "deferred": self.deferred,
            "ephemeral": self.ephemeral,
            "messages": [m.summary() for m in self.messages],
            "choices": self.choices,
            "error": error,
        }


def _coerce(option: dict[str, Any], value: Any, world: World, guild: Guild) -> Any:
    kind = option["type"]
    name = option["name"]
    if kind not in OPTION_TYPES:
        raise Refused(f"option {name!r} has type {kind}, which the emulator cannot fill")
    try:
        typed = OPTION_TYPES[kind](value)
    except (TypeError, ValueError):
        raise Refused(f"option {name!r} needs a {OPTION_TYPES[kind].__name__}, got {value!r}") from None
    choices = option.get("choices")
    if choices and typed not in [c["value"] for c in choices]:
        raise Refused(f"option {name!r} must be one of {[c['value'] for c in choices]}")
    if isinstance(typed, str):
        if len(typed) < option.get("min_length", 0) or len(typed) > option.get("max_length", 6000):
            raise Refused(f"option {name!r}: length of {typed!r} outside the command's limits")
    elif kind in (4, 10):
        low, high = option.get("min_value"), option.get("max_value")
        if (low is not None and typed < low) or (high is not None and typed > high):
            raise Refused(f"option {name!r}: {typed} outside [{low}, {high}]")
    if kind == 6 and typed not in world.users:
        raise Refused(f"option {name!r}: unknown user {typed}")
    if kind == 7 and typed not in guild.channels:
        raise Refused(f"option {name!r}: unknown channel {typed}")
    if kind == 8 and typed not in guild.roles:
        raise Refused(f"option {name!r}: unknown role {typed}")
    return str(typed) if kind in (6, 7, 8) else typed


def command_options(
    definition: dict[str, Any],
    path: list[str],
    values: dict[str, Any],
    world: World,
    guild: Guild,
    focused: str | None = None,
) -> list[dict[str, Any]]:
    """The `options` of an APPLICATION_COMMAND interaction, typed as the definition says."""
    options = definition.get("options") or []
    if path:
        sub = next((o for o in options if o["name"] == path[0] and o["type"] in (1, 2)), None)
        if sub is None:
            raise Refused(f"/{definition['name']} has no subcommand {path[0]!r}")
        inner = command_options(sub, path[1:], values, world, guild, focused)
        return [{"type": sub["type"], "name": sub["name"], "options": inner}]
    if any(o["type"] in (1, 2) for o in options):
        raise Refused(f"/{definition['name']} needs a subcommand")
    known = {o["name"]: o for o in options}
    for name in values:
        if name not in known:
            raise Refused(f"/{definition['name']} has no option {name!r} (it has {sorted(known)})")
    result: list[dict[str, Any]] = []
    for option in options:
        name = option["name"]
        if name == focused:
            if not option.get("autocomplete"):
                raise Refused(f"option {name!r} has no autocomplete")
            result.append({"type": option["type"], "name": name, "value": str(values.get(name, "")), "focused": True})
        elif name in values:
            result.append({"type": option["type"], "name": name, "value": _coerce(option, values[name], world, guild)})
        elif option.get("required") and focused is None:
            raise Refused(f"/{definition['name']} needs option {name!r}")
    return result


def resolved(options: list[dict[str, Any]], world: World, guild: Guild) -> dict[str, Any]:
    """Users, members, channels and roles named by the options, as Discord resolves them."""
    found: dict[str, dict[str, Any]] = {}
    stack = list(options)
    while stack:
        option = stack.pop()
        stack.extend(option.get("options") or [])
        value = option.get("value")
        if option["type"] == 6:
            user = world.users[int(value)]  # type: ignore[arg-type]
            found.setdefault("users", {})[str(user.id)] = user.payload()
            if user.id in guild.members:
                member = guild.member_payload(user, permissions=guild.base_permissions(user.id))
                member.pop("user")
                found.setdefault("members", {})[str(user.id)] = member
        elif option["type"] == 7:
            channel = guild.channels[int(value)]  # type: ignore[arg-type]
            found.setdefault("channels", {})[str(channel.id)] = channel.payload() | {
                "permissions": str(guild.channel_permissions(world.bot.id, channel))
            }
        elif option["type"] == 8:
            found.setdefault("roles", {})[str(value)] = guild.roles[int(value)].payload()  # type: ignore[arg-type]
    return found


def interaction_payload(
    *,
    interaction_id: int,
    kind: int,
    token: str,
    application_id: int,
    world: World,
    guild: Guild,
    channel: Channel,
    user: User,
    data: dict[str, Any],
    message: Message | None = None,
) -> dict[str, Any]:
    """A complete INTERACTION_CREATE payload (discord.py hard-requires version, attachment_size_limit...)."""
    user_permissions = guild.channel_permissions(user.id, channel)
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": kind,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel.id),
        "channel": channel.payload() | {"permissions": str(user_permissions)},
        "member": guild.member_payload(user, permissions=user_permissions),
        "token": token,
        "version": 1,
        "app_permissions": str(guild.channel_permissions(world.bot.id, channel)),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if message is not None:
        payload["message"] = message.payload()
    return payload


def new_token() -> str:
    return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
