"""Fetching sources politely and cheaply; every outcome is a `FetchResult`, never an exception.

Politeness: conditional GET, Cache-Control max-age and Retry-After honoured, a per-host concurrency limit and
minimum spacing between requests, a jittered schedule, exponential backoff on failure, an honest User-Agent.
Cheapness: a 304, or a body whose hash did not change, is NOT_MODIFIED and is not parsed again. Safety: the
body cap counts decompressed bytes while streaming, so a gzip bomb is cut off after `max_body` bytes; sources
that are not the operator's go through the guarded session (`bot.news.netguard`).
"""

from __future__ import annotations

import asyncio
import mimetypes
import random
import ssl
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp
import xxhash
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDict, CIMultiDictProxy

import bot
from bot.news.models import FetchResult, FetchStatus, Source, SourceState
from bot.news.netguard import GuardedResolver, Network, RefusedURLError, check_url, guard_middleware

USER_AGENT = f"AccordWatch/{bot.__version__} (+{bot.PROJECT_URL})"
MAX_REDIRECTS = 5
MAX_BACKOFF = timedelta(hours=6)
# A server may ask us to wait (max-age, Retry-After), but not to forget a source for months.
MAX_HONOURED_DELAY = timedelta(days=1)
_CHUNK = 64 * 1024


CONNECTIONS = 100  # open at once, per session


def make_session(
    guarded: bool,
    *,
    resolver: AbstractResolver | None = None,
    allow: Iterable[Network] = (),
) -> aiohttp.ClientSession:
    """The shared session: guarded for sources that are not the operator's.

    `resolver` replaces the system resolver (the guard wraps it); `allow` lists networks the guard lets
    through. Call it within the running event loop; the caller owns (and closes) the session.

    A connection is closed once its response is read (`force_close`), not kept alive. Why: sources are mostly one
    feed per host, read every few minutes, and a host's next request comes after the per-host pause at best; kept
    alive, every host's connection stayed open 15 s after its feed was read: a first poll of 2,000 feeds ended with
    2,000 open sockets (past the usual limit of 1,024 files a process, which fails the next fetches and the
    database), and their 20,000 objects made each pass of the garbage collector hold the loop longer.
    """
    allowed = tuple(allow)
    if guarded:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(resolver, allow=allowed), limit=CONNECTIONS, force_close=True
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            middlewares=(guard_middleware(allow=allowed),),
            trust_env=False,  # a proxy would connect on our behalf, past the guard
        )
    connector = aiohttp.TCPConnector(resolver=resolver, limit=CONNECTIONS, force_close=True)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})


def is_local(url: str) -> bool:
    """A local file: a file:// URL or a plain path (only the operator's sources may be)."""
    return urlsplit(url).scheme.lower() in {"", "file"}


def body_digest(body: bytes) -> str:
    """What tells a body from the last one read of its feed (`SourceState.body_hash`): XXH3's 128 bits, which no
    edit of a feed meets by chance. Why not SHA-256: nothing here is a secret nor an adversary's forgery to resist
    (a feed's owner can change it at will anyway), and hashing the bodies of a poll of 500 feeds (50 MB) took 4%
    of the loop's work with SHA-256 against a tenth of that (10 GB/s). A hash stored by an earlier version differs:
    that body is read once more."""
    return xxhash.xxh3_128_hexdigest(body)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class _TooLarge(Exception):
    pass


class Fetcher:
    """Fetches one source at a time on request; the poll decides which sources are due with `is_due`.

    `clock` gives aware UTC now; `rng` makes the jitter reproducible in tests. Untrusted sources are only
    fetched through `guarded_session` (made with the same `allow`); without one they are refused.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], datetime],
        guarded_session: aiohttp.ClientSession | None = None,
        max_body: int = 5 * 1024 * 1024,
        per_host_limit: int = 2,
        host_min_interval: float = 1.0,
        connect_timeout: float = 10,
        total_timeout: float = 30,
        rng: random.Random | None = None,
        default_interval: int = 600,
        allow: Iterable[Network] = (),
    ) -> None:
        self._session = session
        self._guarded = guarded_session
        self._allow = tuple(allow)  # as given to the guarded session: checked here too, before connecting
        self._clock = clock
        self._max_body = max_body
        self._per_host_limit = per_host_limit
        self._host_min_interval = host_min_interval
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._rng = rng or random.Random()
        self._default_interval = default_interval
        # Per host, while it is fetched or its spacing lasts (then forgotten: `_release`); kept for every host ever
        # fetched, they were 2,000 objects more for each full collection after a first poll of 2,000 feeds, and
        # grew with every source a server ever added.
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}  # loop time before which no request to the host may start
        self._fetching: dict[str, int] = {}

    def interval(self, source: Source) -> int:
        return source.interval or self._default_interval

    def is_due(self, source: Source, state: SourceState, now: datetime) -> bool:
        """Due when never attempted, or once the scheduled (backed-off, server-requested) time has come."""
        return state.next_attempt is None or now >= state.next_attempt

    async def fetch(self, source: Source, state: SourceState) -> FetchResult:
        """Fetch the source once, whether due or not; network, HTTP and body problems come back as FAILED."""
        started = self._clock()
        if is_local(source.url):
            if not source.trusted:
                return self._failed(source, state, started, "only http and https URLs can be fetched")
            return await self._read_file(source, state, started)
        if source.trusted:
            session = self._session
        elif self._guarded is None:
            return self._failed(source, state, started, "no guarded session for server-added sources")
        else:
            session = self._guarded
            try:
                check_url(source.url, allow=self._allow)
            except RefusedURLError as exc:
                return self._failed(source, state, started, str(exc))
        host = (urlsplit(source.url).hostname or "").lower()
        semaphore = self._semaphores.get(host) or self._semaphores.setdefault(
            host, asyncio.Semaphore(self._per_host_limit)
        )
        self._fetching[host] = self._fetching.get(host, 0) + 1
        try:
            async with semaphore:
                await self._space(host)
                try:
                    async with asyncio.timeout(self._total_timeout):
                        return await self._get(session, source, state, started)
                except Exception as exc:
                    error = self._describe(exc)
                    if error is None:
                        raise
                    return self._failed(source, state, started, error)
        finally:
            self._release(host)

    def _release(self, host: str) -> None:
        """One fetch of the host ended: once none is left, its state goes when its spacing has passed."""
        left = self._fetching[host] - 1
        if left:
            self._fetching[host] = left
            return
        del self._fetching[host]
        loop = asyncio.get_running_loop()
        loop.call_at(max(loop.time(), self._next_start.get(host, 0.0)), self._forget, host)

    def _forget(self, host: str) -> None:
        if host in self._fetching:
            return  # fetched again meanwhile: its own end will call
        loop = asyncio.get_running_loop()
        spaced = self._next_start.get(host, 0.0)
        if spaced > loop.time():  # a timer may fire a little early
            loop.call_at(spaced, self._forget, host)
            return
        self._semaphores.pop(host, None)
        self._next_start.pop(host, None)

    async def _space(self, host: str) -> None:
        """Keep request starts to one host `host_min_interval` apart (a reservation, so concurrent tasks queue)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next_start.get(host, now))
        self._next_start[host] = start + self._host_min_interval
        if start > now:
            await asyncio.sleep(start - now)

    async def _get(
        self, session: aiohttp.ClientSession, source: Source, state: SourceState, started: datetime
    ) -> FetchResult:
        headers: dict[str, str] = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        timeout = aiohttp.ClientTimeout(total=self._total_timeout, connect=self._connect_timeout)
        async with session.get(
            source.url,
            headers=headers,
            timeout=timeout,
            allow_redirects=True,
            max_redirects=MAX_REDIRECTS + 1,  # aiohttp fails on the n-th redirect; we follow up to 5
        ) as response:
            final_url = str(response.url)
            status = response.status
            if status == 304:
                return self._unchanged(source, state, started, response.headers, status, final_url)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
                delay = self._server_delay(response.headers)
                return self._failed(
                    source, state, started, error, http_status=status, final_url=final_url, at_least=delay
                )
            try:
                body = await self._read(response)
            except _TooLarge:
                error = f"body larger than {_megabytes(self._max_body)}"
                return self._failed(source, state, started, error, http_status=status, final_url=final_url)
            digest = body_digest(body)
            if digest == state.body_hash:
                return self._unchanged(source, state, started, response.headers, status, final_url)
            new_state = self._success_state(source, state, started, response.headers, status, digest)
            return FetchResult(
                source,
                FetchStatus.OK,
                new_state,
                body=body,
                content_type=response.headers.get("Content-Type"),
                final_url=final_url,
                http_status=status,
            )

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The decompressed body, given up as soon as it passes `max_body` (a bomb is never inflated whole)."""
        declared = response.content_length
        if declared is not None and not response.headers.get("Content-Encoding") and declared > self._max_body:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def _read_file(self, source: Source, state: SourceState, started: datetime) -> FetchResult:
        parts = urlsplit(source.url)
        path = Path(url2pathname(parts.path)) if parts.scheme.lower() == "file" else Path(source.url)
        try:
            body = await asyncio.to_thread(_read_capped, path, self._max_body)
        except _TooLarge:
            return self._failed(source, state, started, f"body larger than {_megabytes(self._max_body)}")
        except FileNotFoundError:
            return self._failed(source, state, started, f"no such file: {path}")
        except OSError as exc:
            return self._failed(source, state, started, f"cannot read {path}: {exc.strerror or exc}")
        digest = body_digest(body)
        no_headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        if digest == state.body_hash:
            return self._unchanged(source, state, started, no_headers, None, source.url)
        new_state = self._success_state(source, state, started, no_headers, None, digest)
        content_type, _ = mimetypes.guess_type(path.name)
        return FetchResult(
            source, FetchStatus.OK, new_state, body=body, content_type=content_type, final_url=source.url
        )

    # --- outcomes -------------------------------------------------------------------------------------------

    def _unchanged(
        self,
        source: Source,
        state: SourceState,
        started: datetime,
        headers: CIMultiDictProxy[str],
        status: int | None,
        final_url: str,
    ) -> FetchResult:
        new_state = self._success_state(source, state, started, headers, status, state.body_hash)
        return FetchResult(source, FetchStatus.NOT_MODIFIED, new_state, final_url=final_url, http_status=status)

    def _success_state(
        self,
        source: Source,
        state: SourceState,
        started: datetime,
        headers: CIMultiDictProxy[str],
        status: int | None,
        digest: str | None,
    ) -> SourceState:
        etag, last_modified = state.etag, state.last_modified
        if status == 304:  # a 304 may refresh the validators
            etag = headers.get("ETag", etag)
            last_modified = headers.get("Last-Modified", last_modified)
        elif status is not None:  # a full response: its validators replace the old ones, even when absent
            etag, last_modified = headers.get("ETag"), headers.get("Last-Modified")
        done = self._clock()
        return SourceState(
            etag=etag,
            last_modified=last_modified,
            body_hash=digest,
            last_status=status,
            last_error=None,
            consecutive_failures=0,
            last_attempt=started,
            last_success=done,
            next_attempt=self._schedule(source, headers, done),
        )

    def _schedule(self, source: Source, headers: CIMultiDictProxy[str], now: datetime) -> datetime:
        return now + max(self._jittered(self.interval(source)), self._server_delay(headers))

    def failed_state(self, source: Source, state: SourceState, started: datetime, error: str) -> SourceState:
        """The state after a failure found past the fetch (a body that cannot be used): one more failure, backoff."""
        return self._failed(source, state, started, error).state

    def _failed(
        self,
        source: Source,
        state: SourceState,
        started: datetime,
        error: str,
        *,
        http_status: int | None = None,
        final_url: str | None = None,
        at_least: timedelta = timedelta(0),
    ) -> FetchResult:
        failures = state.consecutive_failures + 1
        backoff = min(timedelta(seconds=self.interval(source) * 2 ** min(failures - 1, 32)), MAX_BACKOFF)
        delay = min(backoff * self._rng.uniform(0.9, 1.1), MAX_BACKOFF)
        done = self._clock()
        new_state = replace(
            state,
            last_status=http_status if http_status is not None else state.last_status,
            last_error=error,
            consecutive_failures=failures,
            last_attempt=started,
            next_attempt=done + max(delay, at_least),
        )
        return FetchResult(
            source, FetchStatus.FAILED, new_state, final_url=final_url, http_status=http_status, error=error
        )

    def _jittered(self, seconds: float) -> timedelta:
        return timedelta(seconds=seconds * self._rng.uniform(0.9, 1.1))

    def _server_delay(self, headers: CIMultiDictProxy[str]) -> timedelta:
        """How long the server asked us to wait (Cache-Control max-age, Retry-After), capped at a day."""
        delays = [timedelta(0)]
        cache_control = headers.get("Cache-Control", "").lower()
        if "no-store" not in cache_control and "no-cache" not in cache_control:
            for directive in cache_control.split(","):
                name, _, value = directive.strip().partition("=")
                if name == "max-age" and value.strip().strip('"').isdigit():
                    delays.append(_seconds(value.strip().strip('"')))
        retry_after = headers.get("Retry-After", "").strip()
        if retry_after.isdigit():
            delays.append(_seconds(retry_after))
        elif retry_after:
            try:
                when = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is not None:
                delays.append(when - self._clock())
        return min(max(delays), MAX_HONOURED_DELAY)

    def _describe(self, exc: Exception) -> str | None:
        """A short, readable error for an expected failure; None for a bug, which should surface."""
        match exc:
            case RefusedURLError():
                return str(exc)
            case aiohttp.ConnectionTimeoutError():
                return f"connection timed out after {self._connect_timeout:g} s"
            case TimeoutError():
                return f"timed out after {self._total_timeout:g} s"
            case aiohttp.TooManyRedirects():
                return f"too many redirects (more than {MAX_REDIRECTS})"
            case aiohttp.ClientConnectorDNSError():
                return f"cannot resolve host {exc.host}"
            case aiohttp.ClientConnectorCertificateError() | aiohttp.ClientSSLError():
                return f"TLS error with {exc.host}"
            case aiohttp.ClientConnectorError() if isinstance(exc.os_error, ConnectionRefusedError):
                return "connection refused"
            case aiohttp.ClientConnectorError():
                return f"cannot connect to {exc.host}: {exc.os_error.strerror or exc.os_error}"
            case aiohttp.InvalidURL():
                return f"invalid URL {exc.url}"
            case aiohttp.ServerDisconnectedError():
                return "server disconnected"
            case aiohttp.ClientPayloadError():
                return "broken response body (bad compression or cut short)"
            case aiohttp.ClientResponseError():
                return f"bad response: {exc.message}"
            case aiohttp.ClientError():
                return f"network error: {exc}"
            case ssl.SSLError():
                return "TLS error"
            case OSError():
                return f"network error: {exc.strerror or exc}"
        return None


def _seconds(digits: str) -> timedelta:
    """A delay in whole seconds, bounded before conversion (a huge number would overflow timedelta)."""
    return timedelta(seconds=min(int(digits), int(MAX_HONOURED_DELAY.total_seconds())))


def _read_capped(path: Path, limit: int) -> bytes:
    with path.open("rb") as file:
        body = file.read(limit + 1)
    if len(body) > limit:
        raise _TooLarge
    return body
