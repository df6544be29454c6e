"""Where the event loop was held (`python bench/ingest.py --stalls 35`): the tool that found this project's long holds.

A task beats every 2 ms; a thread looks every 3 ms, and once the beat is older than the threshold, it records
where the loop's thread is (the innermost frames of the bot's code, and the innermost frame of all) and then, when
the beat comes again, how long the hold lasted and whether a full collection of the garbage collector ran in it.
The thread takes the GIL to look, so a hold in Python code is caught in the act; one inside a C call that keeps the
GIL is seen just after it. Only for benches: a thread that wakes every 3 ms costs the process a little CPU.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOT = str(ROOT / "bot")


class StallWatch:
    def __init__(self, threshold_ms: float) -> None:
        self._threshold = threshold_ms / 1000
        self._beat = time.perf_counter()
        self._stalls: list[dict[str, Any]] = []
        self._collections: list[tuple[float, float]] = []  # full collections: (start, end)
        self._collection_start = 0.0
        self._stop = threading.Event()
        self._beater: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop_thread = threading.get_ident()
        self._beater = asyncio.create_task(self._beat_forever())
        gc.callbacks.append(self._on_collection)
        self._thread = threading.Thread(target=self._watch, args=(loop_thread,), name="stall-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._beater is not None:
            self._beater.cancel()
        gc.callbacks.remove(self._on_collection)
        return self._stalls

    async def _beat_forever(self) -> None:
        while True:
            self._beat = time.perf_counter()
            await asyncio.sleep(0.002)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._collection_start = time.perf_counter()
        else:
            self._collections.append((self._collection_start, time.perf_counter()))

    def _watch(self, loop_thread: int) -> None:
        held: dict[str, Any] | None = None
        while not self._stop.wait(0.003):
            beat, now = self._beat, time.perf_counter()
            if held is not None and beat != held["beat"]:  # the loop ran again: the hold is over
                held["ms"] = round((beat - held["beat"]) * 1000)
                held["gc"] = any(start < beat and end > held["beat"] for start, end in self._collections)
                del held["beat"]
                self._stalls.append(held)
                held = None
            if held is None and now - beat > self._threshold:
                frame = sys._current_frames().get(loop_thread)
                held = {"beat": beat, "where": _where(frame)}


def _where(frame: Any) -> str:
    """The innermost three frames of the bot's code, then the innermost frame of all."""
    if frame is None:
        return "?"
    frames = traceback.extract_stack(frame)
    ours = [
        f"{Path(f.filename).relative_to(BOT.rsplit('/', 1)[0])}:{f.lineno} {f.name}"
        for f in frames
        if f.filename.startswith(BOT)
    ]
    last = frames[-1]
    return " > ".join(ours[-3:]) + f" || {Path(last.filename).name}:{last.lineno} {last.name}"
