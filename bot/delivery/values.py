"""Delivery's values: what the Discord layer gets back from `bot.delivery.service.Delivery`.

Frozen dataclasses; ids are plain ints (no Discord types); every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bot.countries import Country
from bot.news.models import EventKind, SourceState, Story
from bot.news.topics import DEFAULT_TOPIC_NAME

Mode = Literal["digest", "alerts", "both"]
MODES: tuple[Mode, ...] = ("digest", "alerts", "both")
# digest: one part of a digest; alert: a story's alert; edit: the alert edited as its story grew; summary: the
# stories past a channel's per-round alert cap, listed in one message.
DeliveryKind = Literal["digest", "alert", "edit", "summary"]

# The alert threshold when a subscription sets none. Scores (bot.news.stories.score) are
# W(kind) x (1 + log2(independent outlets, counted up to 3)) and do not change with time: W = 3 for a new accession
# (intent, joining, signing) or a suspension, 2 for ratification or recognition, 1.5 talks, 1 a statement or a
# follow-up about a country already in, 0.8 no event. 4.5 alerts a new accession or a suspension from two outlets
# (6.0) and a ratification or recognition from three (5.17); never talks, statements, follow-ups or one outlet alone.
DEFAULT_ALERT_THRESHOLD = 4.5
DEFAULT_SCHEDULE = "daily 09:00"
MAX_TOPICS = 25  # per server, the built-in one included (also Discord's cap on autocomplete choices)
MAX_SOURCES = 20  # per server, enabled ones
ALERTS_PER_ROUND = 5  # new alerts one channel gets from one planning round; more are listed in one summary


class DeliveryError(Exception):
    """A request delivery refuses; `message` is fit to show the user, `position` points into `query`."""

    def __init__(self, message: str, position: int | None = None, query: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.query = query


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A server's watched topic; `builtin` is the bot's default topic (its query follows the bot's version)."""

    guild_id: int
    name: str
    query: str
    builtin: bool
    created_at: datetime

    @property
    def tag(self) -> str:
        """The name stories carry when they match this topic (bot.news.pipeline matches it under this name)."""
        return DEFAULT_TOPIC_NAME if self.builtin else f"{self.guild_id}:{self.name}"


@dataclass(frozen=True, slots=True)
class QueryHit:
    """A stored story a query matches, and the query's terms it matched (why)."""

    story: Story
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One channel's delivery settings. `topics` None means all of the server's topics."""

    id: int
    guild_id: int
    channel_id: int
    mode: Mode
    schedule: str | None  # canonical text (bot.delivery.schedules); None for alerts only
    timezone: str  # IANA name
    min_importance: float | None  # None: DEFAULT_ALERT_THRESHOLD
    role_id: int | None
    topics: tuple[str, ...] | None
    quiet_hours: str | None  # canonical text (bot.delivery.quiet_hours)
    paused_reason: str | None
    paused_at: datetime | None
    last_digest_at: datetime | None
    created_at: datetime
    last_digest_seq: int | None = None  # the news change number the last digest covered
    digest_slot: datetime | None = None  # the scheduled time of the last digest run claimed

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def digests(self) -> bool:
        return self.mode in ("digest", "both")

    @property
    def alerts(self) -> bool:
        return self.mode in ("alerts", "both")

    @property
    def threshold(self) -> float:
        return DEFAULT_ALERT_THRESHOLD if self.min_importance is None else self.min_importance


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """The stories of one digest, most important first, and those of the period already posted as alerts in the
    channel (listed in one line); empty when nothing new came since the last digest. `until_seq` is the news
    change number it covers up to; `since` and `until` the times shown."""

    subscription: Subscription
    stories: tuple[Story, ...]
    since: datetime
    until: datetime
    until_seq: int = 0
    alerted: tuple[Story, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.stories and not self.alerted


@dataclass(frozen=True, slots=True)
class AlertAction:
    """Post a new alert (`send`) or edit the one already posted (`edit`, `message_id` set) to show `version`."""

    action: Literal["send", "edit"]
    subscription: Subscription
    story: Story
    version: str
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """An outbox record not yet confirmed sent: send (or, for `edit`, edit `message_id`) with this `nonce`."""

    id: int
    subscription_id: int
    channel_id: int
    kind: DeliveryKind
    story_ids: tuple[int, ...]
    part: int
    parts: int
    nonce: str
    batch: str | None
    covers_until: datetime | None
    message_id: int | None
    story_version: str | None
    created_at: datetime
    error: str | None = None  # the last transient refusal (429, 5xx, a timeout): it is being retried
    guild_id: int | None = None
    attempts: int = 0
    attempted_at: datetime | None = None  # the first try: Discord may have posted it even if we never heard back
    covers_until_seq: int | None = None
    also_ids: tuple[int, ...] = ()  # a digest part's one-line list of stories already sent as alerts


@dataclass(frozen=True, slots=True)
class UnfinishedDigest:
    """A digest whose parts were recorded and not all sent: send `remaining` in order to finish it."""

    subscription_id: int
    channel_id: int
    batch: str
    parts: int
    remaining: tuple[PendingDelivery, ...]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A server's own feed."""

    id: int
    guild_id: int
    url: str
    name: str
    added_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source's last fetch as `/status` shows it; `guild_id` None for the operator's sources."""

    url: str
    guild_id: int | None
    state: SourceState
    name: str | None = None
    disabled_reason: str | None = None

    @property
    def failing(self) -> bool:
        return self.state.consecutive_failures > 0 or self.disabled_reason is not None


@dataclass(frozen=True, slots=True)
class NextDigest:
    channel_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryTrouble:
    """A message not delivered: `retrying` (refused for now: rate limit, server error, timeout) or `failed`."""

    channel_id: int
    kind: DeliveryKind
    state: Literal["retrying", "failed"]
    error: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GuildStatus:
    """What `/status` shows for one server."""

    sources: tuple[SourceHealth, ...]  # the operator's, then the server's
    next_digests: tuple[NextDigest, ...]  # soonest first
    paused: tuple[Subscription, ...]
    failing_sources: tuple[SourceHealth, ...]  # the server's own sources that fail or were disabled
    undelivered: tuple[DeliveryTrouble, ...] = ()  # messages being retried or given up on lately, newest first
    last_poll: datetime | None = None  # the latest fetch of any source, by whichever process polls


@dataclass(frozen=True, slots=True)
class ReportedMember:
    """A country the news reports joining, signing or intending to join: shown as reported, never as a member."""

    country: Country
    kind: EventKind
    date: date
    outlets: tuple[str, ...]
    story_id: int
