"""REST under /api/v10: the routes discord.py calls, with Discord's status codes and error bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.discord_emulator.forms import Form, error_body, invalid_form
from tests.discord_emulator.interactions import EPHEMERAL, LOADING, Interaction, Message
from tests.discord_emulator.ratelimit import EXEMPT, Fault, retry_after_header
from tests.discord_emulator.server import API_PREFIX, NONCE_WINDOW, Logged, error, reply
from tests.discord_emulator.validation import check_choices, check_commands, check_message, message_flags
from tests.discord_emulator.world import PERMISSIONS, Channel

if TYPE_CHECKING:
    from tests.discord_emulator.server import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VIA = {"Via": "1.1 google"}  # without it discord.py takes a 429 for a Cloudflare ban (http.py:712)


def middleware(emu: Emulator) -> Any:
    @web.middleware
    async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        response = await _api(emu, request, handler, path)
        emu.log.append(Logged(request.method, path, response.status))
        return response

    return handle


def _fault_reply(emu: Emulator, fault: Fault) -> web.StreamResponse:
    if fault.status == 429:
        emu.limiter.limited += 1
        body: dict[str, Any] = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
        body |= fault.body or {}
        headers = {
            **VIA,
            "Retry-After": retry_after_header(float(body["retry_after"])),
            "X-RateLimit-Scope": "user",
        }
        if body.get("global"):
            emu.limiter.global_limited += 1
            headers["X-RateLimit-Global"] = "true"
        return reply(429, body, headers)
    return reply(fault.status, fault.body or {"code": 0, "message": f"{fault.status}: emulated fault"})


async def _stalled(request: web.Request, seconds: float) -> bool:
    """Hold a request with no answer for `seconds`, as a stalled connection does; True when the client gave up
    first (nothing is carried out then: the request never got through)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if request.transport is None or request.transport.is_closing():
            return True
        await asyncio.sleep(0.05)
    return False


async def _api(emu: Emulator, request: web.Request, handler: Handler, path: str) -> web.StreamResponse:
    fault = emu.faults.take(request.method, path)
    if fault is not None and fault.stall:
        if await _stalled(request, fault.stall):
            return error(499, 0, "499: the client gave up waiting")  # logged; no one reads the answer
        if not fault.status:
            fault = None
    if fault is not None and not fault.after:
        return _fault_reply(emu, fault)
    response = await _serve(emu, request, handler, path)
    if fault is not None and response.status < 400:  # done, and the answer lost on the way back
        return _fault_reply(emu, fault)
    return response


async def _serve(emu: Emulator, request: web.Request, handler: Handler, path: str) -> web.StreamResponse:
    if not EXEMPT.match(path) and request.headers.get("Authorization") != f"Bot {emu.token}":
        return error(401, 0, "401: Unauthorized")
    route = request.match_info.route.resource
    if request.match_info.http_exception is not None or route is None:
        status = request.match_info.http_exception.status if request.match_info.http_exception else 404
        return error(status, 0, f"{status}: Not Found" if status == 404 else "405: Method Not Allowed")
    template = route.canonical[len(API_PREFIX) :]
    info = request.match_info
    major = info.get("channel_id") or info.get("guild_id") or (info.get("webhook_id", "") + info.get("token", ""))
    verdict = emu.limiter.check(request.method, template, major, path)
    if verdict.refusal is not None:
        return reply(429, verdict.refusal, {**verdict.headers, **VIA})
    response = await handler(request)
    response.headers.update(verdict.headers)
    return response


async def _body(request: web.Request) -> Any:
    """JSON, or the payload_json part of a multipart body (discord.py sends that with files)."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        try:
            return json.loads(str(form.get("payload_json", "{}")))
        except ValueError:
            return None
    if not request.can_read_body:
        return {}
    try:
        return await request.json()
    except ValueError:
        return None


def _permission_string(value: Any) -> str | None:
    """Discord stores and echoes permission bit sets as strings."""
    return None if value is None else str(int(value))


def add_routes(app: web.Application, emu: Emulator) -> None:
    r = app.router
    p = API_PREFIX
    world = emu.world

    def bad_json() -> web.Response:
        return error(400, 50109, "The request body contains invalid JSON.")

    # Login -----------------------------------------------------------------------------------------

    async def me(_: web.Request) -> web.Response:
        return reply(200, world.bot.payload() | {"verified": True, "mfa_enabled": False, "email": None})

    async def user(request: web.Request) -> web.Response:
        found = world.users.get(int(request.match_info["user_id"]))
        return reply(200, found.payload()) if found else error(404, 10013, "Unknown User")

    async def application(_: web.Request) -> web.Response:
        owner = world.owner.payload()
        return reply(
            200,
            {
                "id": str(emu.application_id),
                "name": world.bot.username,
                "icon": None,
                "description": "Accord Watch, as seen by the emulator",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": owner,
                "team": None,
                "flags": 0,
                "bot": world.bot.payload(),
                "rpc_origins": [],
                "redirect_uris": [],
                "tags": [],
                "approximate_guild_count": len(world.guilds),
                "integration_types_config": {"0": {}},
            },
        )

    async def gateway(_: web.Request) -> web.Response:
        return reply(200, {"url": emu.gateway_url})

    async def gateway_bot(_: web.Request) -> web.Response:
        body = {
            "url": emu.gateway_url,
            "shards": emu.shard_recommendation(),
            "session_start_limit": emu.session_start_limit(),
        }
        return reply(200, body)

    r.add_get(p + "/users/@me", me)
    r.add_get(p + "/users/{user_id:\\d+}", user)
    r.add_get(p + "/oauth2/applications/@me", application)
    r.add_get(p + "/gateway", gateway)
    r.add_get(p + "/gateway/bot", gateway_bot)

    # Commands --------------------------------------------------------------------------------------

    def stored_commands(request: web.Request) -> tuple[int | None, web.Response | None]:
        if int(request.match_info["application_id"]) != emu.application_id:
            return None, error(403, 50001, "Missing Access")
        raw = request.match_info.get("guild_id")
        if raw is not None and int(raw) not in world.guilds:
            return None, error(404, 10004, "Unknown Guild")
        return (int(raw) if raw else None), None

    async def get_commands(request: web.Request) -> web.Response:
        guild_id, problem = stored_commands(request)
        return problem or reply(200, emu.commands.get(guild_id, []))

    async def put_commands(request: web.Request) -> web.Response:
        guild_id, problem = stored_commands(request)
        if problem:
            return problem
        body = await _body(request)
        invalid = check_commands(body)
        if invalid:
            return reply(*invalid)
        previous = {(c["type"], c["name"]): c for c in emu.commands.get(guild_id, [])}
        stored = []
        for command in body:
            kind = command.get("type", 1)
            old = previous.get((kind, command["name"]))
            stored.append(
                {
                    **command,
                    "type": kind,
                    "id": old["id"] if old else str(emu.ids.next()),
                    "application_id": str(emu.application_id),
                    "version": str(emu.ids.next()),
                    "guild_id": str(guild_id) if guild_id else None,
                    "default_member_permissions": _permission_string(command.get("default_member_permissions")),
                    "options": command.get("options") or [],
                    "nsfw": bool(command.get("nsfw", False)),
                }
            )
        emu.commands[guild_id] = stored
        emu.syncs += 1
        return reply(200, stored)

    r.add_get(p + "/applications/{application_id:\\d+}/commands", get_commands)
    r.add_put(p + "/applications/{application_id:\\d+}/commands", put_commands)
    r.add_get(p + "/applications/{application_id:\\d+}/guilds/{guild_id:\\d+}/commands", get_commands)
    r.add_put(p + "/applications/{application_id:\\d+}/guilds/{guild_id:\\d+}/commands", put_commands)

    # Guilds and channels ---------------------------------------------------------------------------

    def find_channel(request: web.Request) -> Channel | None:
        try:
            return world.channel(int(request.match_info["channel_id"]))
        except ValueError:
            return None

    def unknown_channel(request: web.Request) -> web.Response:
        """10003, or 50001 for a channel of a guild that removed the bot (it exists, the bot cannot see it)."""
        raw = request.match_info["channel_id"]
        if raw.isdigit() and world.departed_channel(int(raw)) is not None:
            return missing_access()
        return error(404, 10003, "Unknown Channel")

    def missing_access() -> web.Response:
        return error(403, 50001, "Missing Access")

    def missing(channel: Channel, *needed: str) -> web.Response | None:
        """403 unless the bot has every permission named, in that channel: 50001 Missing Access when it cannot
        even see the channel, else 50013 Missing Permissions."""
        have = emu.guild_of(channel).channel_permissions(world.bot.id, channel)
        if not have & PERMISSIONS["view_channel"]:
            return missing_access()
        if any(not have & PERMISSIONS[name] for name in needed):
            return error(403, 50013, "Missing Permissions")
        return None

    async def get_channel(request: web.Request) -> web.Response:
        channel = find_channel(request)
        if channel is None:
            return unknown_channel(request)
        return missing(channel, "view_channel") or reply(200, channel.payload())

    async def get_guild(request: web.Request) -> web.Response:
        guild = world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        payload = guild.payload(world.bot)
        for key in ("channels", "members", "threads", "voice_states", "presences"):
            payload.pop(key)
        return reply(200, payload)

    async def guild_channels(request: web.Request) -> web.Response:
        guild = world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return reply(200, [channel.payload() for channel in guild.channels.values()])

    async def guild_roles(request: web.Request) -> web.Response:
        guild = world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return reply(200, [role.payload() for role in guild.roles.values()])

    async def guild_member(request: web.Request) -> web.Response:
        guild = world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        member = world.users.get(int(request.match_info["user_id"]))
        if member is None or member.id not in guild.members:
            return error(404, 10007, "Unknown Member")
        return reply(200, guild.member_payload(member))

    r.add_get(p + "/channels/{channel_id}", get_channel)
    r.add_get(p + "/guilds/{guild_id:\\d+}", get_guild)
    r.add_get(p + "/guilds/{guild_id:\\d+}/channels", guild_channels)
    r.add_get(p + "/guilds/{guild_id:\\d+}/roles", guild_roles)
    r.add_get(p + "/guilds/{guild_id:\\d+}/members/{user_id:\\d+}", guild_member)

    # Channel messages ------------------------------------------------------------------------------

    def referenced(channel: Channel, body: dict[str, Any]) -> tuple[Message | None, web.Response | None]:
        """The message a reply points to; 50035 when it does not exist unless `fail_if_not_exists` is false."""
        reference = body.get("message_reference")
        if not isinstance(reference, dict):
            return None, None
        target = emu.messages.get(int(reference["message_id"]))
        channel_id = int(reference.get("channel_id") or channel.id)
        if target is not None and target.channel_id == channel_id == channel.id and not target.ephemeral:
            return target, None
        if reference.get("fail_if_not_exists") is False:
            return None, None
        problem = (("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        return None, reply(400, invalid_form([problem]))

    async def create_message(request: web.Request) -> web.Response:
        channel = find_channel(request)
        if channel is None:
            return unknown_channel(request)
        body = await _body(request)
        if body is None:
            return bad_json()
        wants_embeds = isinstance(body, dict) and bool(body.get("embeds"))
        denied = missing(channel, "view_channel", "send_messages", *(["embed_links"] if wants_embeds else []))
        if denied:
            return denied
        invalid = check_message(body)
        if invalid:
            return reply(*invalid)
        reference, problem = referenced(channel, body)
        if problem:
            return problem
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            seen = emu.nonces.get((channel.id, str(nonce)))
            if seen and emu.clock() - seen[0] < NONCE_WINDOW and seen[1] in emu.messages:
                return reply(200, emu.messages[seen[1]].payload())
        message = emu.post_message(channel, body, reference=reference)
        if nonce is not None:
            emu.nonces[(channel.id, str(nonce))] = (emu.clock(), message.id)
        return reply(200, message.payload())

    def channel_message(request: web.Request) -> tuple[Channel | None, Message | None, web.Response | None]:
        channel = find_channel(request)
        if channel is None:
            return None, None, unknown_channel(request)
        message = emu.messages.get(int(request.match_info["message_id"]))
        if message is None or message.channel_id != channel.id or message.ephemeral:
            return channel, None, error(404, 10008, "Unknown Message")
        return channel, message, None

    async def get_message(request: web.Request) -> web.Response:
        channel, message, problem = channel_message(request)
        if problem or channel is None or message is None:
            return problem or error(404, 10008, "Unknown Message")
        return missing(channel, "view_channel", "read_message_history") or reply(200, message.payload())

    async def history(request: web.Request) -> web.Response:
        """Newest first, `limit` (1-100) of them: before an id, after an id (the oldest ones after it), or
        around an id (half before, half after); one anchor at a time."""
        channel = find_channel(request)
        if channel is None:
            return unknown_channel(request)
        denied = missing(channel, "view_channel", "read_message_history")
        if denied:
            return denied
        form = Form()
        limit = form.integer(("limit",), request.query.get("limit", "50"), low=1, high=100)
        anchors = {name: form.snowflake((name,), request.query.get(name)) for name in ("around", "before", "after")}
        if form.problems or limit is None:
            return reply(400, invalid_form(form.problems))
        oldest_first = emu.channel_messages(channel.id)
        around, before, after = anchors["around"], anchors["before"], anchors["after"]
        if around is not None:
            older = [m for m in oldest_first if m.id < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in oldest_first if m.id >= around][: limit - len(older)]
            chosen = older + newer
        elif before is not None:
            chosen = [m for m in oldest_first if m.id < before][-limit:]
        elif after is not None:
            chosen = [m for m in oldest_first if m.id > after][:limit]
        else:
            chosen = oldest_first[-limit:]
        return reply(200, [m.payload() for m in reversed(chosen)])

    async def edit_message(request: web.Request) -> web.Response:
        channel, message, problem = channel_message(request)
        if problem or channel is None or message is None:
            return problem or error(404, 10008, "Unknown Message")
        if message.author.id != world.bot.id:
            return error(403, 50005, "Cannot edit a message authored by another user")
        body = await _body(request)
        if body is None:
            return bad_json()
        wants_embeds = isinstance(body, dict) and bool(body.get("embeds"))
        denied = missing(channel, "view_channel", *(["embed_links"] if wants_embeds else []))
        if denied:
            return denied
        invalid = check_message(body, context="edit", existing_flags=message.flags)
        if invalid:
            return reply(*invalid)
        emu.edit_message(message, body)
        return reply(200, message.payload())

    async def delete_message(request: web.Request) -> web.Response:
        _, message, problem = channel_message(request)
        if problem or message is None:
            return problem or error(404, 10008, "Unknown Message")
        del emu.messages[message.id]
        return reply(204)

    r.add_get(p + "/channels/{channel_id}/messages", history)
    r.add_post(p + "/channels/{channel_id}/messages", create_message)
    r.add_get(p + "/channels/{channel_id}/messages/{message_id:\\d+}", get_message)
    r.add_patch(p + "/channels/{channel_id}/messages/{message_id:\\d+}", edit_message)
    r.add_delete(p + "/channels/{channel_id}/messages/{message_id:\\d+}", delete_message)

    # Interactions ----------------------------------------------------------------------------------

    def callback_answer(interaction: Interaction, kind: int, message: Message | None) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.kind,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": bool(message and message.flags & LOADING),
                "response_message_ephemeral": bool(message and message.ephemeral),
            },
        }
        if message is not None:
            answer["resource"] = {"type": kind, "message": message.payload()}
        return answer

    def focused_type(interaction: Interaction) -> int:
        """The type of the option being typed in an autocomplete interaction."""
        stack = list(interaction.payload["data"].get("options") or [])
        while stack:
            option = stack.pop()
            if option.get("focused"):
                return int(option["type"])
            stack.extend(option.get("options") or [])
        return 3

    async def callback(request: web.Request) -> web.Response:
        interaction = emu.interactions.get(int(request.match_info["interaction_id"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            return error(404, 10062, "Unknown interaction")
        state = emu.interaction_state(interaction)
        if state == "late":
            interaction.error = {"code": 10062, "message": "Unknown interaction (answered after 3 s)"}
            interaction.touch()
            return error(404, 10062, "Unknown interaction")
        if state == "acknowledged":
            interaction.error = {"code": 40060, "message": "Interaction has already been acknowledged."}
            interaction.touch()
            return error(400, 40060, "Interaction has already been acknowledged.")
        body = await _body(request)
        if body is None:
            return bad_json()

        def refused(refusal: tuple[int, dict[str, Any]]) -> web.Response:
            """Refused, and noted on the interaction so the control API shows why the user saw nothing."""
            interaction.error = refusal[1]
            interaction.touch()
            return reply(*refusal)

        form = Form()
        callback_body = form.mapping((), body, required=True) or {}
        kind = form.integer(("type",), callback_body.get("type"), required=True)
        raw = callback_body.get("data")
        data = form.mapping(("data",), raw) if raw is not None else {}
        if form.problems or data is None:
            return refused((400, invalid_form(form.problems)))
        message: Message | None = None
        if kind == 4:
            invalid = check_message(data, ("data",), context="interaction")
            if invalid:
                return refused(invalid)
            message = emu.post_message(interaction.channel, data, interaction=interaction)
        elif kind == 5:
            flags = LOADING | (message_flags(data) & EPHEMERAL)
            message = emu.post_message(interaction.channel, {"content": ""}, interaction=interaction, flags=flags)
        elif kind in (6, 7) and interaction.kind == 3 and interaction.message is not None:
            if kind == 7:
                target = interaction.message
                invalid = check_message(data, ("data",), context="edit", existing_flags=target.flags)
                if invalid:
                    return refused(invalid)
                emu.edit_message(target, data)
                message = target
                interaction.messages.append(message)
        elif kind == 8 and interaction.kind == 4:
            invalid = check_choices(raw, focused_type(interaction))
            if invalid:
                return refused(invalid)
            interaction.choices = data["choices"]
        elif kind == 9 and interaction.kind in (2, 3):
            pass  # a modal: recorded as the response, nothing to show
        else:
            invalid_type = (("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid")
            return refused((400, invalid_form([invalid_type])))
        interaction.response = kind
        interaction.responded_at = emu.clock()
        interaction.touch()
        if request.query.get("with_response") in ("1", "true", "True"):
            return reply(200, callback_answer(interaction, kind, message))
        return reply(204)

    r.add_post(p + "/interactions/{interaction_id:\\d+}/{token}/callback", callback)

    def webhook_interaction(request: web.Request) -> tuple[Interaction | None, web.Response | None]:
        """The interaction behind a followup token; Discord answers 10015 before a response, 50027 once expired."""
        interaction = emu.interaction_by_token(request.match_info["token"])
        if interaction is None or int(request.match_info["webhook_id"]) != emu.application_id:
            return None, error(404, 10015, "Unknown Webhook")
        if emu.token_expired(interaction):
            return None, error(401, 50027, "Invalid Webhook Token")
        if interaction.response is None:
            return None, error(404, 10015, "Unknown Webhook")
        return interaction, None

    def target(interaction: Interaction, raw: str) -> Message | None:
        if raw == "@original":
            if interaction.kind == 3 and interaction.response in (6, 7):
                return interaction.message
            return next((m for m in interaction.messages if m.interaction_id == interaction.id), None)
        message = emu.messages.get(int(raw)) if raw.isdigit() else None
        return message if message is not None and message in interaction.messages else None

    async def followup(request: web.Request) -> web.Response:
        """A followup answers with the message whatever `wait` says (for interactions, wait is always true)."""
        interaction, problem = webhook_interaction(request)
        if problem or interaction is None:
            return problem or error(404, 10015, "Unknown Webhook")
        body = await _body(request)
        if body is None:
            return bad_json()
        invalid = check_message(body, context="interaction")
        if invalid:
            return reply(*invalid)
        loading = next((m for m in interaction.messages if m.flags & LOADING), None)
        if loading is not None:
            # Right after a deferral the first followup edits the "thinking..." message (Discord's behaviour).
            emu.edit_message(loading, body)
            loading.edited_at = None
            interaction.touch()
            message = loading
        else:
            message = emu.post_message(interaction.channel, body, interaction=interaction)
        return reply(200, message.payload())

    async def webhook_message(request: web.Request) -> web.Response:
        interaction, problem = webhook_interaction(request)
        if problem or interaction is None:
            return problem or error(404, 10015, "Unknown Webhook")
        message = target(interaction, request.match_info["message_id"])
        if message is None:
            return error(404, 10008, "Unknown Message")
        if request.method == "GET":
            return reply(200, message.payload())
        if request.method == "DELETE":
            emu.messages.pop(message.id, None)
            if message in interaction.messages:
                interaction.messages.remove(message)
            interaction.touch()
            return reply(204)
        body = await _body(request)
        if body is None:
            return bad_json()
        invalid = check_message(body, context="edit", existing_flags=message.flags)
        if invalid:
            return reply(*invalid)
        emu.edit_message(message, body)
        if message not in interaction.messages:
            interaction.messages.append(message)
        interaction.touch()
        return reply(200, message.payload())

    r.add_post(p + "/webhooks/{webhook_id:\\d+}/{token}", followup)
    for method in ("GET", "PATCH", "DELETE"):
        r.add_route(method, p + "/webhooks/{webhook_id:\\d+}/{token}/messages/{message_id}", webhook_message)


__all__ = ["add_routes", "error_body", "middleware"]
