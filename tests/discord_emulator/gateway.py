"""The gateway: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME with replay, shards, dispatches.

What Discord refuses, the gateway closes with Discord's code: IDENTIFY without intents or with an unknown intent
bit (4013), with a privileged intent the application is not approved for (4014), twice on one socket (4005),
with an invalid shard (4010) or one that would hold more guilds than a shard may (4011); a connection that stops
heartbeating is closed (4009) and its session can still be resumed.

A session outlives its WebSocket: events dispatched while the client reconnects are buffered and replayed on
RESUME, as Discord does. Each session receives the events of the guilds its shard owns (`(guild_id >> 22) %
shard_count`) and of the intents it asked for; events without a guild go to shard 0. Several sessions may
identify with the same shard (a rolling deploy): each gets those events.

Frames are JSON: plain text, or with `compress=zlib-stream` one zlib stream per connection with each payload
ending in a Z_SYNC_FLUSH. `encoding=etf` is refused (close 4002) rather than answered in JSON: the emulator does
not speak ETF (no client it serves does), and an honest refusal beats frames the client cannot decode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from tests.discord_emulator.world import shard_of

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41250
# A connection is closed when no heartbeat came for this many intervals (Discord allows some lateness).
HEARTBEAT_TOLERANCE = 1.5
# The acknowledgement leaves after this delay, the least round trip a real network has. Without it the ACK can
# reach discord.py before its keep-alive thread has recorded when it sent the heartbeat, and discord.py then
# measures a whole interval of latency ("Can't keep up, shard ID None websocket is 41.3s behind").
HEARTBEAT_ACK_DELAY = 0.05
SESSION_TIMEOUT = 180.0  # a session without a connection for this long cannot be resumed
REPLAY_LIMIT = 1000
SERVERS_PER_SHARD = 2500
API_VERSIONS = ("9", "10")
CHUNK_SIZE = 1000

# Gateway intents by discord.py's names (discord.Intents), and the privileged ones.
INTENTS: dict[str, int] = {
    "guilds": 1 << 0,
    "members": 1 << 1,
    "moderation": 1 << 2,
    "expressions": 1 << 3,
    "integrations": 1 << 4,
    "webhooks": 1 << 5,
    "invites": 1 << 6,
    "voice_states": 1 << 7,
    "presences": 1 << 8,
    "guild_messages": 1 << 9,
    "guild_reactions": 1 << 10,
    "guild_typing": 1 << 11,
    "dm_messages": 1 << 12,
    "dm_reactions": 1 << 13,
    "dm_typing": 1 << 14,
    "message_content": 1 << 15,
    "guild_scheduled_events": 1 << 16,
    "auto_moderation_configuration": 1 << 20,
    "auto_moderation_execution": 1 << 21,
    "guild_polls": 1 << 24,
    "dm_polls": 1 << 25,
}
PRIVILEGED = ("members", "presences", "message_content")
ALL_INTENTS = sum(INTENTS.values())
# The intent a client needs to receive each event the emulator dispatches (interactions need none).
EVENT_INTENTS = {
    "GUILD_CREATE": INTENTS["guilds"],
    "GUILD_DELETE": INTENTS["guilds"],
    "GUILD_UPDATE": INTENTS["guilds"],
    "GUILD_ROLE_CREATE": INTENTS["guilds"],
    "GUILD_ROLE_UPDATE": INTENTS["guilds"],
    "GUILD_ROLE_DELETE": INTENTS["guilds"],
    "CHANNEL_CREATE": INTENTS["guilds"],
    "CHANNEL_UPDATE": INTENTS["guilds"],
    "CHANNEL_DELETE": INTENTS["guilds"],
    "GUILD_MEMBER_ADD": INTENTS["members"],
    "GUILD_MEMBER_UPDATE": INTENTS["members"],
    "GUILD_MEMBER_REMOVE": INTENTS["members"],
}


class UnknownIntent(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SessionWindow:
    started: int  # IDENTIFYs within the window
    reset_after: float  # seconds until the oldest of them leaves it


def intent_bits(names: Iterable[str]) -> int:
    value = 0
    for name in names:
        if name not in INTENTS:
            raise UnknownIntent(name)
        value |= INTENTS[name]
    return value


class Host(Protocol):
    """What the gateway needs to know of the world (the Emulator provides it)."""

    token: str

    @property
    def gateway_url(self) -> str: ...

    def ready_payload(self, session_id: str, shard: tuple[int, int]) -> dict[str, Any]: ...

    def guild_payloads(self, shard: tuple[int, int]) -> list[dict[str, Any]]: ...

    def member_payloads(
        self, guild_id: int, query: str | None, user_ids: list[int] | None, limit: int
    ) -> tuple[list[dict[str, Any]], list[int]] | None: ...


@dataclass
class Session:
    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    socket: Connection | None = None
    detached_at: float | None = None  # loop time the socket went away

    def owns(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        return (0 if guild_id is None else shard_of(guild_id, count)) == shard_id


class Connection:
    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.zlib = zlib.compressobj() if compress else None
        self.lock = asyncio.Lock()  # one frame at a time: the zlib stream must stay in order
        self.last_heartbeat = asyncio.get_running_loop().time()
        self.session: Session | None = None
        self.identified = False
        self.closed_with: int | None = None  # the code the gateway closed it with, if it did

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self.zlib is None:
                await self.ws.send_str(text)
            else:
                data = self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code
        await self.ws.close(code=code, message=reason.encode())


class Gateway:
    def __init__(
        self,
        host: Host,
        *,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
        heartbeat_ack_delay: float = HEARTBEAT_ACK_DELAY,
        approved_intents: int = 0,
        servers_per_shard: int = SERVERS_PER_SHARD,
    ) -> None:
        self.host = host
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.heartbeat_ack_delay = heartbeat_ack_delay
        self.approved_intents = approved_intents  # the privileged intents this application may use
        self.servers_per_shard = servers_per_shard
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identifies = 0
        self.resumes = 0
        self.compressed_connections = 0
        self.heartbeats = 0
        self.closes: list[int] = []  # close codes the gateway sent, in order
        self.identified_at: list[float] = []  # loop times of the IDENTIFYs that started a session
        self._tasks: set[asyncio.Task[None]] = set()

    def session_window(self, seconds: float) -> SessionWindow:
        now = asyncio.get_running_loop().time()
        recent = [at for at in self.identified_at if now - at < seconds]
        return SessionWindow(len(recent), seconds - (now - recent[0]) if recent else 0.0)

    # Sending ------------------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> None:
        """Send an event to every session whose shard owns `guild_id` and whose intents cover it (buffered for a
        session that is reconnecting)."""
        needed = EVENT_INTENTS.get(event, 0)
        now = asyncio.get_running_loop().time()
        for session in list(self.sessions.values()):
            if (
                session.socket is None
                and session.detached_at is not None
                and now - session.detached_at > SESSION_TIMEOUT
            ):
                del self.sessions[session.id]
            elif session.owns(guild_id) and (session.intents & needed) == needed:
                await self._send(session, event, data)

    async def reconnect(self) -> int:
        """Ask every connected client to reconnect (op 7); they come back with RESUME."""
        count = 0
        for session in self.sessions.values():
            if session.socket is not None:
                await session.socket.send({"op": 7, "d": None})
                count += 1
        return count

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await connection.close(1001, "The emulator stops.")
        for task in list(self._tasks):
            task.cancel()

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent = [*session.sent[-REPLAY_LIMIT:], frame]
        if session.socket is not None:
            try:
                await session.socket.send(frame)
            except ConnectionError:
                self._detach(session)

    def _detach(self, session: Session) -> None:
        session.socket = None
        session.detached_at = asyncio.get_running_loop().time()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # One connection -----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        connection = Connection(ws, compress)
        self.compressed_connections += int(compress)
        self.connections.add(connection)
        watchdog = asyncio.create_task(self._watch(connection))
        try:
            refusal = self._refuse_query(request)
            if refusal is not None:
                await self._close(connection, *refusal)
                return ws
            await connection.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for message in ws:
                if not await self._receive(connection, message):
                    break
        finally:
            watchdog.cancel()
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.socket is connection:
                self._detach(session)
                if connection.closed_with is None and ws.close_code in (1000, 1001):
                    # A client closing with 1000/1001 ends its session (discord.py closes with 4000 when it
                    # means to resume); a close by the gateway leaves the session resumable.
                    self.sessions.pop(session.id, None)
        return ws

    def _refuse_query(self, request: web.Request) -> tuple[int, str] | None:
        version = request.query.get("v")
        if version is not None and version not in API_VERSIONS:
            return 4012, "Invalid API version."
        encoding = request.query.get("encoding", "json")
        if encoding != "json":
            return 4002, f"Encoding {encoding!r} is not supported by the emulator: use encoding=json."
        return None

    async def _close(self, connection: Connection, code: int, reason: str) -> None:
        self.closes.append(code)
        await connection.close(code, reason)

    async def _watch(self, connection: Connection) -> None:
        """Close a connection whose heartbeats stopped (its session stays resumable, as Discord's does)."""
        loop = asyncio.get_running_loop()
        limit = self.heartbeat_interval_ms / 1000 * HEARTBEAT_TOLERANCE
        while not connection.ws.closed:
            wait = connection.last_heartbeat + limit - loop.time()
            if wait <= 0:
                log.info("no heartbeat for %.1f s: closing the connection", limit)
                await self._close(connection, 4009, "Session timed out.")
                return
            await asyncio.sleep(wait)

    async def _acknowledge(self, connection: Connection) -> None:
        if self.heartbeat_ack_delay > 0:
            await asyncio.sleep(self.heartbeat_ack_delay)
        with contextlib.suppress(ConnectionError):
            if not connection.ws.closed:
                await connection.send({"op": 11})

    async def _receive(self, connection: Connection, message: Any) -> bool:
        """Handle one frame; False once the connection is closed."""
        if message.type != WSMsgType.TEXT:
            if message.type == WSMsgType.BINARY:
                await self._close(connection, 4002, "Error while decoding payload.")
            return False
        try:
            frame = json.loads(message.data)
            op = frame["op"]
            data = frame.get("d")
        except (ValueError, KeyError, TypeError, AttributeError):
            await self._close(connection, 4002, "Error while decoding payload.")
            return False
        if op == 1:
            self.heartbeats += 1
            connection.last_heartbeat = asyncio.get_running_loop().time()
            self._spawn(self._acknowledge(connection))
            return True
        if op == 2:
            return await self._identify(connection, data if isinstance(data, dict) else {})
        if op == 6:
            return await self._resume(connection, data if isinstance(data, dict) else {})
        if op in (3, 4, 8):
            if connection.session is None:
                await self._close(connection, 4003, "Not authenticated.")
                return False
            if op == 8:
                return await self._request_members(connection, connection.session, data)
            return True
        await self._close(connection, 4001, "Unknown opcode.")
        return False

    # IDENTIFY and RESUME ------------------------------------------------------------------------------

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> bool:
        if connection.identified:
            await self._close(connection, 4005, "Already authenticated.")
            return False
        if data.get("token") != self.host.token:
            await self._close(connection, 4004, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or isinstance(intents, bool) or intents < 0 or intents & ~ALL_INTENTS:
            await self._close(connection, 4013, "Invalid intent(s).")
            return False
        privileged = intent_bits(PRIVILEGED)
        if intents & privileged & ~self.approved_intents:
            await self._close(connection, 4014, "Disallowed intent(s).")
            return False
        shard = self._shard(data.get("shard", [0, 1]))
        if shard is None:
            await self._close(connection, 4010, "Invalid shard.")
            return False
        guilds = self.host.guild_payloads(shard)
        if len(guilds) > self.servers_per_shard:
            await self._close(connection, 4011, "Sharding required.")
            return False
        self.identifies += 1
        self.identified_at.append(asyncio.get_running_loop().time())
        connection.identified = True
        session = Session(secrets.token_hex(16), shard, intents, socket=connection)
        connection.session = session
        self.sessions[session.id] = session
        await self._send(session, "READY", self.host.ready_payload(session.id, shard))
        if intents & INTENTS["guilds"]:
            for guild in guilds:
                await self._send(session, "GUILD_CREATE", guild)
        return True

    @staticmethod
    def _shard(value: Any) -> tuple[int, int] | None:
        if not isinstance(value, list) or len(value) != 2:
            return None
        shard_id, count = value
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
            return None
        return (shard_id, count) if 0 <= shard_id < count else None

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> bool:
        if data.get("token") != self.host.token:
            await self._close(connection, 4004, "Authentication failed.")
            return False
        session = self.sessions.get(str(data.get("session_id")))
        if session is None:
            await connection.send({"op": 9, "d": False})  # invalid session: identify again
            return True
        self.resumes += 1
        previous = session.socket
        session.socket, session.detached_at = connection, None
        connection.session = session
        connection.identified = True
        if previous is not None and previous is not connection:
            previous.session = None
            self._spawn(previous.close(4000, "Session resumed elsewhere."))
        after = data.get("seq") if isinstance(data.get("seq"), int) else 0
        for frame in session.sent:
            if frame["s"] > after:
                await connection.send(frame)
        await self._send(session, "RESUMED", {})
        return True

    # Request Guild Members (op 8) ---------------------------------------------------------------------

    async def _request_members(self, connection: Connection, session: Session, data: Any) -> bool:
        """GUILD_MEMBERS_CHUNK answers; the whole member list needs the GUILD_MEMBERS intent, and without it
        Discord sends nothing back (clients then time out waiting)."""
        request: dict[str, Any] = data if isinstance(data, dict) else {}
        try:
            guild_id = int(request["guild_id"])
            query = request.get("query")
            raw_ids = request.get("user_ids")
            listed: list[Any] = raw_ids if isinstance(raw_ids, list) else [raw_ids]
            user_ids = None if raw_ids is None else [int(i) for i in listed]
            limit = int(request.get("limit") or 0) if query is None else int(request["limit"])
        except (KeyError, TypeError, ValueError):
            await self._close(connection, 4001, "Unknown opcode.")  # Discord's answer to a malformed payload
            return False
        if (query is None) == (user_ids is None) or (query is not None and not isinstance(query, str)):
            await self._close(connection, 4001, "Unknown opcode.")
            return False
        if not session.owns(guild_id):
            return True
        if query == "" and not session.intents & INTENTS["members"]:
            return True
        if query is not None and query != "":
            limit = min(limit or 100, 100)
        found = self.host.member_payloads(guild_id, query, user_ids[:100] if user_ids else user_ids, limit)
        if found is None:
            return True
        members, not_found = found
        chunks = [members[i : i + CHUNK_SIZE] for i in range(0, len(members), CHUNK_SIZE)] or [[]]
        for index, chunk in enumerate(chunks):
            payload: dict[str, Any] = {
                "guild_id": str(guild_id),
                "members": chunk,
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if not_found and index == 0:
                payload["not_found"] = [str(i) for i in not_found]
            nonce = request.get("nonce")
            if isinstance(nonce, str) and len(nonce.encode()) <= 32:
                payload["nonce"] = nonce
            await self._send(session, "GUILD_MEMBERS_CHUNK", payload)
        return True
