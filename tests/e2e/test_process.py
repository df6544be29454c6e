"""The bot as a process, as a platform runs it (`worker: python -m bot`): it starts against the emulator,
answers, and a SIGTERM stops it gracefully with exit status 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.discord_emulator.fixtures import EmulatorHandle

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is a POSIX signal")
async def test_sigterm_stops_the_bot_gracefully(emulator: EmulatorHandle, tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text("# none\n")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "LOG_"))}
    env = {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": emulator.token,
        "DISCORD_API_BASE": emulator.api_base,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "SOURCES_FILE": str(tmp_path / "sources.toml"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("ready as" in line for line in lines):
                line = (await process.stderr.readline()).decode()
                assert line, "the bot exited before it was ready:\n" + "".join(lines)
                lines.append(line)
        answer = await emulator.ask("help", user="member", wait=10)
        assert answer["status"] == "answered", answer
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = (await process.stderr.read()).decode()
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, rest
    assert "SIGTERM: stopping" in rest
    assert rest.rstrip().endswith("stopped"), rest
    assert emulator.token not in "".join(lines) + rest  # the token never reaches the logs
