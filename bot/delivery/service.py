"""Delivery: what to send where and when. The API the Discord layer calls; it knows nothing of Discord.

What each server sees is its view of each story (bot.news.visibility, read through bot.store.views): alerts,
digests, /latest, /story, /watch test and reported events are all built from views, never from other servers'
sources. Reported facts (/members, /timeline) read only the public views: a server's own sources never make one.

Exactly once, by an outbox (`deliveries`):
1. Planning is durable and idempotent. Every (channel, story) owed an alert is derived from the database (the
   views, the subscriptions, `alerts_sent`, the outbox) by `plan_alerts`, and `record_alerts` writes what is owed
   as outbox rows, each with a key (`dedup_key`) that a second planning, in this process or another, cannot write
   again. A digest run is claimed by its scheduled slot in the same transaction that records its parts, so two
   processes never both send it. Nothing is owed only in memory: after a crash, a restart plans it again.
2. Sending claims rows (`claim`: a lease, so that two processes never hold one row) and sends each with its nonce
   and `enforce_nonce`; only after Discord accepted it, `mark_sent` records the message. A permanent refusal is
   `mark_failed` (with `pause` or `remove_channel`); a transient one is `note_retry`, tried again later.
3. A row whose first try is older than Discord's nonce window (a few minutes) may have been posted with no answer
   heard: before sending it again, the Discord layer looks for it in the channel and adopts it (`mark_sent`).
What that gives:
- a story is recorded as delivered to a channel (alerts: `alerts_sent`; digests: the subscription's
  `last_digest_seq`) only inside `mark_sent`, so a crash before it loses nothing;
- a digest counts as done only when all its parts are sent; planning never repeats stories that a recorded
  digest already carries; a failed part fails the rest of its digest and the next digest carries them;
- digests select by news change number (`fresh_seq`), not by time: a number becomes visible only when all smaller
  ones are (bot.store.schema.counters), so a digest that runs while a poll is writing can never skip its stories.

Which stories: a story's view counts from the moment it first held a *fresh* article, one whose own published
time was within `max_article_age` of when that view's sources first carried it. A view made only of old articles
(a feed republishing its archive, a newly added source) is stored and searchable but never delivered.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.accords.model import TimelineEvent
from bot.aio import Breather
from bot.countries import by_key
from bot.delivery._wallclock import ScheduleError
from bot.delivery.quiet_hours import parse_quiet_hours
from bot.delivery.schedules import latest_at_or_before, parse_schedule
from bot.delivery.store import DeliveryStore
from bot.delivery.timezones import parse_timezone
from bot.delivery.values import (
    ALERTS_PER_ROUND,
    DEFAULT_SCHEDULE,
    MAX_SOURCES,
    MAX_TOPICS,
    MODES,
    AlertAction,
    DeliveryError,
    DigestPlan,
    GuildStatus,
    NextDigest,
    PendingDelivery,
    QueryHit,
    ReportedMember,
    SourceHealth,
    SourceInfo,
    Subscription,
    TopicInfo,
    UnfinishedDigest,
)
from bot.news.matching import Topic
from bot.news.models import EventKind, Source, SourceState, Story
from bot.news.stories import outlet_key
from bot.news.topics import DEFAULT_TOPIC_NAME, Query, QueryError, parse_query
from bot.store.news import NewsStore
from bot.store.views import StoryViews

__all__ = ["Delivery", "DeliveryError", "story_version"]

_TOPIC_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
FIRST_DIGEST_SPAN = timedelta(hours=24)
# Alerts look at stories seen in the last 48 hours: the clustering window, beyond which a story no longer grows,
# and longer than any quiet hours hold an alert.
ALERT_LOOKBACK = timedelta(hours=48)
LATEST_SPAN = timedelta(days=30)
TROUBLE_SPAN = timedelta(days=1)  # /status lists the deliveries that failed this recently
# Stories read per planning query. Far above what a day brings (the 500-feed benchmark makes about 100 stories),
# and the read is ordered by importance, so only the least important could ever be left out.
_SCAN = 5000
_REPORTED_KINDS = (EventKind.INTENT_TO_JOIN, EventKind.JOINED, EventKind.SIGNING)
_COUNTERPARTIES = frozenset({"IL", "US"})  # in nearly every story; not the country a report is about


@lru_cache(maxsize=4096)
def _parsed(text: str) -> Query:
    return parse_query(text)


def story_version(story: Story) -> str:
    """What an alert shows that can change: the number of independent outlets and the event kind."""
    outlets = len({outlet_key(article) for article in story.articles})
    return f"{outlets}:{story.event.kind.value if story.event else '-'}"


def _independent_outlets(story: Story) -> tuple[str, ...]:
    """One outlet name per independent outlet (distinct hosts, bot.news.stories.outlet_key), first seen first."""
    names: dict[str, str] = {}
    for article in sorted(story.articles, key=lambda a: (a.first_seen, a.published, a.url)):
        names.setdefault(outlet_key(article), article.outlet)
    return tuple(names.values())


class Delivery:
    """Topics, subscriptions, digests, alerts, the outbox and server sources over one database."""

    def __init__(
        self,
        engine: AsyncEngine,
        news: NewsStore,
        clock: Callable[[], datetime],
        *,
        max_article_age: timedelta | None,
        source_cap: int = MAX_SOURCES,
    ) -> None:
        self.store = DeliveryStore(engine)
        self.views = StoryViews(engine, news.read_articles)
        self._news = news
        self._clock = clock
        self._max_age = max_article_age if max_article_age else None  # 0 turns the check off
        self._source_cap = source_cap
        # min_outlets -> story id -> (the change number of its public view when read, the story, its outlets)
        self._reported: dict[int, dict[int, tuple[int, Story, tuple[str, ...]]]] = {}

    # --- topics ----------------------------------------------------------------------------------------------

    async def ensure_guild(self, guild_id: int) -> None:
        """Give a server seen for the first time its built-in topic (once: a removed built-in stays removed)."""
        await self.store.ensure_guild(guild_id, self._clock())

    async def add_topic(self, guild_id: int, name: str, query: str) -> TopicInfo:
        """Watch a new topic; DeliveryError for a bad name, a bad query (with its position), a duplicate or the cap."""
        name = name.strip().lower()
        if not _TOPIC_NAME.match(name):
            raise DeliveryError("A topic name is 1 to 32 characters: lower-case letters, digits, '-' or '_'.")
        if name == DEFAULT_TOPIC_NAME:
            raise DeliveryError(
                f"'{name}' is the built-in topic's name; `/watch reset` brings the built-in topic back."
            )
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            raise DeliveryError(exc.message, exc.position, query) from None
        await self.ensure_guild(guild_id)
        result = await self.store.add_topic(guild_id, name, parsed.text, self._clock(), MAX_TOPICS)
        if result == "cap":
            raise DeliveryError(f"A server can watch at most {MAX_TOPICS} topics; remove one first.")
        if result == "exists":
            raise DeliveryError(f"There is already a topic named '{name}'; remove it first to change its query.")
        assert not isinstance(result, str)
        return result

    async def remove_topic(self, guild_id: int, name: str) -> TopicInfo | None:
        """Stop watching a topic (None: no such topic); DeliveryError while a subscription lists it (its channel
        would go silent). The built-in topic can be removed too; `restore_builtin` brings it back."""
        name = name.strip().lower()
        users = [s for s in await self.store.subscriptions(guild_id=guild_id) if s.topics and name in s.topics]
        if users:
            raise DeliveryError(
                f"The topic '{name}' is used by {_count(len(users), 'subscription')}; subscribe those channels "
                "again without it first."
            )
        return await self.store.remove_topic(guild_id, name)

    async def restore_builtin(self, guild_id: int) -> bool:
        """Watch the built-in topic again; False when the server already does."""
        await self.ensure_guild(guild_id)
        return await self.store.restore_builtin(guild_id, self._clock())

    async def list_topics(self, guild_id: int) -> list[TopicInfo]:
        """The server's topics, the built-in first."""
        await self.ensure_guild(guild_id)
        return await self.store.topics(guild_id)

    async def test_query(self, guild_id: int, query: str, days: int = 7, limit: int = 25) -> list[QueryHit]:
        """Stories of the last `days` that the server sees and `query` matches, newest first, with the terms."""
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            raise DeliveryError(exc.message, exc.position, query) from None
        if not 1 <= days <= 30:
            raise DeliveryError("Days must be from 1 to 30.")
        since = self._clock() - timedelta(days=days)
        stories = await self.views.visible(guild_id, seen_since=since, limit=_SCAN)
        hits: list[QueryHit] = []
        for story in sorted(stories, key=lambda s: (s.first_seen, s.id), reverse=True):
            terms: dict[str, None] = {}
            for article in story.articles:
                found = parsed.match(article.title, article.summary)
                if found is not None:
                    terms.update(dict.fromkeys(found.terms))
            if terms:
                hits.append(QueryHit(story, tuple(terms)))
                if len(hits) >= limit:
                    break
        return hits

    async def all_topics(self) -> list[Topic]:
        """The poller's topics beside the built-in one: every server's own, named f"{guild_id}:{name}"."""
        topics = []
        for info in await self.store.all_custom_topics():
            try:
                topics.append(Topic(info.tag, _parsed(info.query)))
            except QueryError:  # stored by an older, laxer parser: skipped rather than failing every poll
                continue
        return topics

    # --- subscriptions ---------------------------------------------------------------------------------------

    async def subscribe(
        self,
        guild_id: int,
        channel_id: int,
        *,
        mode: str,
        schedule: str | None = None,
        timezone: str = "UTC",
        min_importance: float | None = None,
        role_id: int | None = None,
        topics: Sequence[str] | None = None,
        quiet_hours: str | None = None,
    ) -> Subscription:
        """Create or replace a channel's subscription; DeliveryError says which input is wrong and how to fix it.

        Saving a subscription again is how an admin resumes a paused channel: its messages that failed within
        MAX_ARTICLE_AGE (a missing permission, say) are tried once more."""
        if mode not in MODES:
            raise DeliveryError(f"The mode must be one of {', '.join(MODES)}.")
        digests, alerts = mode in ("digest", "both"), mode in ("alerts", "both")
        try:
            zone = parse_timezone(timezone)
            canonical_schedule = None
            if digests:
                canonical_schedule = parse_schedule(schedule or DEFAULT_SCHEDULE).text
            elif schedule:
                raise DeliveryError("A schedule is for digests; use the mode digest or both, or leave it out.")
            canonical_quiet = parse_quiet_hours(quiet_hours).text if quiet_hours else None
        except ScheduleError as exc:
            raise DeliveryError(_sentence(str(exc))) from None
        if not alerts:
            for given, what in ((min_importance, "min_importance"), (role_id, "role"), (quiet_hours, "quiet_hours")):
                if given is not None:
                    raise DeliveryError(
                        f"The option {what} is for alerts; use the mode alerts or both, or leave it out."
                    )
        if min_importance is not None and not (math.isfinite(min_importance) and 0 <= min_importance <= 100):
            raise DeliveryError("The min_importance must be a number from 0 to 100.")
        names: list[str] | None = None
        if topics is not None:
            names = list(dict.fromkeys(name.strip().lower() for name in topics if name.strip()))
            if not names:
                raise DeliveryError("Name at least one topic, or leave topics out for all of the server's topics.")
            known = {t.name for t in await self.list_topics(guild_id)}
            unknown = [name for name in names if name not in known]
            if unknown:
                noun = "Unknown topic" if len(unknown) == 1 else "Unknown topics"
                watched = ", ".join(sorted(known)) or "none"
                raise DeliveryError(f"{noun}: {', '.join(unknown)}; this server watches {watched}.")
        else:
            await self.ensure_guild(guild_id)
        values = {
            "guild_id": guild_id,
            "channel_id": channel_id,
            "mode": mode,
            "schedule": canonical_schedule,
            "timezone": zone.key,
            "min_importance": min_importance,
            "role_id": role_id,
            "topics": None if names is None else json.dumps(names),
            "quiet_hours": canonical_quiet,
        }
        now = self._clock()
        retry_since = now - (self._max_age or FIRST_DIGEST_SPAN)
        return await self.store.save_subscription(values, now, retry_failed_since=retry_since)

    async def unsubscribe(self, guild_id: int, channel_id: int) -> bool:
        """Drop a channel's subscription and its delivery records; False when it had none."""
        return await self.store.delete_subscription(channel_id, guild_id)

    async def subscriptions(self, guild_id: int) -> list[Subscription]:
        """The server's subscriptions, oldest first."""
        return await self.store.subscriptions(guild_id=guild_id)

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The channel's subscription, or None."""
        found = await self.store.subscriptions(channel_id=channel_id)
        return found[0] if found else None

    async def subscription_by_id(self, subscription_id: int) -> Subscription | None:
        """A subscription by id (what scheduler jobs hold), or None once it was removed."""
        found = await self.store.subscriptions(subscription_id=subscription_id)
        return found[0] if found else None

    async def all_active_subscriptions(self) -> list[Subscription]:
        """Every subscription not paused, of servers still with the bot: to rebuild the scheduler's jobs at start."""
        return await self.store.active_subscriptions()

    @staticmethod
    def next_digest_at(sub: Subscription, now: datetime) -> datetime | None:
        """When the subscription's next digest fires after `now` (aware UTC), or None without digests."""
        if not sub.digests or sub.schedule is None:
            return None
        return parse_schedule(sub.schedule).next_after(now, ZoneInfo(sub.timezone))

    @staticmethod
    def digest_slot(sub: Subscription, now: datetime) -> datetime | None:
        """The scheduled time of the digest due at `now` (the latest at or before it), which names the run."""
        if not sub.digests or sub.schedule is None:
            return None
        return latest_at_or_before(parse_schedule(sub.schedule), now, ZoneInfo(sub.timezone))

    # --- digests ---------------------------------------------------------------------------------------------

    async def plan_digest(self, subscription_id: int, now: datetime) -> DigestPlan:
        """The next digest of a subscription: stories its server sees, matching its topics, that first held fresh
        news after the last digest's change number (the last 24 hours for a first digest), most important first.
        Stories of the period already posted as alerts in this channel are listed apart (`alerted`)."""
        sub = await self.subscription_by_id(subscription_id)
        if sub is None:
            raise DeliveryError("This channel is no longer subscribed.")
        until_seq = await self.views.current_change()
        since = sub.last_digest_at or now - FIRST_DIGEST_SPAN
        tags = await self._tags(sub)
        if sub.last_digest_seq is None:
            found = await self.views.visible(
                sub.guild_id, fresh_since=now - FIRST_DIGEST_SPAN, fresh_upto=until_seq, topics=tags, limit=_SCAN
            )
        else:
            found = await self.views.visible(
                sub.guild_id, fresh_after=sub.last_digest_seq, fresh_upto=until_seq, topics=tags, limit=_SCAN
            )
        on_their_way = await self.store.digest_story_ids(sub.id, sub.last_digest_seq)
        alerted_ids = set(await self.store.alerted_story_ids(sub.id)) if sub.alerts else set()
        chosen: list[Story] = []
        alerted: list[Story] = []
        for story in found:
            if story.fresh_from is None or story.id in on_their_way:
                continue
            (alerted if story.id in alerted_ids else chosen).append(story)

        def rank(story: Story) -> tuple[float, float, int]:
            assert story.fresh_from is not None
            return (-story.score, -story.fresh_from.timestamp(), -story.id)

        chosen.sort(key=rank)
        alerted.sort(key=rank)
        return DigestPlan(sub, tuple(chosen), since, now, until_seq, tuple(alerted))

    async def record_digest(
        self,
        plan: DigestPlan,
        parts: Sequence[Sequence[int]],
        *,
        slot: datetime | None = None,
        claim: tuple[str, datetime] | None = None,
    ) -> list[PendingDelivery] | None:
        """Record every part of a digest (story ids per message) before sending the first; the last part also
        lists the stories already sent as alerts. With `slot` (the scheduled time of the run), the run is claimed in
        the same transaction: None when another run (another process) already claimed it. No parts marks the period
        covered at once (nothing to send). `claim` (owner, until) records the parts already claimed, for a caller
        that sends them itself."""
        sub = plan.subscription
        batch = uuid.uuid4().hex
        owner, until = claim if claim is not None else (None, None)
        rows = [
            {
                "subscription_id": sub.id,
                "guild_id": sub.guild_id,
                "channel_id": sub.channel_id,
                "kind": "digest",
                "story_ids": list(ids),
                "part": index,
                "parts": len(parts),
                "batch": batch,
                "covers_until": plan.until,
                "covers_until_seq": plan.until_seq,
                "also_ids": [story.id for story in plan.alerted] if index == len(parts) else None,
                "claimed_by": owner,
                "claimed_until": until,
            }
            for index, ids in enumerate(parts, start=1)
        ]
        return await self.store.record_digest(
            sub.id, rows, self._clock(), slot=slot, until=plan.until, until_seq=plan.until_seq
        )

    async def unfinished_digests(self) -> list[UnfinishedDigest]:
        """Digests recorded and not all sent, by batch."""
        groups: dict[str, list[PendingDelivery]] = {}
        for record in await self.store.pending("digest"):
            groups.setdefault(record.batch or f"single-{record.id}", []).append(record)
        return [
            UnfinishedDigest(
                records[0].subscription_id,
                records[0].channel_id,
                batch,
                records[0].parts,
                tuple(sorted(records, key=lambda r: r.part)),
            )
            for batch, records in groups.items()
        ]

    # --- alerts ----------------------------------------------------------------------------------------------

    async def plan_alerts(self, now: datetime, owns: Callable[[int], bool] | None = None) -> list[AlertAction]:
        """Alerts owed now, derived from the database alone: new alerts to post and posted alerts to edit, for
        every active alert subscription, each story as the channel's server sees it.

        A story is alerted once per channel when its score reaches the subscription's threshold, it matches the
        channel's topics, it holds fresh news and it was seen after the channel subscribed. An alert whose story
        gained outlets or changed event is edited. Quiet hours hold new alerts (they are planned by the first call
        after the quiet hours end); edits ping nobody, so they are not held. Pairs with a message on its way (or
        failed) are not planned again. `owns` keeps the servers this process delivers for (its shards).
        """
        subs = [s for s in await self.store.active_subscriptions() if s.alerts and (owns is None or owns(s.guild_id))]
        if not subs:
            return []
        seen = await self.views.for_guilds({s.guild_id for s in subs}, now - ALERT_LOOKBACK)
        # The messages on their way first, then those posted: a message marked sent between the two reads (its
        # pair leaves the first and enters the second in one transaction) is then in one of them. The other way
        # round it could be in neither, and be planned again: a channel got one summary twice when sends
        # overlapped planning.
        open_pairs = await self.store.open_alerts()
        sent = await self.store.alerts_sent(s.id for s in subs)
        topics = await self.store.topics_of({s.guild_id for s in subs})
        actions: list[AlertAction] = []
        breathe = Breather()
        for sub in subs:
            await breathe()
            tags = _tags(sub, topics.get(sub.guild_id, []))
            quiet = (
                parse_quiet_hours(sub.quiet_hours).contains(now, ZoneInfo(sub.timezone)) if sub.quiet_hours else False
            )
            for story in seen.get(sub.guild_id, []):
                await breathe()
                pair = (sub.id, story.id)
                if pair in open_pairs or not tags.intersection(story.topics):
                    continue
                version = story_version(story)
                if pair in sent:
                    message_id, shown = sent[pair]
                    if shown != version and shown != SUMMARIZED:
                        actions.append(AlertAction("edit", sub, story, version, message_id))
                    continue
                if quiet or story.score < sub.threshold or story.last_seen < sub.created_at:
                    continue
                if story.fresh_from is None:
                    continue
                actions.append(AlertAction("send", sub, story, version))
        actions.sort(key=lambda a: (a.action != "send", -a.story.score, a.subscription.id, a.story.id))
        return actions

    async def record_alerts(
        self, now: datetime, per_channel: int = ALERTS_PER_ROUND, *, owns: Callable[[int], bool] | None = None
    ) -> list[PendingDelivery]:
        """Plan the alerts owed and write them to the outbox (a second call records nothing twice). A channel gets
        at most `per_channel` new alerts from one round, the most important; the rest are listed in one summary
        message, so a feed that floods the bot cannot flood a channel."""
        actions = await self.plan_alerts(now, owns)
        seq = await self.views.current_change()
        rows: list[dict[str, object]] = []
        sends: dict[int, list[AlertAction]] = {}
        for action in actions:
            if action.action == "send":
                sends.setdefault(action.subscription.id, []).append(action)
            else:
                rows.append(_alert_row(action, f"edit:{action.subscription.id}:{action.story.id}:{action.version}"))
        for actions_of_channel in sends.values():
            first, rest = actions_of_channel[:per_channel], actions_of_channel[per_channel:]
            rows.extend(_alert_row(action, f"alert:{action.subscription.id}:{action.story.id}") for action in first)
            if rest:
                sub = rest[0].subscription
                rows.append(
                    {
                        "subscription_id": sub.id,
                        "guild_id": sub.guild_id,
                        "channel_id": sub.channel_id,
                        "kind": "summary",
                        "story_ids": [action.story.id for action in rest],
                        "story_version": SUMMARIZED,
                        "dedup_key": f"summary:{sub.id}:{seq}:{rest[0].story.id}",
                    }
                )
        return await self.store.record(rows, now)

    # --- the outbox ------------------------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int = 500,
        guilds: Callable[[int], bool] | None = None,
        busy: Collection[int] = (),
    ) -> list[PendingDelivery]:
        """Claim the rows due to be sent (not claimed, or their claim expired; not waiting for a retry), oldest
        first, for `lease`; `guilds` keeps only the servers this process delivers for, and the channels in `busy`
        (this process is still sending to them) are left for later."""
        return await self.store.claim(owner, now, now + lease, limit, guilds, busy)

    async def release(self, ids: Sequence[int]) -> None:
        """Give claimed rows back (not sent now: another round or process may send them)."""
        await self.store.release(ids)

    async def renew(self, ids: Sequence[int], owner: str, now: datetime, lease: timedelta) -> None:
        """Hold `owner`'s claims on these rows for `lease` more: a channel's rows sent one after another under its
        rate limit can take longer than one lease, and a claim that lapsed could be taken by another process."""
        await self.store.renew(ids, owner, now + lease)

    async def mark_attempt(self, delivery_id: int, now: datetime) -> None:
        """Right before a send: the first try's time is kept (after the nonce window, look before resending)."""
        await self.store.mark_attempt(delivery_id, now)

    async def mark_sent(self, delivery_id: int, message_id: int, now: datetime) -> bool:
        """After Discord accepted the message: record it delivered; False when it was not pending (already done)."""
        return await self.store.mark_sent(delivery_id, message_id, now)

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        """After Discord refused for good: stop resending it (a digest's other unsent parts fail with it)."""
        return await self.store.mark_failed(delivery_id, error)

    async def note_retry(self, delivery_id: int, error: str, retry_at: datetime) -> bool:
        """After a transient refusal (429, 5xx, a timeout): keep the record pending, to be sent again with its
        nonce from `retry_at`, and say why in /status."""
        return await self.store.note_retry(delivery_id, error, retry_at)

    async def pending(self) -> list[PendingDelivery]:
        """Records never marked sent or failed, oldest first."""
        return await self.store.pending()

    # --- when Discord says no --------------------------------------------------------------------------------

    async def pause(self, subscription_id: int, reason: str, now: datetime) -> bool:
        """Stop delivering to a channel (e.g. a missing permission), saying why; its pending records fail. True only
        for the call that paused it (one notice per pause)."""
        return await self.store.set_paused(subscription_id, reason, now)

    async def remove_channel(self, channel_id: int) -> bool:
        """The channel is gone (404): drop its subscription and records."""
        return await self.store.delete_subscription(channel_id)

    async def guild_removed(self, guild_id: int, now: datetime) -> None:
        """The bot left or was removed: stop delivering there; the data is kept for the grace period."""
        await self.store.mark_guild_removed(guild_id, now)

    async def guild_returned(self, guild_id: int) -> None:
        """The bot is back in the server within the grace period: everything resumes as it was."""
        await self.store.mark_guild_returned(guild_id)

    async def purge_removed_guilds(self, now: datetime, grace: timedelta = timedelta(days=30)) -> int:
        """Delete the topics, subscriptions, records and sources of servers removed longer than `grace` ago (and
        what their own sources made them see)."""
        purged, origins = await self.store.purge_guilds(now - grace)
        for origin in origins:
            await self._news.refresh_views_of_origin(origin, now)
        return purged

    # --- server sources --------------------------------------------------------------------------------------

    async def add_source(self, guild_id: int, url: str, name: str) -> SourceInfo:
        """Add a server's feed (the caller fetched it once and checked its address); re-adding enables it again.
        What that feed carried before (another server's source) becomes visible to this server at once."""
        url, name = url.strip(), _printable(" ".join(name.split()))[:200] or url.strip()[:200]
        if not url.lower().startswith(("http://", "https://")) or len(url) > 2048:
            raise DeliveryError("A source is an http(s) URL of at most 2048 characters.")
        result = await self.store.add_source(guild_id, url, name, self._clock(), self._source_cap)
        if result == "cap":
            raise DeliveryError(f"A server can add at most {self._source_cap} sources; remove one first.")
        if result == "exists":
            raise DeliveryError("This source is already added.")
        assert not isinstance(result, str)
        await self._news.refresh_views_of_origin(url, self._clock())
        return result

    async def remove_source(self, guild_id: int, url_or_name: str) -> SourceInfo | None:
        """Remove a server's feed by URL or name (None when it has no such source); its news leaves the server's
        views."""
        removed = await self.store.remove_source(guild_id, url_or_name)
        if removed is not None:
            await self._news.refresh_views_of_origin(removed.url, self._clock())
        return removed

    async def sources_to_announce(self, owns: Callable[[int], bool] | None = None) -> list[SourceInfo]:
        """Servers' sources disabled for failing whose admins were not told yet (of the servers `owns` keeps)."""
        found = await self.store.unannounced_disabled_sources()
        return [info for info in found if owns is None or owns(info.guild_id)]

    async def announced(self, source_id: int) -> None:
        """The admins were told (or could not be: the server is gone): never again for this disabling."""
        await self.store.mark_announced(source_id, self._clock())

    async def list_sources(self, guild_id: int) -> list[SourceInfo]:
        """The server's feeds, disabled ones included."""
        return await self.store.sources(guild_id)

    async def guild_sources(self) -> list[Source]:
        """The servers' enabled feeds for the poller (a URL added by several servers is fetched once)."""
        return [Source(info.url, info.name, guild_id=info.guild_id) for info in await self.store.enabled_sources()]

    async def disable_failing_sources(
        self, states: Mapping[str, SourceState] | None = None, threshold: int = 5
    ) -> list[SourceInfo]:
        """Disable the servers' feeds failing `threshold` times in a row (since last enabled); returns the newly
        disabled, so their admins can be told. `states` defaults to the news store's."""
        enabled = await self.store.enabled_sources()
        if states is None:
            states = await self._news.load_states(info.url for info in enabled)
        reasons: dict[int, str] = {}
        for info in enabled:
            state = states.get(info.url)
            if state is None or state.consecutive_failures < threshold:
                continue
            if state.last_attempt is not None and state.last_attempt <= info.added_at:
                continue  # failures from before it was enabled again
            reasons[info.id] = f"failed {state.consecutive_failures} times in a row: {state.last_error or 'unknown'}"
        return await self.store.disable_sources(reasons, self._clock())

    # --- reported events (the knowledge) ---------------------------------------------------------------------

    async def reported_events(self, min_outlets: int = 2) -> list[TimelineEvent]:
        """Accessions the news reports (intent, joining, signing) with `min_outlets` independent outlets among the
        operator's sources, newest first, as `confidence="reported"` timeline events; one per event, country, day."""
        events: dict[tuple[str, tuple[str, ...], date], TimelineEvent] = {}
        for story, outlets in await self._reported_stories(min_outlets):
            assert story.event is not None
            keys = tuple(k for k in story.event.countries if k not in _COUNTERPARTIES)
            countries = []
            for key in keys:
                try:
                    countries.append(by_key(key))
                except KeyError:
                    continue
            if not countries:
                continue
            event = TimelineEvent(
                date=story.published.date(),
                countries=tuple(countries),
                kind=story.event.kind.value,
                summary=story.title,
                source_url=story.url,
                confidence="reported",
                outlets=outlets,
            )
            same = (event.kind, tuple(c.key for c in countries), event.date)
            if same not in events or len(events[same].outlets) < len(outlets):
                events[same] = event
        return sorted(events.values(), key=lambda e: (e.date, len(e.outlets)), reverse=True)

    async def reported_members(self, min_outlets: int = 2) -> list[ReportedMember]:
        """Per country, the latest reported accession: for a "reported" heading in /members, never as a member."""
        latest: dict[str, ReportedMember] = {}
        for story, outlets in await self._reported_stories(min_outlets):
            assert story.event is not None
            for key in story.event.countries:
                if key in _COUNTERPARTIES:
                    continue
                try:
                    country = by_key(key)
                except KeyError:
                    continue
                found = ReportedMember(country, story.event.kind, story.published.date(), outlets, story.id)
                if key not in latest or latest[key].date < found.date:
                    latest[key] = found
        return sorted(latest.values(), key=lambda m: (m.date, m.country.name), reverse=True)

    async def _reported_stories(self, min_outlets: int) -> list[tuple[Story, tuple[str, ...]]]:
        """The public stories of reported accessions with at least `min_outlets` independent outlets, and those
        outlets, newest first. The members and timeline answers show them on every call, and reading hundreds of
        stories with their articles costs more than the rest of the answer: a story is read again only when its
        public view changed (its change number, read for all of them in one query without articles). During a poll,
        when views change every few seconds, an answer reads the few that changed instead of all of them again."""
        versions = await self.views.reported_versions(_REPORTED_KINDS, min_outlets)
        cached = self._reported.get(min_outlets, {})
        kept = {story_id: entry for story_id, entry in cached.items() if versions.get(story_id) == entry[0]}
        changed = [story_id for story_id in versions if story_id not in kept]
        if changed:
            read = await self.views.reported(_REPORTED_KINDS, min_outlets, only=None if not kept else changed)
            for story in read:
                # the version listed before the read: a story changed in between is read again next time
                kept[story.id] = (versions.get(story.id, -1), story, _independent_outlets(story))
        self._reported[min_outlets] = kept
        ordered = sorted(kept.values(), key=lambda entry: (entry[1].published, entry[1].id), reverse=True)
        return [
            (story, outlets) for _, story, outlets in ordered if story.event is not None and len(outlets) >= min_outlets
        ]

    # --- status and member queries ---------------------------------------------------------------------------

    async def status(self, guild_id: int, now: datetime) -> GuildStatus:
        """What /status shows: source health, the next digest per channel, paused subscriptions, failing sources."""
        own = await self.store.sources(guild_id)
        operator = await self.store.operator_source_urls()
        states = await self._news.load_states([*operator, *(s.url for s in own)])
        health = [SourceHealth(url, None, states.get(url, SourceState())) for url in operator]
        own_health = [
            SourceHealth(s.url, guild_id, states.get(s.url, SourceState()), s.name, s.disabled_reason) for s in own
        ]
        subs = await self.subscriptions(guild_id)
        upcoming = [
            NextDigest(sub.channel_id, at)
            for sub in subs
            if not sub.paused and (at := self.next_digest_at(sub, now)) is not None
        ]
        return GuildStatus(
            sources=(*health, *own_health),
            next_digests=tuple(sorted(upcoming, key=lambda n: (n.at, n.channel_id))),
            paused=tuple(sub for sub in subs if sub.paused),
            failing_sources=tuple(h for h in own_health if h.failing),
            undelivered=tuple(await self.store.troubles(guild_id, now - TROUBLE_SPAN, limit=10)),
            last_poll=max((s.last_attempt for s in states.values() if s.last_attempt is not None), default=None),
        )

    async def latest(self, guild_id: int, topic: str | None = None, count: int = 5) -> list[Story]:
        """The newest stories of the last 30 days that the server sees and its topics (or the one named) match."""
        infos = await self.list_topics(guild_id)
        if topic is not None:
            wanted = topic.strip().lower()
            infos = [t for t in infos if t.name == wanted]
            if not infos:
                raise DeliveryError(f"This server watches no topic named '{wanted}'.")
        count = max(1, min(count, 25))
        since = self._clock() - LATEST_SPAN
        tags = {t.tag for t in infos}
        return await self.views.visible(guild_id, seen_since=since, topics=tags, newest_first=True, limit=count)

    async def story(self, guild_id: int, story_id: int) -> Story | None:
        """One story as the server sees it, or None (also for a story only other servers' sources reported)."""
        found = await self.views.stories(guild_id, [story_id])
        return found[0] if found else None

    async def stories(self, guild_id: int, story_ids: Sequence[int]) -> list[Story]:
        """These stories as the server sees them, in the order asked (unknown or unseen ids left out)."""
        return await self.views.stories(guild_id, story_ids)

    # --- helpers ---------------------------------------------------------------------------------------------

    async def _tags(self, sub: Subscription) -> set[str]:
        return _tags(sub, await self.store.topics(sub.guild_id))


# The version recorded for stories listed in a summary: they have no alert of their own to edit.
SUMMARIZED = "summary"


def _alert_row(action: AlertAction, key: str) -> dict[str, object]:
    sub = action.subscription
    return {
        "subscription_id": sub.id,
        "guild_id": sub.guild_id,
        "channel_id": sub.channel_id,
        "kind": "alert" if action.action == "send" else "edit",
        "story_ids": [action.story.id],
        "story_version": action.version,
        "message_id": action.message_id,
        "dedup_key": key,
    }


def _tags(sub: Subscription, topics: Sequence[TopicInfo]) -> set[str]:
    """The story topic names a subscription receives: its topics', or all of its server's."""
    return {t.tag for t in topics if sub.topics is None or t.name in sub.topics}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _sentence(text: str) -> str:
    """A message as one sentence: a capital first and a full stop last."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _printable(text: str) -> str:
    """Text without control characters (a NUL cannot be stored by PostgreSQL, and none belongs in a name)."""
    return "".join(ch for ch in text if ch.isprintable() or ch == " ")
