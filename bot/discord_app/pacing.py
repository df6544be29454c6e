"""Evenly spaced sends, under Discord's global rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

GLOBAL_LIMIT = 50  # requests per second per bot, interaction responses exempt (Discord's rate-limits topic)
SEND_RATE = 47.0  # what the delivery runner uses: the headroom is for the bot's other, rarer requests


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
