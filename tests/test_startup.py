"""Start-up: a missing or malformed setting stops the bot with one line, exit status 2, and no secret."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def run_bot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "LOG_"))}
    clean["PYTHONPATH"] = str(ROOT)
    # Run in an empty folder so that no .env of the developer's is read.
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: DISCORD_TOKEN: not set; set DISCORD_TOKEN in .env")
    assert "Traceback" not in result.stderr


def test_bad_database_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {"DISCORD_TOKEN": "secret-token-123", "DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: DATABASE_URL: unsupported database 'mysql'; "
        "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname"
    )
    assert "secret-token-123" not in result.stderr + result.stdout


def test_unreachable_database_is_a_database_url_error(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "secret-token-123", "DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/db"}
    result = run_bot(tmp_path, env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: DATABASE_URL: cannot open the database")
    assert "hunter2" not in result.stderr
    assert "secret-token-123" not in result.stderr + result.stdout


def test_env_file_is_read_and_empty_values_mean_default(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=abc\nDEV_GUILD_ID=\nLOG_LEVEL=debug\n")
    settings = load_settings(env_file=env_file)
    assert settings.token == "abc"
    assert settings.DEV_GUILD_ID is None
    assert settings.LOG_LEVEL == "DEBUG"
    assert "abc" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("DEV_GUILD_ID", "my-server", "DEV_GUILD_ID: "),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: unknown level 'LOUD'"),
        ("DISCORD_API_BASE", "discord.com", "DISCORD_API_BASE: not an http(s) URL"),
        ("DISCORD_GATEWAY_URL", "http://x", "DISCORD_GATEWAY_URL: not a ws(s) URL"),
        ("DATABASE_URL", "sqlite://", "DATABASE_URL: a SQLite URL needs a file path"),
        ("SERVER_SOURCES_ALLOW", "10.0.0.0/8, intranet", "SERVER_SOURCES_ALLOW: 'intranet' is not a network"),
        ("POLL_WORKERS", "0", "POLL_WORKERS: Input should be greater than or equal to 1"),
    ],
)
def test_each_bad_setting_names_its_variable(
    variable: str, value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    assert str(caught.value).startswith(problem)
    assert caught.value.variable == variable


def test_server_sources_allow_is_parsed_into_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_SOURCES_ALLOW", " 10.20.0.0/16, 127.0.0.1 ,")
    settings = load_settings(env_file=None)
    assert [str(n) for n in settings.allowed_networks] == ["10.20.0.0/16", "127.0.0.1/32"]
    monkeypatch.delenv("SERVER_SOURCES_ALLOW")
    assert load_settings(env_file=None).allowed_networks == ()


async def test_poll_workers_start_with_the_bot_below_its_priority(tmp_path: Path) -> None:
    """POLL_WORKERS worker processes are up before the first poll, each niced below the bot's own process."""
    from bot.app import opened
    from bot.news.jobs import WORKER_NICENESS
    from bot.news.work import ProcessWork

    settings = load_settings(
        env_file=None, DISCORD_TOKEN="abc", DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", POLL_WORKERS=3
    )
    own = os.getpriority(os.PRIO_PROCESS, 0)
    async with opened(settings, "all") as core:
        work = core.news.work
        assert isinstance(work, ProcessWork)
        for _ in range(300):  # spawned with their imports: a few seconds at most on a loaded machine
            pids = work.pids()
            priorities = {os.getpriority(os.PRIO_PROCESS, pid) for pid in pids}
            if len(pids) == 3 and priorities == {min(own + WORKER_NICENESS, 19)}:
                break
            await asyncio.sleep(0.05)
        assert len(pids) == 3
        assert priorities == {min(own + WORKER_NICENESS, 19)}
        assert await core.news.store.last_fetch() is None  # started ahead of any poll, not by one


def test_the_command_line_imports_nothing_heavy_before_it_runs() -> None:
    """Each worker process that parses feeds is spawned and runs bot/__main__.py again as `__mp_main__`: what it
    imports at its top, every worker holds (pydantic there made each worker 55 MB instead of 30)."""
    heavy = ("asyncio", "pydantic", "discord", "sqlalchemy", "aiohttp", "lxml")
    code = f"import sys, bot.__main__; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.split() == []


async def test_the_reported_accessions_are_read_while_the_bot_logs_in(tmp_path: Path) -> None:
    """/members and /timeline show them on every call: read at start, the first command reads no story (it used to
    read hundreds, with their articles, during the first poll)."""
    from sqlalchemy import event

    from bot.app import opened
    from bot.store.database import create_engine, migrate
    from bot.store.news import NewsStore
    from tests.delivery.conftest import Stories, article

    database = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = create_engine(database)
    await migrate(engine)
    seen = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
    await Stories(NewsStore(engine)).add(*(article(f"h{n}.example", seen=seen) for n in range(3)))
    await engine.dispose()

    settings = load_settings(env_file=None, DISCORD_TOKEN="abc", DATABASE_URL=database, POLL_WORKERS=1)
    async with opened(settings, "all") as core:
        (warming,) = [task for task in asyncio.all_tasks() if task.get_name() == "warm-up-answers"]
        await warming
        stories_read: list[str] = []

        def record(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if "story_views.article_ids" in statement:
                stories_read.append(statement)

        event.listen(core.engine.sync_engine, "before_cursor_execute", record)
        try:
            (member,) = await core.delivery.reported_members()
        finally:
            event.remove(core.engine.sync_engine, "before_cursor_execute", record)
    assert member.country.key == "KZ"
    assert stories_read == []
