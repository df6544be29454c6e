"""The bot as a process, as a platform runs it (`worker: python -m bot`): it starts against the emulator,
answers, and a SIGTERM stops it gracefully with exit status 0."""

from __future__ import annotations

import asyncio
import contextlib
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


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc (Linux)")
@pytest.mark.parametrize("command", ["run", "emulator"])
async def test_sigterm_to_dev_py_leaves_no_process_behind(
    emulator: EmulatorHandle, tmp_path: Path, command: str
) -> None:
    """A supervisor restarting `python3 dev.py run` after a SIGTERM must not get two bots: the wrapper hands the
    process over to the bot (and to the emulator) instead of leaving a child running."""
    (tmp_path / "sources.toml").write_text("# none\n")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "LOG_"))}
    env = {
        **keep,
        "DISCORD_TOKEN": emulator.token,
        "DISCORD_API_BASE": emulator.api_base,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "SOURCES_FILE": str(tmp_path / "sources.toml"),
    }
    ready = "ready as" if command == "run" else "DISCORD_TOKEN="
    args = [sys.executable, str(ROOT / "dev.py"), command, *(["--port", "0"] if command == "emulator" else [])]
    process = await asyncio.create_subprocess_exec(
        *args, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not any(ready in line for line in lines):
                line = (await process.stdout.readline()).decode()
                assert line, "it exited before it was ready:\n" + "".join(lines)
                lines.append(line)
        below = _descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.stdout.read()
            await process.wait()
        await asyncio.sleep(0.5)
        left = [pid for pid in below | {process.pid} if _alive(pid)]
        assert left == [], f"still running after SIGTERM: {left}"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pid in _descendants(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
