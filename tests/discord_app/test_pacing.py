"""Sends paced under Discord's global limit, and which refusals are worth another try."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections import deque
from types import SimpleNamespace

import aiohttp
import discord
import pytest

from bot.discord_app.delivery_runner import transient
from bot.discord_app.pacing import GLOBAL_LIMIT, SEND_RATE, Pacer, RedisPacer, share


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_slots_are_evenly_spaced_so_no_second_holds_more_than_the_rate() -> None:
    time = FakeTime()
    pacer = Pacer(SEND_RATE, clock=time.clock, sleep=time.sleep)
    stamps = []
    for _ in range(500):
        await pacer.wait()
        stamps.append(time.now)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) == pytest.approx(1 / SEND_RATE)
    window: deque[float] = deque()
    busiest = 0
    for stamp in stamps:
        window.append(stamp)
        while window[0] <= stamp - 1.0:
            window.popleft()
        busiest = max(busiest, len(window))
    assert busiest <= SEND_RATE + 1 < GLOBAL_LIMIT


async def test_an_idle_pacer_does_not_wait_and_does_not_save_up_a_burst() -> None:
    time = FakeTime()
    pacer = Pacer(10, clock=time.clock, sleep=time.sleep)
    await pacer.wait()
    time.now += 60  # a quiet minute
    await pacer.wait()
    assert time.now == 160.0
    await pacer.wait()
    assert time.now == pytest.approx(160.1)  # the next one still waits its turn


async def test_concurrent_callers_each_get_their_own_slot() -> None:
    pacer = Pacer(200)
    loop = asyncio.get_running_loop()
    done: list[float] = []

    async def one() -> None:
        await pacer.wait()
        done.append(loop.time())

    await asyncio.gather(*(one() for _ in range(20)))
    assert max(done) - min(done) >= 19 / 200 * 0.9


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)


def http_error(status: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="x")
    return discord.HTTPException(response, {"message": "m", "code": 0})  # type: ignore[arg-type]


def test_rate_limits_server_errors_and_the_network_are_transient_refusals_are_not() -> None:
    assert transient(http_error(429))
    assert transient(http_error(503))
    assert transient(aiohttp.ClientConnectionError("reset"))
    assert transient(TimeoutError())
    assert not transient(http_error(400))
    assert not transient(http_error(403))
    assert not transient(http_error(404))
    assert not transient(ValueError("a bug"))


REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set (e.g. redis://127.0.0.1:6379/15)")
async def test_gateways_sharing_redis_take_slots_of_one_budget() -> None:
    """Two processes' pacers on one Redis: together they keep the one rate, not twice it."""
    key = f"accordwatch:test-slot:{uuid.uuid4().hex}"
    first = RedisPacer(REDIS_URL, 40.0, fallback=Pacer(1000.0), key=key)
    second = RedisPacer(REDIS_URL, 40.0, fallback=Pacer(1000.0), key=key)
    stamps: list[float] = []

    async def send(pacer: RedisPacer, times: int) -> None:
        for _ in range(times):
            await pacer.wait()
            stamps.append(time.monotonic())

    try:
        started = time.monotonic()
        await asyncio.gather(send(first, 30), send(second, 30))
        elapsed = time.monotonic() - started
    finally:
        await first.close()
        await second.close()
    assert elapsed >= 59 / 40 * 0.95  # 60 slots at 40/s: a second and a half, not three quarters
    stamps.sort()
    busiest = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    assert busiest <= 41


async def test_without_redis_the_shared_budget_falls_back_to_the_processes_share() -> None:
    own = Pacer(1000.0)
    pacer = RedisPacer("redis://127.0.0.1:1/0", 40.0, fallback=own)  # nothing listens there
    try:
        started = time.monotonic()
        for _ in range(3):
            await pacer.wait()
        assert time.monotonic() - started < 5
        assert pacer._degraded
    finally:
        await pacer.close()


def test_a_gateway_of_some_shards_takes_its_share() -> None:
    assert share(SEND_RATE, 2, 4) == SEND_RATE / 2
    assert share(SEND_RATE, 1, 1) == SEND_RATE
