"""The fetcher against a local feed server: conditional GET, scheduling, failures, limits, the guard."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from ipaddress import ip_network
from pathlib import Path

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

import bot
from bot.news.fetch import MAX_BACKOFF, Fetcher, make_session
from bot.news.models import FetchStatus, Source, SourceState
from tests.news.feedserver import FeedServer

START = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
FEED = b"<rss version='2.0'><channel><title>t</title><item><title>a</title></item></channel></rss>"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class MapResolver(AbstractResolver):
    """Resolves names from a table (no DNS); an optional delay stands in for a slow resolver."""

    def __init__(self, table: dict[str, list[str]], delay: float = 0.0) -> None:
        self.table = table
        self.delay = delay

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self.delay:
            await asyncio.sleep(self.delay)
        addresses = self.table.get(host.rstrip("."))
        if addresses is None:
            raise OSError(f"unknown host {host}")
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0)
            for address in addresses
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with make_session(guarded=False) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fetcher(session: aiohttp.ClientSession, clock: Clock, **options: object) -> Fetcher:
    options.setdefault("host_min_interval", 0.0)
    options.setdefault("rng", random.Random(4))
    return Fetcher(session, clock=clock, **options)  # type: ignore[arg-type]


def source(url: str, **fields: object) -> Source:
    return Source(url=url, name="test", **fields)  # type: ignore[arg-type]


def delay_of(state: SourceState, now: datetime) -> float:
    assert state.next_attempt is not None
    return (state.next_attempt - now).total_seconds()


async def test_200_then_304_with_etag(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", body=FEED, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})
    fetch = fetcher(session, clock)
    first = await fetch.fetch(source(server.url("/feed")), SourceState())
    assert first.status is FetchStatus.OK
    assert first.body == FEED
    assert first.content_type == "application/rss+xml"
    assert first.state.etag == '"v1"'
    assert first.state.last_status == 200
    assert first.state.last_success == START
    assert first.state.last_attempt == START
    assert 540 <= delay_of(first.state, START) <= 660  # 600 s, jittered by 10%

    clock.advance(minutes=11)
    second = await fetch.fetch(source(server.url("/feed")), first.state)
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.body is None
    assert second.http_status == 304
    assert server.requests[-1].headers["If-None-Match"] == '"v1"'
    assert second.state.body_hash == first.state.body_hash
    assert second.state.etag == '"v1"'
    assert second.state.last_success == clock.now


async def test_a_connection_is_closed_once_its_feed_is_read(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """Most sources are one feed per host: kept alive, every host's connection stayed open after its feed was read
    (2,000 open sockets after a poll of 2,000 hosts, past a process's usual limit of 1,024 files)."""
    server.set("/feed", body=FEED)
    get = fetcher(session, clock)
    for _ in range(3):
        assert (await get.fetch(source(server.url("/feed")), SourceState())).status is FetchStatus.OK
    peers = [request.peer for request in server.hits("/feed")]
    assert len(peers) == 3
    assert len(set(peers)) == 3  # a new connection each time, none left open between them


async def test_200_then_304_with_last_modified(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    stamp = "Tue, 06 Jan 2026 11:00:00 GMT"
    server.set("/feed", body=FEED, headers={"Last-Modified": stamp})
    fetch = fetcher(session, clock)
    first = await fetch.fetch(source(server.url("/feed")), SourceState())
    assert first.status is FetchStatus.OK
    assert first.state.last_modified == stamp
    assert first.state.etag is None
    second = await fetch.fetch(source(server.url("/feed")), first.state)
    assert second.status is FetchStatus.NOT_MODIFIED
    assert server.requests[-1].headers["If-Modified-Since"] == stamp
    assert "If-None-Match" not in server.requests[-1].headers


async def test_unchanged_body_without_validators_is_not_modified(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", body=FEED)
    fetch = fetcher(session, clock)
    first = await fetch.fetch(source(server.url("/feed")), SourceState())
    second = await fetch.fetch(source(server.url("/feed")), first.state)
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.body is None
    assert second.http_status == 200
    server.set("/feed", body=FEED + b"<!-- changed -->")
    third = await fetch.fetch(source(server.url("/feed")), second.state)
    assert third.status is FetchStatus.OK
    assert third.state.body_hash != first.state.body_hash


async def test_gzip_body_is_decompressed(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", body=FEED * 50, gzip=True)
    result = await fetcher(session, clock).fetch(source(server.url("/feed")), SourceState())
    assert result.status is FetchStatus.OK
    assert result.body == FEED * 50
    assert "gzip" in server.requests[-1].headers["Accept-Encoding"]


async def test_user_agent_is_honest(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", body=FEED)
    await fetcher(session, clock).fetch(source(server.url("/feed")), SourceState())
    assert server.requests[-1].headers["User-Agent"] == f"AccordWatch/{bot.__version__} (+{bot.PROJECT_URL})"


async def test_cache_control_max_age_defers_the_next_attempt(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", body=FEED, headers={"Cache-Control": "public, max-age=7200"})
    fetch = fetcher(session, clock)
    feed = source(server.url("/feed"))
    result = await fetch.fetch(feed, SourceState())
    assert delay_of(result.state, START) == 7200
    assert not fetch.is_due(feed, result.state, START + timedelta(hours=1))
    assert fetch.is_due(feed, result.state, START + timedelta(seconds=7200))


async def test_short_max_age_does_not_shorten_the_interval(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", body=FEED, headers={"Cache-Control": "max-age=60"})
    result = await fetcher(session, clock).fetch(source(server.url("/feed"), interval=1200), SourceState())
    assert 1080 <= delay_of(result.state, START) <= 1320


async def test_retry_after_seconds_on_503(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", status=503, headers={"Retry-After": "3600"})
    fetch = fetcher(session, clock)
    feed = source(server.url("/feed"))
    result = await fetch.fetch(feed, SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "HTTP 503"
    assert result.state.last_status == 503
    assert result.state.consecutive_failures == 1
    assert delay_of(result.state, START) == 3600  # more than the backoff (about 600 s)
    assert not fetch.is_due(feed, result.state, START + timedelta(minutes=59))
    assert fetch.is_due(feed, result.state, START + timedelta(minutes=60))


async def test_retry_after_http_date_on_429(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", status=429, headers={"Retry-After": format_datetime(START + timedelta(hours=2), usegmt=True)})
    result = await fetcher(session, clock).fetch(source(server.url("/feed")), SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "HTTP 429"
    assert delay_of(result.state, START) == 7200


async def test_server_delays_are_capped_at_a_day(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", status=503, headers={"Retry-After": "9" * 30, "Cache-Control": "max-age=99999999999"})
    result = await fetcher(session, clock).fetch(source(server.url("/feed")), SourceState())
    assert result.error == "HTTP 503"
    assert delay_of(result.state, START) == 86400


async def test_backoff_grows_is_capped_and_resets(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", status=500)
    fetch = fetcher(session, clock)
    feed = source(server.url("/feed"), interval=600)
    state = SourceState(etag='"old"', body_hash="abc", last_success=START - timedelta(days=1))
    delays = []
    for failures in range(1, 11):
        result = await fetch.fetch(feed, state)
        state = result.state
        assert state.consecutive_failures == failures
        assert state.last_status == 500
        assert state.last_error == "HTTP 500"
        expected = min(600 * 2 ** (failures - 1), MAX_BACKOFF.total_seconds())
        delay = delay_of(state, clock.now)
        assert 0.9 * expected <= delay <= min(1.1 * expected, MAX_BACKOFF.total_seconds())
        delays.append(delay)
        clock.now = state.next_attempt or clock.now
    assert delays[3] > 2 * delays[1]
    assert max(delays) <= MAX_BACKOFF.total_seconds()
    assert state.etag == '"old"'
    assert state.body_hash == "abc"  # what we knew of the feed survives its failures
    assert state.last_success == START - timedelta(days=1)

    server.set("/feed", body=FEED)
    recovered = await fetch.fetch(feed, state)
    assert recovered.status is FetchStatus.OK
    assert recovered.state.consecutive_failures == 0
    assert recovered.state.last_error is None


@pytest.mark.parametrize("status", [403, 404, 502])
async def test_http_errors_count_toward_health(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock, status: int
) -> None:
    server.set("/feed", status=status, body=b"go away")
    previous = SourceState(consecutive_failures=2, last_status=200)
    result = await fetcher(session, clock).fetch(source(server.url("/feed")), previous)
    assert result.status is FetchStatus.FAILED
    assert result.error == f"HTTP {status}"
    assert result.http_status == status
    assert result.state.last_status == status
    assert result.state.consecutive_failures == 3


async def test_total_timeout(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", body=FEED, delay=3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    result = await fetcher(session, clock, total_timeout=0.3).fetch(source(server.url("/feed")), SourceState())
    assert loop.time() - began < 2
    assert result.status is FetchStatus.FAILED
    assert result.error == "timed out after 0.3 s"
    assert result.state.consecutive_failures == 1


async def test_total_timeout_while_reading_a_slow_body(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", body=FEED * 100, chunk_size=100, chunk_delay=0.05)
    result = await fetcher(session, clock, total_timeout=0.3).fetch(source(server.url("/feed")), SourceState())
    assert result.error == "timed out after 0.3 s"


async def test_connect_timeout(clock: Clock) -> None:
    slow = MapResolver({"slow.test": ["127.0.0.1"]}, delay=5)
    async with make_session(guarded=False, resolver=slow) as session:
        result = await fetcher(session, clock, connect_timeout=0.2).fetch(
            source("http://slow.test:9/feed"), SourceState()
        )
    assert result.status is FetchStatus.FAILED
    assert result.error == "connection timed out after 0.2 s"


async def test_connection_refused(session: aiohttp.ClientSession, clock: Clock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await fetcher(session, clock).fetch(source(f"http://127.0.0.1:{port}/feed"), SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "connection refused"


async def test_oversize_body_with_length(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", body=b"x" * (2 * 1024 * 1024))
    result = await fetcher(session, clock, max_body=1024 * 1024).fetch(source(server.url("/feed")), SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "body larger than 1 MB"
    assert result.body is None


async def test_oversize_streamed_body_is_cut_off(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    body = b"y" * (4 * 1024 * 1024)
    server.set("/feed", body=body, chunk_size=64 * 1024, chunk_delay=0.005)
    result = await fetcher(session, clock, max_body=256 * 1024).fetch(source(server.url("/feed")), SourceState())
    assert result.error == "body larger than 0.25 MB"
    await server.idle()
    assert not server.completed["/feed"]
    assert server.bytes_sent["/feed"] < len(body) // 2


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of zeros, gzipped to about 50 KB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(50)]
    parts.append(compressor.flush())
    return b"".join(parts)


async def test_gzip_bomb_is_cut_off_early(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 100 * 1024
    server.set("/bomb", body=gzip_bomb, precompressed=True, chunk_size=1024, chunk_delay=0.005)
    result = await fetcher(session, clock).fetch(source(server.url("/bomb")), SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "body larger than 5 MB"
    await server.idle()
    assert not server.completed["/bomb"]
    # 5 MB of zeros is about 5 KB compressed: the fetcher stopped after a small part of the 50 KB
    assert server.bytes_sent["/bomb"] < len(gzip_bomb) // 3


async def test_redirects_are_followed_and_reported(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", body=FEED)
    for hop in range(5):
        target = "/feed" if hop == 4 else f"/r{hop + 1}"
        server.set(f"/r{hop}", status=301 if hop % 2 else 302, headers={"Location": target})
    result = await fetcher(session, clock).fetch(source(server.url("/r0")), SourceState())
    assert result.status is FetchStatus.OK
    assert result.final_url == server.url("/feed")
    assert result.body == FEED


async def test_too_many_redirects(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    server.set("/feed", body=FEED)
    for hop in range(6):
        server.set(f"/r{hop}", status=302, headers={"Location": "/feed" if hop == 5 else f"/r{hop + 1}"})
    result = await fetcher(session, clock).fetch(source(server.url("/r0")), SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "too many redirects (more than 5)"
    assert server.hits("/feed") == []


async def test_per_host_concurrency_limit(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    for index in range(6):
        server.set(f"/s{index}", body=FEED, delay=0.15)
    fetch = fetcher(session, clock, per_host_limit=2)
    results = await asyncio.gather(*(fetch.fetch(source(server.url(f"/s{i}")), SourceState()) for i in range(6)))
    assert all(result.status is FetchStatus.OK for result in results)
    assert server.max_active == 2


async def test_per_host_concurrency_limit_is_what_is_configured(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    for index in range(6):
        server.set(f"/s{index}", body=FEED, delay=0.15)
    fetch = fetcher(session, clock, per_host_limit=3)
    await asyncio.gather(*(fetch.fetch(source(server.url(f"/s{i}")), SourceState()) for i in range(6)))
    assert server.max_active == 3


async def test_per_host_minimum_interval(server: FeedServer, session: aiohttp.ClientSession, clock: Clock) -> None:
    for index in range(4):
        server.set(f"/s{index}", body=FEED)
    fetch = fetcher(session, clock, per_host_limit=4, host_min_interval=0.1)
    await asyncio.gather(*(fetch.fetch(source(server.url(f"/s{i}")), SourceState()) for i in range(4)))
    starts = sorted(request.at for request in server.requests)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.08


# --- local files (the operator's sources, `python -m bot check`) ---------------------------------------------


async def test_local_file_is_read_then_not_modified(
    tmp_path: Path, session: aiohttp.ClientSession, clock: Clock
) -> None:
    path = tmp_path / "saved.xml"
    path.write_bytes(FEED)
    fetch = fetcher(session, clock)
    first = await fetch.fetch(source(str(path)), SourceState())
    assert first.status is FetchStatus.OK
    assert first.body == FEED
    assert first.content_type in {"application/xml", "text/xml"}
    second = await fetch.fetch(source(path.as_uri()), first.state)
    assert second.status is FetchStatus.NOT_MODIFIED


async def test_local_file_errors(tmp_path: Path, session: aiohttp.ClientSession, clock: Clock) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"z" * 2048)
    fetch = fetcher(session, clock, max_body=1024)
    too_big = await fetch.fetch(source(str(big)), SourceState())
    assert too_big.status is FetchStatus.FAILED
    assert too_big.error is not None
    assert too_big.error.startswith("body larger than")
    missing = await fetch.fetch(source(str(tmp_path / "gone.xml")), SourceState())
    assert missing.error == f"no such file: {tmp_path / 'gone.xml'}"
    assert missing.state.consecutive_failures == 1


async def test_untrusted_local_file_is_refused(tmp_path: Path, session: aiohttp.ClientSession, clock: Clock) -> None:
    path = tmp_path / "secret.xml"
    path.write_bytes(FEED)
    result = await fetcher(session, clock, guarded_session=session).fetch(
        source(path.as_uri(), guild_id=1), SourceState()
    )
    assert result.status is FetchStatus.FAILED
    assert result.body is None
    assert result.error == "only http and https URLs can be fetched"


# --- the guard (sources added by a server's admins) -----------------------------------------------------------


async def test_private_address_source_is_refused(server: FeedServer, clock: Clock) -> None:
    server.set("/feed", body=FEED)
    async with make_session(guarded=True, resolver=MapResolver({"lan.test": ["192.168.1.20"]})) as guarded:
        fetch = fetcher(guarded, clock, guarded_session=guarded)
        literal = await fetch.fetch(source("http://10.0.0.1/feed", guild_id=7), SourceState())
        loopback = await fetch.fetch(source(server.url("/feed"), guild_id=7), SourceState())
        named = await fetch.fetch(source("http://lan.test/feed", guild_id=7), SourceState())
        localhost = await fetch.fetch(source(server.url("/feed", host="localhost"), guild_id=7), SourceState())
    assert literal.error == "the host resolves to a private address (10.0.0.1)"
    assert loopback.error == "the host resolves to a loopback address (127.0.0.1)"
    assert named.error == "the host resolves to a private address (192.168.1.20)"
    assert localhost.error == "the host resolves to a loopback address (localhost)"
    for result in (literal, loopback, named, localhost):
        assert result.status is FetchStatus.FAILED
        assert result.state.consecutive_failures == 1
    assert server.requests == []


async def test_untrusted_source_needs_the_guarded_session(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    server.set("/feed", body=FEED)
    result = await fetcher(session, clock).fetch(source(server.url("/feed"), guild_id=7), SourceState())
    assert result.status is FetchStatus.FAILED
    assert result.error == "no guarded session for server-added sources"
    assert server.requests == []


async def test_guarded_session_refuses_redirects_to_blocked_addresses(server: FeedServer, clock: Clock) -> None:
    """The operator vouches for 127.0.0.1 only, so the feed server is reachable and everything else is not."""
    table = {"feeds.test": ["127.0.0.1"], "internal.test": ["10.1.2.3"]}
    server.set("/feed", body=FEED)
    server.set("/secret", body=b"metadata")
    server.set("/to-literal", status=302, headers={"Location": f"http://127.0.0.2:{server.port}/secret"})
    server.set("/to-name", status=302, headers={"Location": f"http://internal.test:{server.port}/secret"})
    server.set("/to-v6", status=307, headers={"Location": f"http://[::ffff:169.254.169.254]:{server.port}/secret"})
    allow = [ip_network("127.0.0.1/32")]
    async with make_session(guarded=True, resolver=MapResolver(table), allow=allow) as guarded:
        fetch = fetcher(guarded, clock, guarded_session=guarded)

        def url(path: str) -> str:
            return server.url(path, host="feeds.test")

        allowed = await fetch.fetch(source(url("/feed"), guild_id=7), SourceState())
        to_literal = await fetch.fetch(source(url("/to-literal"), guild_id=7), SourceState())
        to_name = await fetch.fetch(source(url("/to-name"), guild_id=7), SourceState())
        to_v6 = await fetch.fetch(source(url("/to-v6"), guild_id=7), SourceState())
    assert allowed.status is FetchStatus.OK
    assert to_literal.error == "the host resolves to a loopback address (127.0.0.2)"
    assert to_name.error == "the host resolves to a private address (10.1.2.3)"
    assert to_v6.error == "the host resolves to a link-local address (::ffff:a9fe:a9fe)"
    assert server.hits("/secret") == []


async def test_a_host_is_forgotten_once_its_fetches_and_spacing_are_over(
    server: FeedServer, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """Per-host state lasts while it matters (requests in flight, the spacing between starts), then goes: kept for
    every host ever fetched, it grew with each source and lengthened every full collection."""
    for index in range(3):
        server.set(f"/s{index}", body=FEED)
    fetch = fetcher(session, clock, host_min_interval=0.2)
    first = await fetch.fetch(source(server.url("/s0")), SourceState())
    assert first.status is FetchStatus.OK
    assert fetch._next_start  # the spacing still holds: the next start waits for it
    second = await fetch.fetch(source(server.url("/s1")), SourceState())
    assert second.status is FetchStatus.OK
    starts = [request.at for request in server.requests]
    assert starts[1] - starts[0] >= 0.18
    await asyncio.sleep(0.3)
    assert fetch._semaphores == {}
    assert fetch._next_start == {}
    assert fetch._fetching == {}
    third = await fetch.fetch(source(server.url("/s2")), SourceState())  # and a later fetch works as before
    assert third.status is FetchStatus.OK
