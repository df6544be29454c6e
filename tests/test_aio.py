"""The bot's event loop: uvloop where it is installed, asyncio's otherwise; either way a coroutine's result."""

from __future__ import annotations

import asyncio
import gc
import importlib.util

import pytest

from bot import aio


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_when_it_is_installed() -> None:
    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert aio.run(loop_module()).split(".")[0] == expected


# --- foreground work first ------------------------------------------------------------------------------------


async def test_background_work_waits_while_foreground_work_runs() -> None:
    foreground = aio.Foreground()
    order: list[str] = []

    async def command() -> None:
        with foreground.claim():
            await asyncio.sleep(0.05)
            order.append("command answered")

    async def poll_step() -> None:
        await asyncio.sleep(0)  # the command has claimed the loop by now
        await foreground.wait(limit=5)
        order.append("poll went on")

    await asyncio.gather(command(), poll_step())
    assert order == ["command answered", "poll went on"]
    assert not foreground.busy()


async def test_a_wait_ends_after_its_limit_and_an_old_claim_stops_holding() -> None:
    foreground = aio.Foreground(hold=0.2)
    with foreground.claim():
        started = asyncio.get_running_loop().time()
        await foreground.wait(limit=0.05)  # a command that waits for what the background holds is not stuck
        assert 0.04 <= asyncio.get_running_loop().time() - started < 0.15
        assert foreground.busy()
        await asyncio.sleep(0.25)
        assert not foreground.busy()  # past Discord's deadline it has deferred: the poll goes on
        started = asyncio.get_running_loop().time()
        await foreground.wait(limit=5)
        assert asyncio.get_running_loop().time() - started < 0.05


async def test_a_breather_that_puts_foreground_first_holds_back_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    foreground = aio.Foreground()
    monkeypatch.setattr(aio, "FOREGROUND", foreground)
    polite, plain = aio.Breather(0, foreground_first=True), aio.Breather(0)
    with foreground.claim():
        started = asyncio.get_running_loop().time()
        await plain()  # inside a transaction: it only lets the loop turn
        assert asyncio.get_running_loop().time() - started < 0.05
        waited = asyncio.create_task(polite())
        await asyncio.sleep(0.05)
        assert not waited.done()
    await asyncio.wait_for(waited, 1)  # the command answered: the poll goes on


def test_full_collections_are_deferred_while_held_and_come_back_after() -> None:
    """A poll defers the collector's full passes (each held the loop 13-33 ms at 2,000 feeds); nested holds (two
    pollers) keep them deferred until the last ends, and an error ends a hold too."""
    before = gc.get_threshold()
    with aio.full_collections_deferred():
        young, middle, old = gc.get_threshold()
        assert (young, middle) == before[:2]
        assert old > 1_000_000
        with pytest.raises(RuntimeError), aio.full_collections_deferred():
            raise RuntimeError("a poll that broke")
        assert gc.get_threshold()[2] == old  # the outer hold goes on
    assert gc.get_threshold() == before
