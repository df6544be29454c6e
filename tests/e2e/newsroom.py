"""Fresh news for end-to-end delivery tests: outlet feeds served on 127.0.0.x, and the bot (re)started on demand.

The saved 2020 feeds are old news and are never delivered (MAX_ARTICLE_AGE), so the UAE-Israel story of
2020-08-13 is told again here with the same headlines and a pubDate of now, each outlet from its own feed
and its own loopback address: the fetcher spaces requests to one host a second apart, and separate hosts
keep a poll short.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from aiohttp import web

from tests.discord_emulator.fixtures import EmulatorHandle, pointed_at, settings_for

if TYPE_CHECKING:
    from bot.discord_app.client import AccordWatchBot


@dataclass(frozen=True, slots=True)
class Item:
    """One feed item, as an outlet published it."""

    title: str
    link: str
    description: str


@dataclass(frozen=True, slots=True)
class Outlet:
    key: str
    feed_title: str  # the bot names the outlet after its feed's title
    host: str  # a loopback address of its own
    story: Item


UAE_STORY = (
    Outlet(
        "bbc",
        "BBC News",
        "127.0.0.1",
        Item(
            "Israel and UAE strike historic deal to normalise relations",
            "https://www.bbc.co.uk/news/world-middle-east-53770859",
            "Israel and the United Arab Emirates agree to normalise relations in the third Israel-Arab peace deal.",
        ),
    ),
    Outlet(
        "cnn",
        "CNN",
        "127.0.0.2",
        Item(
            "Israel and the UAE have established 'full normalization of relations,' Trump says",
            "https://www.cnn.com/collections/intl-trump-mideast-0813/",
            "President Trump announces that Israel and the United Arab Emirates will establish full diplomatic "
            "relations.",
        ),
    ),
    Outlet(
        "guardian",
        "The Guardian",
        "127.0.0.3",
        Item(
            "Israel signs historic deal with UAE that will 'suspend' West Bank annexation",
            "https://www.theguardian.com/world/2020/aug/13/israel-and-uae-to-form-diplomatic-ties-says-donald-trump",
            "Israel and the United Arab Emirates have agreed to establish full diplomatic ties in a historic "
            "Washington-brokered deal under which Israel will suspend its plans to annex parts of the West Bank.",
        ),
    ),
)
OUTLETS = {outlet.key: outlet for outlet in UAE_STORY}

# Unrelated subjects, so that each generated headline is a story of its own (clustering joins similar titles).
_SUBJECTS = (
    "harbour dredging contract",
    "violin competition jury",
    "glacier melt survey",
    "tram line extension",
    "honeybee census",
    "chess olympiad squad",
    "desert solar farm",
    "coral reef mapping",
    "rail freight strike",
    "vaccine cold chain",
    "library manuscript find",
    "copper mine permit",
    "marathon route change",
    "satellite launch window",
    "olive harvest forecast",
    "bridge inspection backlog",
    "opera house reopening",
    "fishing quota dispute",
    "wildfire drone fleet",
    "textile export rules",
    "volcano ash advisory",
    "cycling lane budget",
    "museum roof repair",
    "salt flat lithium bid",
)


def numbered_items(word: str, count: int) -> list[Item]:
    """`count` unrelated headlines that all contain `word` (a topic can then select exactly them)."""
    if count > len(_SUBJECTS):
        raise ValueError(f"at most {len(_SUBJECTS)} distinct items")
    return [
        Item(
            f"{subject.capitalize()} {word}",
            f"https://www.bbc.co.uk/news/{word}-{n}",
            f"The {subject} is news today ({word}).",
        )
        for n, subject in enumerate(_SUBJECTS[:count])
    ]


def rss(title: str, items: list[Item], published: datetime) -> bytes:
    """An RSS 2.0 document whose items were all published at `published`."""
    date = format_datetime(published.astimezone(UTC))
    entries = "".join(
        f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
        f'<guid isPermaLink="true">{escape(item.link)}</guid>'
        f"<description>{escape(item.description)}</description><pubDate>{date}</pubDate></item>"
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link><description>{escape(title)}</description>"
        f"{entries}</channel></rss>"
    ).encode()


class Newsroom:
    """One small feed server per outlet, each on its own loopback address; every feed starts empty."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.bodies: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        self._runners: list[web.AppRunner] = []

    async def __aenter__(self) -> Newsroom:
        for outlet in UAE_STORY:
            self.bodies[outlet.key] = rss(outlet.feed_title, [], self.clock())
            self.hits[outlet.key] = 0
            app = web.Application()
            app.router.add_get("/rss", self._handler(outlet.key))
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            await runner.setup()
            await web.TCPSite(runner, outlet.host, 0).start()
            self._runners.append(runner)
            self.ports[outlet.key] = runner.addresses[0][1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for runner in self._runners:
            await runner.cleanup()

    def _handler(self, key: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(_: web.Request) -> web.Response:
            self.hits[key] += 1
            return web.Response(body=self.bodies[key], content_type="application/rss+xml")

        return handle

    def url(self, key: str) -> str:
        return f"http://{OUTLETS[key].host}:{self.ports[key]}/rss"

    def publish(self, *keys: str) -> None:
        """These outlets now carry the UAE story, published now."""
        for key in keys:
            outlet = OUTLETS[key]
            self.bodies[key] = rss(outlet.feed_title, [outlet.story], self.clock())

    def publish_items(self, key: str, items: list[Item]) -> None:
        """This outlet's feed now carries exactly these items, published now."""
        self.bodies[key] = rss(OUTLETS[key].feed_title, items, self.clock())

    def serve(self, key: str, body: bytes) -> None:
        """This outlet's feed is now exactly `body` (a saved feed, say)."""
        self.bodies[key] = body

    def sources_toml(self) -> str:
        return "".join(f'[[source]]\nurl = "{self.url(o.key)}"\nname = "{o.feed_title}"\n\n' for o in UAE_STORY)

    async def fetched(self, key: str, times: int = 1, within: float = 10.0) -> None:
        """Wait until the bot fetched this outlet's feed `times` more times than now."""
        target = self.hits[key] + times
        await until(lambda: self.hits[key] >= target, within, f"the bot never fetched {key} again")


async def until(check: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Wait for `check()` to hold, looking every 20 ms; fail the test with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s: {what}")
        await asyncio.sleep(0.02)


async def eventually(
    probe: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], within: float = 10.0, what: str = ""
) -> Any:
    """Await `probe()` until `accept` takes its result, and return that result."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s: {what or 'never accepted'}; last: {result!r}")
        await asyncio.sleep(0.05)


def quick(bot: AccordWatchBot) -> None:
    """Test pace for the delivery dispatcher: a round every 0.2 s when idle, retries after 0.05 s to 1 s (the
    product's are 5 s and 2 s to 60 s)."""
    runner = bot.deliveries
    runner.idle, runner.retry_base, runner.retry_max = 0.2, 0.05, 1.0


class BotLauncher:
    """Start and stop the real bot against one emulator and one SQLite file, as often as a test needs.

    The `bot` fixture lives for the whole test; a restart test needs to stop it and start a second bot on the
    same database, which this does with the same `bot.app.running_bot` the product uses.
    """

    def __init__(self, emulator: EmulatorHandle, database: Path, sources: Path, settings: dict[str, Any]) -> None:
        self.emulator = emulator
        self.database = database
        self.sources = sources
        self.extra = settings
        self.starts = 0
        self._stack: contextlib.AsyncExitStack | None = None

    async def start(self) -> AccordWatchBot:
        from bot.app import running_bot

        if self._stack is not None:
            raise RuntimeError("the bot is already running")
        settings = settings_for(self.emulator, self.database, self.sources, **self.extra)
        stack = contextlib.AsyncExitStack()
        stack.enter_context(pointed_at(self.emulator))
        try:
            running: AccordWatchBot = await stack.enter_async_context(running_bot(settings, guild_ready_timeout=0.1))
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.starts += 1
        quick(running)
        return running

    async def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()


@contextlib.asynccontextmanager
async def launcher(
    emulator: EmulatorHandle, database: Path, sources: Path, settings: dict[str, Any]
) -> AsyncIterator[BotLauncher]:
    bots = BotLauncher(emulator, database, sources, settings)
    try:
        yield bots
    finally:
        await bots.stop()
