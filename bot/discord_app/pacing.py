"""Evenly spaced sends, under Discord's global rate limit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

GLOBAL_LIMIT = 50  # requests per second per bot, interaction responses exempt (Discord's rate-limits topic)
SEND_RATE = 47.0  # what the delivery runner uses: the headroom is for the bot's other, rarer requests


class SendPacer(Protocol):
    """What sending needs of a pacer: wait for this caller's slot."""

    async def wait(self) -> None: ...


class Pacer:
    """Hands out send slots at most `rate` per second, evenly spaced.

    discord.py waits out a 429 but does not pace: a bot that fans one alert out to a thousand channels as fast as
    it can meets the global limit within a second and pays in 429s, which Discord counts against it (10,000
    invalid requests in 10 minutes earn a temporary ban). Evenly spaced slots keep every one-second window under
    the limit, so the 429s never happen; a token bucket would allow a burst at the start of each second instead.
    """

    def __init__(
        self,
        rate: float = SEND_RATE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        """Return at this caller's slot: no earlier than `interval` after the previous caller's."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval  # taken before sleeping: concurrent callers queue up, one slot each
        if slot > now:
            await self._sleep(slot - now)


# Reserves the next free slot of the shared schedule atomically, on the Redis server's clock: every gateway of the
# fleet draws from one sequence of evenly spaced slots, so together they stay under the bot token's global limit.
_RESERVE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(t, taken)
redis.call('SET', KEYS[1], tostring(slot + tonumber(ARGV[1])), 'PX', 60000)
return tostring(slot - t)
"""


class RedisPacer:
    """The Pacer's evenly spaced slots, shared through Redis by every process that sends for the bot (REDIS_URL).

    When Redis cannot be reached, sends take slots of `fallback` (this process's share) and a warning says so:
    a Redis hiccup slows nothing down and never stops delivery."""

    def __init__(
        self, url: str, rate: float = SEND_RATE, *, fallback: Pacer, key: str = "accordwatch:send-slot"
    ) -> None:
        import redis.asyncio as redis  # only a fleet with REDIS_URL needs it

        self.interval = 1.0 / rate
        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reserve = self._redis.register_script(_RESERVE)
        self._key = key
        self._fallback = fallback
        self._degraded = False

    async def wait(self) -> None:
        try:
            delay = float(await self._reserve(keys=[self._key], args=[self.interval]))
        except Exception as exc:  # redis' errors are its own hierarchy; any of them means "use the share"
            if not self._degraded:
                log.warning("the shared rate budget (Redis) is unreachable (%s): using this process's share", exc)
                self._degraded = True
            await self._fallback.wait()
            return
        if self._degraded:
            log.info("the shared rate budget (Redis) is back")
            self._degraded = False
        if delay > 0:
            await asyncio.sleep(delay)

    async def close(self) -> None:
        await self._redis.aclose()


def share(rate: float, shards: int, of: int) -> float:
    """This process's part of the global budget without Redis: proportional to the shards it runs."""
    return rate * shards / max(of, 1)
