"""The bot's event loop: uvloop where it is installed, asyncio's otherwise; either way a coroutine's result."""

from __future__ import annotations

import asyncio
import importlib.util

from bot import aio


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_when_it_is_installed() -> None:
    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert aio.run(loop_module()).split(".")[0] == expected
