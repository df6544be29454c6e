"""`python -m bot [run|worker|gateway|migrate|check ...]`: the bot's command line.

Its imports are made where they are needed: every worker process that parses feeds (bot.news.work, spawned) runs
this module again as `__mp_main__`, and settings at the top brought pydantic into each (55 MB a worker, not 30)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Accord Watch Discord bot")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the whole bot in one process (the default)")
    commands.add_parser(
        "worker", help="a fleet's poller: read the sources and build stories, no Discord (PostgreSQL only)"
    )
    commands.add_parser(
        "gateway", help="a fleet's Discord side: the shards SHARD_IDS of SHARD_COUNT and their delivery (PostgreSQL)"
    )
    commands.add_parser("migrate", help="apply database migrations and exit")
    from bot.news import check

    check.add_arguments(
        commands.add_parser(
            "check",
            help="read feeds once and print the stories found (no Discord, no database)",
            description="Fetch the given feeds once (a folder means every feed file in it; none means the built-in "
            "sources), run the news pipeline into a temporary in-memory store and print the stories found.",
        )
    )
    return parser


def _check(args: argparse.Namespace) -> int:
    """`check` needs no settings: no token, no configured database (a temporary in-memory store)."""
    import logging

    from bot import aio
    from bot.news.check import run_check

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return aio.run(run_check(args))
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "check":
        return _check(args)
    from bot import aio, app
    from bot.settings import SettingsError, configure_logging, load_settings

    role: app.Role = "all" if command == "run" else command  # type: ignore[assignment]
    try:
        settings = load_settings()
        if command != "migrate":
            app.check_role(settings, role)  # fail fast, before any connection is made
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.LOG_LEVEL)

    try:
        aio.run(app.migrate_only(settings) if command == "migrate" else app.run(settings, role))
    except KeyboardInterrupt:
        pass
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except app.StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
