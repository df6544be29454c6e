"""Per-route buckets, the global limit of 50 requests/s, and faults injected through the control API."""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GLOBAL_LIMIT = 50  # requests per second per bot (topics/rate-limits)
# (method, route template) -> (limit, window seconds); values of the order Discord reports, not promised by it.
ROUTE_LIMITS: dict[tuple[str, str], tuple[int, float]] = {
    ("POST", "/channels/{channel_id}/messages"): (5, 5.0),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): (5, 5.0),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"): (5, 1.0),
    ("PUT", "/applications/{application_id}/commands"): (2, 1.0),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"): (2, 1.0),
}
DEFAULT_LIMIT = (50, 1.0)
# Interaction callbacks and webhook-token routes are exempt from the global limit (rate-limits.mdx:128).
EXEMPT = re.compile(r"^/(interactions/|webhooks/\d+/[^/]+)")


def retry_after_header(seconds: float) -> str:
    """Discord's Retry-After header is whole seconds, rounded up; the body's retry_after has the exact value."""
    return str(max(1, math.ceil(seconds)))


@dataclass
class Bucket:
    limit: int
    window: float
    reset_at: float = 0.0
    used: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Headers for the answer, and the 429 body when the request is refused."""

    headers: dict[str, str]
    refusal: dict[str, Any] | None = None
    is_global: bool = False


class RateLimiter:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self.recent: deque[float] = deque()
        self.limited = 0
        self.global_limited = 0

    def reset(self) -> None:
        self.buckets.clear()
        self.recent.clear()
        self.limited = self.global_limited = 0

    def check(self, method: str, template: str, major: str, path: str) -> Verdict:
        now = self.clock()
        if not EXEMPT.match(path):
            while self.recent and self.recent[0] <= now - 1.0:
                self.recent.popleft()
            if len(self.recent) >= GLOBAL_LIMIT:
                retry = round(self.recent[0] + 1.0 - now, 3)
                self.limited += 1
                self.global_limited += 1
                body = {"message": "You are being rate limited.", "retry_after": retry, "global": True, "code": 0}
                headers = {
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                    "Retry-After": retry_after_header(retry),
                }
                return Verdict(headers, body, is_global=True)
            self.recent.append(now)
        limit, window = ROUTE_LIMITS.get((method, template), DEFAULT_LIMIT)
        bucket_id = hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]
        bucket = self.buckets.setdefault(f"{bucket_id}:{major}", Bucket(limit, window))
        if now >= bucket.reset_at:
            bucket.reset_at, bucket.used = now + window, 0
        reset_after = max(bucket.reset_at - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Bucket": bucket_id,
            "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        if bucket.used >= limit:
            self.limited += 1
            headers |= {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Scope": "user",
                "Retry-After": retry_after_header(reset_after),
            }
            body = {"message": "You are being rate limited.", "retry_after": round(reset_after, 3), "global": False}
            return Verdict(headers, body)
        bucket.used += 1
        headers["X-RateLimit-Remaining"] = str(limit - bucket.used)
        return Verdict(headers)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    count: int
    body: dict[str, Any] | None = None
    after: bool = False  # carry the request out, then answer with the fault: the work is done, the answer lost
    stall: float = 0.0  # hold the request this long with no answer first (status 0: then carry it out as usual)

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and self.method in (method, "*") and self.path.search(path) is not None


@dataclass
class Faults:
    """The next `count` matching requests fail with the given status (control API /faults)."""

    pending: list[Fault] = field(default_factory=list)

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.pending:
            if fault.matches(method, path):
                fault.count -= 1
                return fault
        return None
