"""A local feed server for tests: an aiohttp application on 127.0.0.1 whose routes a test sets.

    async with FeedServer() as server:
        server.set("/feed", body=b"<rss/>", headers={"ETag": '"v1"'})
        url = server.url("/feed")

It answers conditional requests like a real server (304 when If-None-Match or If-Modified-Since matches the
route's ETag / Last-Modified), records every request, counts how many run at once, and can delay, gzip and
stream a body slowly in chunks (recording how much of it it managed to send).
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    gzip: bool = False  # send the body gzip-compressed (Content-Encoding: gzip)
    precompressed: bool = False  # the body is already gzip: send it as is with Content-Encoding: gzip
    chunk_size: int | None = None  # stream the (encoded) body in chunks of this size...
    chunk_delay: float = 0.0  # ...waiting this long between them
    conditional: bool = True  # answer 304 when the request's validators match


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: Mapping[str, str]
    at: float  # the event loop's time when the request arrived
    peer: object = None  # the client's address and port: a new port is a new connection


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self.active = 0
        self.max_active = 0
        self.bytes_sent: dict[str, int] = {}  # per path, of the last response's (encoded) body
        self.completed: dict[str, bool] = {}  # per path: whether the last response's body was sent whole
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def set(self, path: str, **route: object) -> Route:
        self.routes[path] = Route(**route)  # type: ignore[arg-type]
        return self.routes[path]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hits(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    async def idle(self) -> None:
        """Wait until no request is being answered (a handler may still be writing after the client left)."""
        async with asyncio.timeout(5):
            await self._idle.wait()

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(Recorded(request.path, dict(request.headers), asyncio.get_running_loop().time(), peer))
        self.active += 1
        self._idle.clear()
        self.max_active = max(self.max_active, self.active)
        try:
            route = self.routes.get(request.path)
            if route is None:
                return web.Response(status=404, text="no such route")
            if route.delay:
                await asyncio.sleep(route.delay)
            headers = dict(route.headers)
            if route.conditional and route.status == 200 and _matches(request, headers):
                return web.Response(status=304, headers=headers)
            body = route.body
            if route.gzip or route.precompressed:
                body = body if route.precompressed else gzip_module.compress(body)
                headers["Content-Encoding"] = "gzip"
            if route.chunk_size is None:
                self.bytes_sent[request.path] = len(body)
                self.completed[request.path] = True
                return web.Response(status=route.status, body=body, headers=headers)
            return await self._stream(request, route, headers, body)
        finally:
            self.active -= 1
            if not self.active:
                self._idle.set()

    async def _stream(
        self, request: web.Request, route: Route, headers: dict[str, str], body: bytes
    ) -> web.StreamResponse:
        assert route.chunk_size is not None
        response = web.StreamResponse(status=route.status, headers=headers)
        await response.prepare(request)
        self.bytes_sent[request.path] = 0
        self.completed[request.path] = False
        try:
            for start in range(0, len(body), route.chunk_size):
                await response.write(body[start : start + route.chunk_size])
                self.bytes_sent[request.path] += len(body[start : start + route.chunk_size])
                await asyncio.sleep(route.chunk_delay)
            await response.write_eof()
        except (ConnectionError, RuntimeError):  # the client hung up: what the bomb tests want to see
            return response
        self.completed[request.path] = True
        return response


def _matches(request: web.Request, headers: Mapping[str, str]) -> bool:
    etag = headers.get("ETag")
    if etag is not None and request.headers.get("If-None-Match") == etag:
        return True
    modified = headers.get("Last-Modified")
    return modified is not None and request.headers.get("If-Modified-Since") == modified
