"""The gateway: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME with replay, dispatches.

A session outlives its WebSocket: events dispatched while the client reconnects are buffered and replayed
on RESUME, as Discord does. Frames are plain text unless the client asked for `compress=zlib-stream`, then one
zlib stream per connection with each payload ending in a Z_SYNC_FLUSH.
"""

from __future__ import annotations

import json
import logging
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41250
REPLAY_LIMIT = 1000


@dataclass
class Session:
    id: str
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    socket: Connection | None = None


class Connection:
    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.zlib = zlib.compressobj() if compress else None

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self.zlib is None:
            await self.ws.send_str(text)
        else:
            data = self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)


class Gateway:
    def __init__(
        self,
        *,
        token: Callable[[], str],
        resume_url: Callable[[], str],
        ready: Callable[[str], dict[str, Any]],
        guilds: Callable[[], list[dict[str, Any]]],
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
    ) -> None:
        self._token = token
        self._resume_url = resume_url
        self._ready = ready
        self._guilds = guilds
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identifies = 0
        self.resumes = 0
        self.compressed_connections = 0
        self.heartbeats = 0

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every live session (buffered for a session that is reconnecting)."""
        for session in list(self.sessions.values()):
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.sent = [*session.sent[-REPLAY_LIMIT:], frame]
            if session.socket is not None:
                try:
                    await session.socket.send(frame)
                except ConnectionError:
                    session.socket = None

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
            await connection.ws.close(code=1001)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        connection = Connection(ws, compress)
        self.compressed_connections += int(compress)
        self.connections.add(connection)
        session: Session | None = None
        try:
            await connection.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                try:
                    frame = json.loads(message.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                if op == 1:
                    self.heartbeats += 1
                    await connection.send({"op": 11})
                elif op == 2:
                    session = await self._identify(connection, frame.get("d") or {})
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(connection, frame.get("d") or {})
                    if session is None:
                        break
                elif op in (3, 4, 8):
                    if session is None:
                        await ws.close(code=4003, message=b"Not authenticated.")
                        break
                else:
                    await ws.close(code=4001, message=b"Unknown opcode.")
                    break
        finally:
            self.connections.discard(connection)
            if session is not None and session.socket is connection:
                session.socket = None
                if ws.close_code in (1000, 1001):
                    # discord.py closes with 4000 when it means to resume; 1000/1001 ends the session.
                    self.sessions.pop(session.id, None)
        return ws

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        if data.get("token") != self._token():
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return None
        self.identifies += 1
        self.sessions.clear()  # one shard: a new IDENTIFY replaces any older session
        session = Session(secrets.token_hex(16), socket=connection)
        self.sessions[session.id] = session
        await self._send(session, "READY", self._ready(session.id))
        for guild in self._guilds():
            await self._send(session, "GUILD_CREATE", guild)
        return session

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        if data.get("token") != self._token():
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return None
        session = self.sessions.get(str(data.get("session_id")))
        if session is None:
            await connection.send({"op": 9, "d": False})  # invalid session: identify again
            return None
        self.resumes += 1
        session.socket = connection
        after = int(data.get("seq") or 0)
        for frame in session.sent:
            if frame["s"] > after:
                await connection.send(frame)
        await self._send(session, "RESUMED", {})
        return session

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent = [*session.sent[-REPLAY_LIMIT:], frame]
        if session.socket is not None:
            await session.socket.send(frame)
