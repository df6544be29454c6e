"""The control API under /_emulator: what tests and people use to act as Discord's users and to look inside.

Paths and shapes are fixed by issue 3; outside tools rely on them. Errors are 400 `{error}` with a sentence
saying what was wrong, never a Discord error body (this API is not Discord's).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.discord_emulator.components import find
from tests.discord_emulator.interactions import (
    Interaction,
    Refused,
    command_options,
    interaction_payload,
    new_token,
    resolved,
)
from tests.discord_emulator.ratelimit import Fault
from tests.discord_emulator.server import reply
from tests.discord_emulator.world import (
    ALL_PERMISSIONS,
    Channel,
    CommandPermission,
    Guild,
    Overwrite,
    UnknownPermission,
    User,
    bits,
)

if TYPE_CHECKING:
    from tests.discord_emulator.server import Emulator

PREFIX = "/_emulator"
AUTOCOMPLETE_WAIT = 3.0


def refuse(text: str, status: int = 400) -> web.Response:
    return reply(status, {"error": text})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise Refused("the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused("the body must be a JSON object")
    return body


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Refused(f"{what} must be an id, got {value!r}") from None


def _permission_bits(names: Any) -> int:
    try:
        return bits(list(names or []))
    except (UnknownPermission, TypeError) as unknown:
        raise Refused(f"unknown permission {unknown} (use names like send_messages, embed_links)") from None


COMMAND_PERMISSION_TYPES = {"role": 1, "user": 2, "channel": 3}


def add_routes(app: web.Application, emu: Emulator) -> None:
    world = emu.world
    r = app.router

    def guild_summary(guild: Guild) -> dict[str, Any]:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "channels": [{"id": str(c.id), "name": c.name} for c in guild.channels.values()],
            "roles": [{"id": str(r.id), "name": r.name, "mentionable": r.mentionable} for r in guild.roles.values()],
        }

    def pick_guild(value: Any) -> Guild:
        if value is None:
            return world.default_guild
        guild = world.guilds.get(_int(value, "guild_id"))
        if guild is None:
            raise Refused(f"no guild {value}")
        return guild

    def pick_channel(guild: Guild, value: Any) -> Channel:
        if value is None:
            return world.general(guild)
        channel = guild.channels.get(_int(value, "channel_id"))
        if channel is None:
            raise Refused(f"no channel {value} in guild {guild.id}")
        return channel

    def guarded(handler: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            try:
                response: web.Response = await handler(request)
            except Refused as refused:
                return refuse(str(refused))
            return response

        return run

    async def state(_: web.Request) -> web.Response:
        commands = [c for guild_commands in emu.commands.values() for c in guild_commands]
        users = {name: {"id": str(getattr(world, name).id)} for name in ("admin", "member", "bot", "owner")}
        return reply(
            200, {"guilds": [guild_summary(g) for g in world.guilds.values()], "users": users, "commands": commands}
        )

    async def new_guild(request: web.Request) -> web.Response:
        """A new server that adds the bot (GUILD_CREATE); `shard: [id, count]` places it on that shard."""
        body = await _json(request)
        shard = body.get("shard")
        if shard is not None:
            if not (isinstance(shard, list) and len(shard) == 2 and all(isinstance(n, int) for n in shard)):
                raise Refused("shard must be [shard_id, shard_count]")
            if not 0 <= shard[0] < shard[1]:
                raise Refused("shard_id must be from 0 to shard_count - 1")
        guild = world.add_guild(str(body.get("name") or "New server"), (shard[0], shard[1]) if shard else None)
        await emu.dispatch_to_guild("GUILD_CREATE", guild.payload(world.bot), guild)
        return reply(200, guild_summary(guild))

    async def remove_bot(request: web.Request) -> web.Response:
        """The server removes the bot (kicked, or the server deleted): GUILD_DELETE, and it sees nothing there."""
        guild = pick_guild(request.match_info["guild_id"])
        world.remove_bot(guild)
        await emu.dispatch_to_guild("GUILD_DELETE", {"id": str(guild.id)}, guild)
        return reply(200, {"id": str(guild.id), "removed": True})

    async def rejoin(request: web.Request) -> web.Response:
        """The bot is added back to a server that had removed it (GUILD_CREATE)."""
        guild = world.departed.get(_int(request.match_info["guild_id"], "guild id"))
        if guild is None:
            raise Refused(f"the bot was not removed from guild {request.match_info['guild_id']}")
        world.rejoin(guild)
        await emu.dispatch_to_guild("GUILD_CREATE", guild.payload(world.bot), guild)
        return reply(200, guild_summary(guild))

    async def new_role(request: web.Request) -> web.Response:
        """A role (GUILD_ROLE_CREATE), optionally given to members: `{name, permissions, mentionable, members}`."""
        body = await _json(request)
        guild = pick_guild(body.get("guild_id"))
        members = [who(member) for member in body.get("members") or []]
        strangers = [str(user.id) for user in members if user.id not in guild.members]
        if strangers:
            raise Refused(f"not members of guild {guild.id}: {', '.join(strangers)}")
        role = world.add_role(
            guild,
            str(body.get("name") or "role"),
            _permission_bits(body.get("permissions")),
            mentionable=bool(body.get("mentionable", False)),
        )
        for user in members:
            guild.members[user.id].append(role.id)
        await emu.dispatch_to_guild("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, guild)
        return reply(200, {"id": str(role.id), "name": role.name})

    async def command_permissions(request: web.Request) -> web.Response:
        """What an admin sets in Server Settings > Integrations: overrides for one command (`command`: its name)
        or for every command (no `command`), replacing the previous ones. Each override is
        `{"type": "role"|"user"|"channel", "id": ..., "permission": true|false}`; the guild id is @everyone,
        the guild id - 1 every channel."""
        body = await _json(request)
        guild = pick_guild(body.get("guild_id"))
        name = body.get("command")
        if name is None:
            target_id = emu.application_id
        else:
            command = next((c for c in emu.commands_for(guild.id) if c["name"] == str(name).lstrip("/")), None)
            if command is None:
                raise Refused(f"no synced command /{name} in guild {guild.id}")
            target_id = int(command["id"])
        rules: list[CommandPermission] = []
        entries = body.get("permissions")
        if not isinstance(entries, list) or len(entries) > 100:
            raise Refused("permissions must be a list of at most 100 overrides")
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("type") not in COMMAND_PERMISSION_TYPES:
                raise Refused('each override is {"type": "role"|"user"|"channel", "id": ..., "permission": bool}')
            kind = COMMAND_PERMISSION_TYPES[entry["type"]]
            rules.append(CommandPermission(_int(entry.get("id"), "id"), kind, bool(entry.get("permission"))))
        guild.command_permissions[target_id] = rules
        payload = {
            "id": str(target_id),
            "application_id": str(emu.application_id),
            "guild_id": str(guild.id),
            "permissions": [rule.payload() for rule in rules],
        }
        await emu.dispatch_to_guild("APPLICATION_COMMAND_PERMISSIONS_UPDATE", payload, guild)
        return reply(200, payload)

    async def new_channel(request: web.Request) -> web.Response:
        body = await _json(request)
        guild = pick_guild(body.get("guild_id"))
        name = str(body.get("name") or "")
        if not re.fullmatch(r"[-_\w]{1,100}", name):
            raise Refused("a channel needs a name of 1-100 letters, digits, - or _")
        channel = world.add_channel(guild, name)
        await emu.dispatch_to_guild("CHANNEL_CREATE", channel.payload(), guild)
        return reply(200, {"id": str(channel.id), "name": channel.name, "guild_id": str(guild.id)})

    async def delete_channel(request: web.Request) -> web.Response:
        channel = world.channel(_int(request.match_info["channel_id"], "channel id"))
        if channel is None:
            raise Refused("no such channel")
        guild = emu.guild_of(channel)
        del guild.channels[channel.id]
        await emu.dispatch_to_guild("CHANNEL_DELETE", channel.payload(), guild)
        return reply(200, {"id": str(channel.id)})

    async def permissions(request: web.Request) -> web.Response:
        """The bot's own overwrite in a channel (CHANNEL_UPDATE), or its role in a guild (GUILD_ROLE_UPDATE)."""
        body = await _json(request)
        allow, deny = _permission_bits(body.get("allow")), _permission_bits(body.get("deny"))
        if body.get("channel_id") is not None:
            channel = world.channel(_int(body["channel_id"], "channel_id"))
            if channel is None:
                raise Refused("no such channel")
            overwrite = channel.overwrites.setdefault(world.bot.id, Overwrite(world.bot.id, 1))
            overwrite.allow = (overwrite.allow & ~deny) | allow
            overwrite.deny = (overwrite.deny & ~allow) | deny
            guild = emu.guild_of(channel)
            await emu.dispatch_to_guild("CHANNEL_UPDATE", channel.payload(), guild)
            effective = guild.channel_permissions(world.bot.id, channel)
        else:
            guild = pick_guild(body.get("guild_id"))
            role = world.bot_role(guild)
            role.permissions = ((role.permissions & ~deny) | allow) & ALL_PERMISSIONS
            await emu.dispatch_to_guild("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.payload()}, guild)
            effective = guild.base_permissions(world.bot.id)
        return reply(200, {"permissions": str(effective)})

    async def new_user(request: web.Request) -> web.Response:
        body = await _json(request)
        guild = pick_guild(body["guild_id"]) if body.get("guild_id") is not None else None
        user = world.add_user(str(body.get("username") or "user"), guild)
        return reply(200, {"id": str(user.id), "username": user.username})

    def who(value: Any) -> User:
        user = emu.user(value if value is not None else "member")
        if user is None:
            raise Refused(f"no user {value!r} (use admin, member or a user id)")
        return user

    def start(
        kind: int, guild: Guild, channel: Channel, user: Any, data: dict[str, Any], message: Any = None
    ) -> Interaction:
        if user.id not in guild.members:
            raise Refused(f"user {user.id} is not a member of guild {guild.id}")
        interaction_id = emu.ids.next()
        token = new_token()
        payload = interaction_payload(
            interaction_id=interaction_id,
            kind=kind,
            token=token,
            application_id=emu.application_id,
            world=world,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            message=message,
        )
        interaction = Interaction(interaction_id, kind, token, emu.clock(), guild, channel, user, payload, message)
        emu.interactions[interaction_id] = interaction
        return interaction

    def command_data(
        body: dict[str, Any], guild: Guild, channel: Channel, user: Any, focused: str | None
    ) -> dict[str, Any]:
        name = str(body.get("command") or "").lstrip("/")
        definition = next((c for c in emu.commands_for(guild.id) if c["name"] == name and c["type"] == 1), None)
        if definition is None:
            synced = sorted(c["name"] for c in emu.commands_for(guild.id))
            raise Refused(f"no synced command /{name} in guild {guild.id} (synced: {synced})")
        required = definition.get("default_member_permissions")
        default = None if required is None else int(required)
        if not guild.may_use_command(user.id, channel, int(definition["id"]), emu.application_id, default):
            raise Refused(
                f"/{name} is hidden from user {user.id}: default_member_permissions {required} "
                "and the server's command permission overrides"
            )
        values = body.get("options") or {}
        if not isinstance(values, dict):
            raise Refused("options must be an object {name: value}")
        path = str(body.get("subcommand") or "").split()
        options = command_options(definition, path, values, world, guild, focused)
        data: dict[str, Any] = {"id": definition["id"], "name": name, "type": 1, "options": options}
        if definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        found = resolved(options, world, guild)
        if found:
            data["resolved"] = found
        return data

    async def run_command(request: web.Request) -> web.Response:
        body = await _json(request)
        guild = pick_guild(body.get("guild_id"))
        channel = pick_channel(guild, body.get("channel_id"))
        user = who(body.get("user"))
        data = command_data(body, guild, channel, user, None)
        interaction = start(2, guild, channel, user, data)
        await emu.dispatch_to_guild("INTERACTION_CREATE", interaction.payload, guild)
        return reply(200, {"id": str(interaction.id)})

    async def autocomplete(request: web.Request) -> web.Response:
        body = await _json(request)
        focused = body.get("focused")
        if not isinstance(focused, str):
            raise Refused("autocomplete needs `focused`, the name of the option being typed")
        guild = pick_guild(body.get("guild_id"))
        channel = pick_channel(guild, body.get("channel_id"))
        user = who(body.get("user"))
        data = command_data(body, guild, channel, user, focused)
        interaction = start(4, guild, channel, user, data)
        await emu.dispatch_to_guild("INTERACTION_CREATE", interaction.payload, guild)
        await emu.wait_interaction(interaction, float(body.get("wait", AUTOCOMPLETE_WAIT)))
        report = interaction.report(emu.clock())
        return reply(200, {"id": str(interaction.id), "choices": interaction.choices, "error": report["error"]})

    async def press(request: web.Request) -> web.Response:
        body = await _json(request)
        message = emu.messages.get(_int(body.get("message_id"), "message_id"))
        if message is None:
            raise Refused(f"no message {body.get('message_id')}")
        custom_id = str(body.get("custom_id") or "")
        component = find(message.body.get("components"), custom_id)
        if component is None:
            raise Refused(f"message {message.id} has no component with custom_id {custom_id!r}")
        if component.get("disabled"):
            raise Refused(f"component {custom_id!r} is disabled")
        channel = world.channel(message.channel_id)
        if channel is None:
            raise Refused("the message's channel is gone")
        guild = emu.guild_of(channel)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component.get("type", 2)}
        if component.get("type") in (3, 5, 6, 7, 8):
            data["values"] = [str(v) for v in body.get("values") or []]
        interaction = start(3, guild, channel, who(body.get("user")), data, message)
        await emu.dispatch_to_guild("INTERACTION_CREATE", interaction.payload, guild)
        return reply(200, {"id": str(interaction.id)})

    async def get_interaction(request: web.Request) -> web.Response:
        interaction = emu.interactions.get(_int(request.match_info["interaction_id"], "interaction id"))
        if interaction is None:
            return refuse("no such interaction", 404)
        try:
            wait = min(float(request.query.get("wait", "0")), 60.0)
        except ValueError:
            raise Refused("wait must be a number of seconds") from None
        if wait > 0:
            await emu.wait_interaction(interaction, wait)
        return reply(200, interaction.report(emu.clock()))

    async def channel_messages(request: web.Request) -> web.Response:
        channel_id = _int(request.match_info["channel_id"], "channel id")
        return reply(200, [m.summary() for m in emu.channel_messages(channel_id)])

    async def requests(_: web.Request) -> web.Response:
        return reply(
            200,
            {
                "requests": [entry.as_dict() for entry in emu.log],
                "rate_limited": emu.limiter.limited,
                "global_rate_limited": emu.limiter.global_limited,
                "syncs": emu.syncs,
                "gateway": {
                    "identifies": emu.gateway.identifies,
                    "resumes": emu.gateway.resumes,
                    "heartbeats": emu.gateway.heartbeats,
                    "compressed_connections": emu.gateway.compressed_connections,
                    "closes": emu.gateway.closes,
                    "sessions": [
                        {"shard": list(session.shard), "intents": session.intents, "connected": bool(session.socket)}
                        for session in emu.gateway.sessions.values()
                    ],
                },
            },
        )

    async def faults(request: web.Request) -> web.Response:
        body = await _json(request)
        try:
            pattern = re.compile(str(body.get("path") or ".*"))
        except re.error as bad:
            raise Refused(f"path is not a regular expression: {bad}") from None
        stall = body.get("stall", 0)
        if not isinstance(stall, int | float) or isinstance(stall, bool) or not 0 <= stall <= 3600:
            raise Refused("stall must be a number of seconds from 0 to 3600")
        status = _int(body.get("status", 0 if stall else None), "status")
        if not (400 <= status <= 599 or (stall and status == 0)):
            raise Refused("status must be an HTTP error status (400-599), or 0 with a stall")
        extra = body.get("body")
        fault = Fault(
            str(body.get("method") or "*").upper(),
            pattern,
            status,
            _int(body.get("count", 1), "count"),
            extra,
            after=bool(body.get("after", False)),
            stall=float(stall),
        )
        emu.faults.pending.append(fault)
        return reply(200, {"pending": sum(f.count for f in emu.faults.pending)})

    async def reset(_: web.Request) -> web.Response:
        emu.reset()
        return reply(200, {"reset": True})

    async def reconnect(_: web.Request) -> web.Response:
        return reply(200, {"asked": await emu.gateway.reconnect()})

    routes = [
        ("GET", "/state", state),
        ("POST", "/guilds", new_guild),
        ("DELETE", "/guilds/{guild_id}", remove_bot),
        ("POST", "/guilds/{guild_id}/join", rejoin),
        ("POST", "/roles", new_role),
        ("POST", "/command-permissions", command_permissions),
        ("POST", "/channels", new_channel),
        ("DELETE", "/channels/{channel_id}", delete_channel),
        ("POST", "/permissions", permissions),
        ("POST", "/users", new_user),
        ("POST", "/interactions", run_command),
        ("POST", "/autocomplete", autocomplete),
        ("POST", "/components", press),
        ("GET", "/interactions/{interaction_id}", get_interaction),
        ("GET", "/channels/{channel_id}/messages", channel_messages),
        ("GET", "/requests", requests),
        ("POST", "/faults", faults),
        ("POST", "/reset", reset),
        ("POST", "/reconnect", reconnect),
    ]
    for method, path, handler in routes:
        r.add_route(method, PREFIX + path, guarded(handler))


__all__ = ["add_routes"]
