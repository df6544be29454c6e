"""Health and metrics for an operator: `/healthz` for the orchestrator, `/metrics` for Prometheus.

Each process serves its own numbers on its own `HEALTH_PORT`; Prometheus scrapes every process and sums. Nothing
here knows Discord or the database: the bot calls `Metrics`' methods where things happen, and hands `HealthServer`
an async `checks` callable that says what is wrong with its role right now.

`Metrics` owns its registry (not prometheus_client's global one), so several instances (tests, or roles run in one
process) never clash, and callers never touch prometheus objects: a typo in a label is a type error, not a new
time series.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Literal, get_args

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from bot.aio import cancel

log = logging.getLogger(__name__)

PollResult = Literal["ok", "failed", "stopped"]
MessageOutcome = Literal["sent", "failed", "retried", "adopted"]
# Why a message was given up on: "forbidden" (403, missing access or permission), "gone" (404, the channel or the
# message was deleted), "invalid" (400, Discord refused the message itself), "gave_up" (429/5xx retried until the
# retry window ran out), "other" (anything else).
FailReason = Literal["forbidden", "gone", "invalid", "gave_up", "other"]
RateLimitScope = Literal["route", "global"]

POLL_RESULTS: Final[tuple[PollResult, ...]] = get_args(PollResult)
MESSAGE_OUTCOMES: Final[tuple[MessageOutcome, ...]] = get_args(MessageOutcome)
FAIL_REASONS: Final[tuple[FailReason, ...]] = get_args(FailReason)
RATE_LIMIT_SCOPES: Final[tuple[RateLimitScope, ...]] = get_args(RateLimitScope)
SOURCE_HEALTHS: Final[tuple[str, ...]] = ("ok", "failing", "disabled")

# A poll reads every source: from a second (all 304s) to minutes (a slow feed held to its timeout).
POLL_BUCKETS: Final = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Discord drops an interaction not answered (or deferred) within 3 s: fine steps up to it, and one past it.
COMMAND_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
# A healthy loop wakes within a millisecond or two; tens of ms is CPU work holding it; a second is an outage.
LOOP_LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _refuse_unknown(kind: str, value: str, allowed: Sequence[str]) -> None:
    """Untyped callers exist (a value read from an exception); refuse a label that would start a stray series."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; expected one of {', '.join(allowed)}")


class Metrics:
    """The bot's Prometheus metrics, all named `accordwatch_*`, in a registry of their own, beside the standard
    `process_*` (memory, CPU, open files), `python_gc_*` and `python_info` that the global registry would have had.

    Every labelled series is created at zero up front, so `rate()` and alerts see a series before its first event.
    `now` gives wall-clock seconds for the last-successful-poll timestamp (a seam for tests).
    """

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._now = now
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._polls = Counter("accordwatch_polls", "Polls finished, by result", ["result"], registry=r)
        self._poll_seconds = Histogram(
            "accordwatch_poll_duration_seconds", "How long a poll took", buckets=POLL_BUCKETS, registry=r
        )
        self._last_poll_ok = Gauge(
            "accordwatch_last_poll_ok_timestamp_seconds",
            "Unix time at which the last successful poll finished (0: none yet in this process)",
            registry=r,
        )
        self._sources = Gauge("accordwatch_sources", "Sources by health", ["health"], registry=r)
        self._stories = Gauge("accordwatch_stories", "Stories stored", registry=r)
        self._messages = Counter("accordwatch_messages", "Messages by outcome", ["outcome"], registry=r)
        self._failed = Counter("accordwatch_messages_failed", "Messages given up on, by reason", ["reason"], registry=r)
        self._pending = Gauge("accordwatch_messages_pending", "Messages in the outbox not yet sent", registry=r)
        self._rate_limited = Counter(
            "accordwatch_rate_limited", "429 answers from Discord, by scope", ["scope"], registry=r
        )
        self._command_seconds = Histogram(
            "accordwatch_command_duration_seconds",
            "Time from a slash command's arrival to its first answer (Discord's deadline is 3 s)",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self._loop_lag = Histogram(
            "accordwatch_event_loop_lag_seconds",
            "How late the event loop woke a timer",
            buckets=LOOP_LAG_BUCKETS,
            registry=r,
        )
        self._loop_lag_last = Gauge(
            "accordwatch_event_loop_lag_last_seconds", "The last event-loop lag measured", registry=r
        )
        for result in POLL_RESULTS:
            self._polls.labels(result)
        for health in SOURCE_HEALTHS:
            self._sources.labels(health)
        for outcome in MESSAGE_OUTCOMES:
            self._messages.labels(outcome)
        for reason in FAIL_REASONS:
            self._failed.labels(reason)
        for scope in RATE_LIMIT_SCOPES:
            self._rate_limited.labels(scope)

    def poll_finished(self, result: PollResult, seconds: float) -> None:
        """A poll ended: counted by result, its duration observed; an "ok" one also stamps the last-success time."""
        _refuse_unknown("poll result", result, POLL_RESULTS)
        self._polls.labels(result).inc()
        self._poll_seconds.observe(seconds)
        if result == "ok":
            self._last_poll_ok.set(self._now())

    def set_sources(self, ok: int, failing: int, disabled: int) -> None:
        self._sources.labels("ok").set(ok)
        self._sources.labels("failing").set(failing)
        self._sources.labels("disabled").set(disabled)

    def set_stories(self, count: int) -> None:
        self._stories.set(count)

    def message(self, outcome: MessageOutcome, reason: FailReason | None = None) -> None:
        """One message's outcome. A "failed" one needs its reason, and only a failed one has one."""
        _refuse_unknown("message outcome", outcome, MESSAGE_OUTCOMES)
        if (outcome == "failed") != (reason is not None):
            raise ValueError("a reason goes with a failed message, and only with one")
        if reason is not None:
            _refuse_unknown("failure reason", reason, FAIL_REASONS)
            self._failed.labels(reason).inc()
        self._messages.labels(outcome).inc()

    def set_pending(self, count: int) -> None:
        self._pending.set(count)

    def rate_limited(self, scope: RateLimitScope) -> None:
        """Discord answered 429: "route" for a bucket's limit, "global" for the token's 50 requests/s."""
        _refuse_unknown("rate-limit scope", scope, RATE_LIMIT_SCOPES)
        self._rate_limited.labels(scope).inc()

    def command_answered(self, command: str, seconds: float) -> None:
        """`command` is the full name as typed ("watch add"): a small fixed set, fit for a label."""
        self._command_seconds.labels(command).observe(seconds)

    def loop_lag(self, seconds: float) -> None:
        self._loop_lag.observe(seconds)
        self._loop_lag_last.set(seconds)

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes (content type: `CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)


class LoopLagProbe:
    """Measures how late the event loop wakes a sleeping task: the time a callback waits behind CPU work on the loop,
    which is what makes a slash command miss Discord's 3 s deadline."""

    def __init__(self, metrics: Metrics, interval: float = 0.5) -> None:
        self._metrics = metrics
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-probe")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    async def _run(self) -> None:
        while True:
            # perf_counter, not loop.time(): uvloop's clock is in milliseconds and cached per loop iteration.
            started = time.perf_counter()
            await asyncio.sleep(self._interval)
            self._metrics.loop_lag(max(0.0, time.perf_counter() - started - self._interval))


Checks = Callable[[], Awaitable[list[str]]]


class HealthServer:
    """`GET /healthz` and `GET /metrics` over HTTP, started and stopped by the role that owns it.

    `checks` returns what is wrong (one short sentence each); none means healthy: 200 `ok`. Otherwise 503 with the
    problems, one per line. A check that raises or does not answer within `check_timeout` is a 503 that says so:
    never a 500, never a hang (a check that ignores its cancellation is left to finish on its own).
    """

    def __init__(
        self,
        port: int,
        *,
        checks: Checks,
        metrics: Metrics,
        host: str = "0.0.0.0",  # inside a container the probe comes from outside it
        check_timeout: float = 2.0,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._checks = checks
        self._metrics = metrics
        self._check_timeout = check_timeout
        self._runner: web.AppRunner | None = None
        self._lingering: set[asyncio.Task[list[str]]] = set()

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose when asked for 0)."""
        if self._runner is None:
            raise RuntimeError("the health server is not started")
        address = self._runner.addresses[0]
        return int(address[1])

    async def start(self) -> None:
        """Bind and serve; raises OSError when the port is taken."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        # No access log: a scrape every few seconds would drown the bot's own log.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        for task in list(self._lingering):
            task.cancel()

    async def problems(self) -> list[str]:
        """What `/healthz` reports: the checks' problems, or why the checks themselves gave none."""
        task = asyncio.create_task(self._run_checks(), name="health-checks")
        try:
            await asyncio.wait({task}, timeout=self._check_timeout)
        finally:
            if not task.done():
                task.cancel()
                # Hold it until it ends: a check that ignores its cancellation must not be collected mid-run.
                self._lingering.add(task)
                task.add_done_callback(self._forget)
        if not task.done():
            return [f"health check did not answer within {self._check_timeout:g} s"]
        if task.cancelled():
            return ["health check was cancelled"]
        error = task.exception()
        if error is not None:
            log.warning("health check failed", exc_info=error)
            return [f"health check failed: {type(error).__name__}: {error}"]
        return task.result()

    async def _run_checks(self) -> list[str]:
        return list(await self._checks())

    def _forget(self, task: asyncio.Task[list[str]]) -> None:
        self._lingering.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("health check failed after its timeout", exc_info=task.exception())

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = await self.problems()
        if not problems:
            return web.Response(text="ok")
        return web.Response(status=503, text="\n".join(problems))

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
