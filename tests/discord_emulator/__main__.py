"""`python -m tests.discord_emulator --port 8765`: serve the emulator until stopped, printing how to reach it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.discord_emulator.gateway import PRIVILEGED, SERVERS_PER_SHARD
from tests.discord_emulator.server import Emulator


async def serve(args: argparse.Namespace) -> None:
    emulator = Emulator(
        port=args.port,
        token=args.token,
        privileged_intents=args.privileged_intents,
        servers_per_shard=args.servers_per_shard,
        recommended_shards=args.shards,
    )
    await emulator.start()
    print(f"DISCORD_API_BASE={emulator.api_base}")
    print(f"DISCORD_GATEWAY_URL={emulator.gateway_url}")
    print(f"DISCORD_TOKEN={emulator.token}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.discord_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--token", default=None, help="the bot token to accept (default: a random one)")
    parser.add_argument(
        "--privileged-intents",
        type=_intents,
        default=[],
        metavar="NAMES",
        help=f"comma-separated privileged intents the application is approved for ({', '.join(PRIVILEGED)}); "
        "IDENTIFY with another is closed with 4014 (default: none)",
    )
    parser.add_argument(
        "--servers-per-shard",
        type=_positive,
        default=SERVERS_PER_SHARD,
        help=f"most servers one shard may hold, else IDENTIFY is closed with 4011 (default {SERVERS_PER_SHARD})",
    )
    parser.add_argument(
        "--shards",
        type=_positive,
        default=None,
        help="shards GET /gateway/bot recommends (default: 1 per 1,000 servers)",
    )
    args = parser.parse_args()
    asyncio.run(serve(args))


def _intents(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PRIVILEGED]
    if unknown:
        raise argparse.ArgumentTypeError(f"not a privileged intent: {', '.join(unknown)} (use {', '.join(PRIVILEGED)})")
    return names


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


if __name__ == "__main__":
    main()
