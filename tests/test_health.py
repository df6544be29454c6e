"""/healthz and /metrics over real HTTP on a free port; the metrics' names and labels; the event-loop lag probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.health import HealthServer, LoopLagProbe, Metrics

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts a HealthServer on 127.0.0.1, port 0, and gives its base URL; stops every one it started."""
    servers: list[HealthServer] = []

    async def start(
        checks: Callable[[], Awaitable[list[str]]], *, metrics: Metrics | None = None, check_timeout: float = 2.0
    ) -> str:
        server = HealthServer(
            0, host="127.0.0.1", checks=checks, metrics=metrics or Metrics(), check_timeout=check_timeout
        )
        await server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.stop()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def healthy() -> list[str]:
    return []


async def test_healthy_is_200_ok(serve: Serve) -> None:
    status, _, body = await get(f"{await serve(healthy)}/healthz")
    assert (status, body) == (200, "ok")


async def test_problems_are_503_one_per_line(serve: Serve) -> None:
    async def two_problems() -> list[str]:
        return ["database unreachable: connection refused", "shard 2 not connected"]

    status, _, body = await get(f"{await serve(two_problems)}/healthz")
    assert status == 503
    assert body.splitlines() == ["database unreachable: connection refused", "shard 2 not connected"]


async def test_the_checks_run_at_each_request(serve: Serve) -> None:
    problems: list[str] = []

    async def current() -> list[str]:
        return list(problems)

    base = await serve(current)
    assert (await get(f"{base}/healthz"))[0] == 200
    problems.append("last poll 31 min ago (limit 30 min)")
    assert (await get(f"{base}/healthz"))[::2] == (503, "last poll 31 min ago (limit 30 min)")


async def test_a_raising_check_is_503_with_its_error(serve: Serve) -> None:
    async def broken() -> list[str]:
        raise ConnectionRefusedError("no database at db.internal:5432")

    status, _, body = await get(f"{await serve(broken)}/healthz")
    assert status == 503
    assert body == "health check failed: ConnectionRefusedError: no database at db.internal:5432"


async def test_a_slow_check_is_503_within_the_timeout(serve: Serve) -> None:
    cancelled = asyncio.Event()

    async def hung() -> list[str]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return []

    status, _, body = await asyncio.wait_for(get(f"{await serve(hung, check_timeout=0.2)}/healthz"), 5)
    assert (status, body) == (503, "health check did not answer within 0.2 s")
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_a_check_that_ignores_its_cancellation_still_gets_503_in_time(serve: Serve) -> None:
    """asyncio.timeout() alone would wait the 5 s for such a check, and then report it healthy."""

    async def stubborn() -> list[str]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(5)  # the server's stop() cancels it again, and that one ends it
        return []

    base = await serve(stubborn, check_timeout=0.2)
    status, _, body = await asyncio.wait_for(get(f"{base}/healthz"), 3)
    assert (status, body) == (503, "health check did not answer within 0.2 s")


async def test_a_check_cancelled_from_within_is_503_not_a_dropped_request(serve: Serve) -> None:
    async def cancelled_inside() -> list[str]:
        raise asyncio.CancelledError  # e.g. a pool's connection attempt cancelled by its own timeout

    assert (await get(f"{await serve(cancelled_inside)}/healthz"))[::2] == (503, "health check was cancelled")


async def test_unknown_paths_are_404(serve: Serve) -> None:
    assert (await get(f"{await serve(healthy)}/"))[0] == 404


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The exposition parsed by prometheus_client's own parser: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_page_shows_each_metric_after_its_call(serve: Serve) -> None:
    metrics = Metrics(now=lambda: 1_767_225_600.0)
    base = await serve(healthy, metrics=metrics)
    status, content_type, before = await get(f"{base}/metrics")
    assert (status, content_type) == (200, CONTENT_TYPE_LATEST)
    assert samples(before)[("accordwatch_polls_total", (("result", "failed"),))] == 0  # present before any poll

    metrics.poll_finished("ok", 4.2)
    metrics.poll_finished("failed", 0.7)
    metrics.poll_finished("stopped", 0.1)
    metrics.set_sources(ok=41, failing=3, disabled=1)
    metrics.set_stories(1234)
    metrics.message("sent")
    metrics.message("sent")
    metrics.message("retried")
    metrics.message("adopted")
    metrics.message("failed", reason="forbidden")
    metrics.message("failed", reason="gave_up")
    metrics.set_pending(17)
    metrics.rate_limited("route")
    metrics.rate_limited("global")
    metrics.command_answered("watch add", 0.3)
    metrics.command_answered("watch add", 2.8)
    metrics.loop_lag(0.02)

    got = samples((await get(f"{base}/metrics"))[2])
    expected = {
        ("accordwatch_polls_total", (("result", "ok"),)): 1,
        ("accordwatch_polls_total", (("result", "failed"),)): 1,
        ("accordwatch_polls_total", (("result", "stopped"),)): 1,
        ("accordwatch_poll_duration_seconds_count", ()): 3,
        ("accordwatch_poll_duration_seconds_sum", ()): pytest.approx(5.0),
        ("accordwatch_poll_duration_seconds_bucket", (("le", "1.0"),)): 2,
        ("accordwatch_last_poll_ok_timestamp_seconds", ()): 1_767_225_600.0,
        ("accordwatch_sources", (("health", "ok"),)): 41,
        ("accordwatch_sources", (("health", "failing"),)): 3,
        ("accordwatch_sources", (("health", "disabled"),)): 1,
        ("accordwatch_stories", ()): 1234,
        ("accordwatch_messages_total", (("outcome", "sent"),)): 2,
        ("accordwatch_messages_total", (("outcome", "retried"),)): 1,
        ("accordwatch_messages_total", (("outcome", "adopted"),)): 1,
        ("accordwatch_messages_total", (("outcome", "failed"),)): 2,
        ("accordwatch_messages_failed_total", (("reason", "forbidden"),)): 1,
        ("accordwatch_messages_failed_total", (("reason", "gave_up"),)): 1,
        ("accordwatch_messages_failed_total", (("reason", "gone"),)): 0,
        ("accordwatch_messages_pending", ()): 17,
        ("accordwatch_rate_limited_total", (("scope", "route"),)): 1,
        ("accordwatch_rate_limited_total", (("scope", "global"),)): 1,
        ("accordwatch_command_duration_seconds_count", (("command", "watch add"),)): 2,
        ("accordwatch_command_duration_seconds_bucket", (("command", "watch add"), ("le", "2.5"))): 1,
        ("accordwatch_command_duration_seconds_bucket", (("command", "watch add"), ("le", "3.0"))): 2,
        ("accordwatch_event_loop_lag_seconds_count", ()): 1,
        ("accordwatch_event_loop_lag_last_seconds", ()): 0.02,
    }
    assert {key: got.get(key) for key in expected} == expected


def test_every_metric_is_named_and_explained() -> None:
    families = {family.name: family for family in text_string_to_metric_families(Metrics().render().decode())}
    assert {name for name in families if name.startswith("accordwatch_") and not name.endswith("_created")} == {
        "accordwatch_polls",
        "accordwatch_poll_duration_seconds",
        "accordwatch_last_poll_ok_timestamp_seconds",
        "accordwatch_sources",
        "accordwatch_stories",
        "accordwatch_messages",
        "accordwatch_messages_failed",
        "accordwatch_messages_pending",
        "accordwatch_rate_limited",
        "accordwatch_command_duration_seconds",
        "accordwatch_event_loop_lag_seconds",
        "accordwatch_event_loop_lag_last_seconds",
    }
    assert all(family.documentation for family in families.values())
    # The standard process metrics the global registry would have carried (memory, CPU) are kept.
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= families.keys()


def test_two_instances_do_not_share_numbers() -> None:
    first, second = Metrics(), Metrics()
    first.set_stories(5)
    assert first.registry.get_sample_value("accordwatch_stories") == 5
    assert second.registry.get_sample_value("accordwatch_stories") == 0


def test_labels_outside_the_fixed_sets_are_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="unknown poll result 'partial'"):
        metrics.poll_finished("partial", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown failure reason 'timeout'"):
        metrics.message("failed", reason="timeout")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown rate-limit scope 'shared'"):
        metrics.rate_limited("shared")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a reason goes with a failed message"):
        metrics.message("failed")
    with pytest.raises(ValueError, match="a reason goes with a failed message"):
        metrics.message("sent", reason="gone")
    assert "partial" not in metrics.render().decode()
    assert metrics.registry.get_sample_value("accordwatch_messages_total", {"outcome": "failed"}) == 0


def test_a_poll_that_did_not_succeed_leaves_the_last_success_time() -> None:
    clock = [100.0]
    metrics = Metrics(now=lambda: clock[0])
    metrics.poll_finished("ok", 1.0)
    clock[0] = 200.0
    metrics.poll_finished("failed", 1.0)
    metrics.poll_finished("stopped", 1.0)
    assert metrics.registry.get_sample_value("accordwatch_last_poll_ok_timestamp_seconds") == 100.0


async def test_loop_lag_probe_sees_a_blocked_loop() -> None:
    metrics = Metrics()
    value = metrics.registry.get_sample_value
    probe = LoopLagProbe(metrics, interval=0.05)
    await probe.start()
    try:
        await asyncio.sleep(0.01)  # the probe is asleep, due to wake within 0.05 s
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point
        await asyncio.sleep(0.02)  # the probe wakes first, at least 0.25 s late
        assert (value("accordwatch_event_loop_lag_last_seconds") or 0) >= 0.25
        count = value("accordwatch_event_loop_lag_seconds_count") or 0
        assert count - (value("accordwatch_event_loop_lag_seconds_bucket", {"le": "0.1"}) or 0) >= 1
    finally:
        await probe.stop()
    await asyncio.sleep(0.15)
    assert value("accordwatch_event_loop_lag_seconds_count") == count  # stopped: no more measurements
