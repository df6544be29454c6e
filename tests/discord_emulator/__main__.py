"""`python -m tests.discord_emulator --port 8765`: serve the emulator until stopped, printing how to reach it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.discord_emulator.server import Emulator


async def serve(port: int, token: str | None) -> None:
    emulator = Emulator(port=port, token=token)
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
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.token))


if __name__ == "__main__":
    main()
