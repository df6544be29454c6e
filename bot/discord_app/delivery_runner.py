"""Turns the outbox into Discord messages: a dispatcher that plans what is owed and sends it, channel by channel.

Exactly once (the rules live in bot/delivery/service.py; this is the sending half):
- The dispatcher wakes when news was saved, a subscription changed or a digest was recorded, and every few seconds
  regardless. Each round it records the alerts owed (`record_alerts`: derived from the database, so nothing owed
  lives only in memory) and claims the outbox rows due; a poll never waits for it.
- Rows are sent channel by channel: in order within a channel, different channels at the same time, each in a
  task of its own that the dispatcher does not wait for (a channel whose rate-limit bucket is empty waits alone,
  and the next round serves the others), every send in a paced slot under Discord's global limit.
- Each message goes out with its nonce and `enforce_nonce` (Discord returns the first message for a resend within
  a few minutes) and is marked sent only after Discord accepted it. A row first tried longer ago than that window
  may have been posted with no answer heard: the channel's recent messages are searched for it (the bot's own,
  same nonce or same footer, which names the story or the digest) and the one found is adopted.
When Discord says no: 429 and 5xx are retried inside discord.py, then the row waits (`note_retry`, shown in
/status) and is tried again with backoff, for up to a day; the channel's other rows wait behind it, other channels
go on; a request with no answer in `SEND_TIMEOUT` seconds counts as such a refusal. 403 (a permission was taken
away) pauses the subscription at once, fails its waiting rows and tells the server's admins once; 404 (the channel
is gone) removes the subscription. One channel's trouble never stops another.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import math
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.delivery.schedules import parse_schedule, to_trigger
from bot.delivery.service import Delivery
from bot.delivery.timezones import parse_timezone
from bot.delivery.values import DeliveryError, PendingDelivery, Subscription
from bot.discord_app.pacing import Pacer, SendPacer
from bot.discord_app.render import paginate
from bot.discord_app.story_render import (
    ALSO_BUDGET,
    MESSAGE_BUDGET,
    STORIES_PER_MESSAGE,
    alert_content,
    alert_embed,
    alert_mentions,
    digest_embed,
    story_item,
    summary_embed,
)
from bot.health import Metrics
from bot.news.models import Story
from bot.scheduling import Scheduler
from bot.wording import count

if TYPE_CHECKING:
    from bot.discord_app.client import AccordWatchBot

log = logging.getLogger(__name__)

NEEDED = ("view_channel", "send_messages", "embed_links")
DIGEST_GRACE = 3600  # a digest that fires up to an hour late (the bot was down) is still sent
GIVE_UP_AFTER = timedelta(hours=24)  # a message Discord kept refusing this long fails (and /status says so)
# Discord keeps a nonce "for a few minutes": a row first tried longer ago than this is looked for before a resend.
NONCE_WINDOW = timedelta(minutes=4)
LEASE = timedelta(minutes=2)  # how long a claim on a row holds without being renewed by a send
CHANNELS_AT_ONCE = 25  # channels sent to concurrently (the global pace is what bounds the rate)
ROUND_GAP = 0.25  # seconds between two rounds at least
# ... and between two rounds woken only because channels finished sending: their next rows are a backlog, and a
# claim reads every pending row (tens of thousands after a long outage of Discord's)
SEND_ROUND_GAP = 1.0
CLAIM_ROWS = 500  # rows claimed by one round at most
RENEW_AFTER = LEASE / 3  # a channel still sending this long after its claim holds its rows for a lease more
HISTORY_LOOKBACK = 50  # messages read when looking for one posted without an answer
# A request to Discord with no answer this long is given up for now and tried again later (same nonce): aiohttp's
# own limit is 5 minutes, for which a stalled connection held the channel's messages (and, while rounds waited for
# their channels, every channel's). Rate-limit waits inside discord.py (5 s for a channel's messages) fit well
# within it.
SEND_TIMEOUT = 30.0


class Outcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # this message, for good (the channel's others go on)
    STOPPED = "stopped"  # the channel is paused or gone: its other messages failed or were removed with it
    DEFERRED = "deferred"  # Discord or the network is struggling: the row waits for a later try


@dataclass(frozen=True, slots=True)
class DigestResult:
    stories: int
    parts: int
    sent: int
    deferred: bool  # the unsent parts are pending and go out with a later round


def transient(exc: BaseException) -> bool:
    """A refusal that a later try may not meet: rate limits, Discord's server errors, the network."""
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, aiohttp.ClientError | TimeoutError | OSError)


def describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}: {exc.text}"[:500] if exc.text else f"HTTP {exc.status}"
    return f"{type(exc).__name__}: {exc}"[:500]


def missing_permissions(channel: discord.abc.GuildChannel, member: discord.Member) -> list[str]:
    """The permissions the bot lacks in `channel` to post embeds there, as Discord names them."""
    permissions = channel.permissions_for(member)
    return [name.replace("_", " ").title() for name in NEEDED if not getattr(permissions, name)]


def split_digest(stories: Sequence[Story], *, also: int = 0) -> list[list[Story]]:
    """The stories of each digest message, in order: the same split that rendering makes (`also`: the last part
    carries the one-line list of stories already sent as alerts, which takes room)."""
    budget = MESSAGE_BUDGET - (ALSO_BUDGET if also else 0)
    pages = paginate([story_item(story) for story in stories], per_page=STORIES_PER_MESSAGE, budget=budget)
    parts, start = [], 0
    for page in pages:
        parts.append(list(stories[start : start + len(page)]))
        start += len(page)
    return parts


def process_owner(shards: Sequence[int] | None = None) -> str:
    """Who holds a claim: this host and the shards it runs, the same across a restart, so that a process started
    again takes back what its previous run held (another process's claims wait for their lease to end)."""
    which = "all" if shards is None else ",".join(map(str, shards))
    return f"{socket.gethostname()[:40]}:{which}"[:64]


class _StoryReads:
    """Stories as servers see them, read once for one batch of sends: one alert to a thousand channels reads its
    story once per server, not once per message. A batch (a round's claim, one `/digest now`) makes its own, so
    that no send renders a story as an earlier batch read it (a digest once showed a story's first outlet alone,
    read for its alert before two more outlets joined)."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery
        self._read: dict[tuple[int, tuple[int, ...]], list[Story]] = {}

    async def stories(self, guild_id: int, story_ids: tuple[int, ...]) -> list[Story]:
        key = (guild_id, story_ids)
        found = self._read.get(key)
        if found is None:
            found = self._read[key] = await self._delivery.stories(guild_id, story_ids)
        return found


class DeliveryRunner:
    def __init__(
        self,
        bot: AccordWatchBot,
        delivery: Delivery,
        scheduler: Scheduler,
        clock: Callable[[], datetime],
        *,
        pacer: SendPacer | None = None,
        idle: float = 5.0,
        retry_base: float = 2.0,
        retry_max: float = 60.0,
        owns: Callable[[int], bool] | None = None,
        sole_process: bool = True,
        owner: str | None = None,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.bot = bot
        self.delivery = delivery
        self.scheduler = scheduler
        self.clock = clock
        self.pacer = pacer or Pacer()
        self.idle = idle  # seconds between rounds when nothing wakes the dispatcher
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.send_timeout = send_timeout  # seconds a request to Discord may go unanswered (`SEND_TIMEOUT`)
        self.renew_after = RENEW_AFTER.total_seconds()  # a channel's claims are renewed this often while it sends
        self.owner = owner or process_owner()
        self._owns = owns  # the servers this process delivers for (its shards); None: all
        self._sole = sole_process  # no other process shares the database: claims left by a crash are ours
        self._wake = asyncio.Event()
        self._plan = True  # the next round plans first (news, a subscription or a digest changed what is owed)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._round_lock = asyncio.Lock()
        self._channels = asyncio.Semaphore(CHANNELS_AT_ONCE)
        self._sending: dict[int, asyncio.Task[int]] = {}  # channel id -> the task sending its claimed rows
        self._metrics: Metrics = bot.services.metrics

    # --- the dispatcher ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """On first ready: free the claims a crash left (when this is the only process), rebuild every digest job
        from the database, and start the dispatcher, which sends whatever a stop left unsent."""
        # Claims a crash left: all of them when no other process shares the database, else those of this process's
        # previous run (the others' end with their lease).
        await self.delivery.store.release_claims(None if self._sole else self.owner)
        subscriptions = await self.delivery.all_active_subscriptions()
        if self._stopping:
            return  # the bot closed meanwhile (its stop found no dispatcher): nothing is to start now
        for subscription in subscriptions:
            if self._owns is None or self._owns(subscription.guild_id):
                self.schedule(subscription)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="delivery-dispatcher")
        self.wake()

    def wake(self) -> None:
        """Something may be owed (news saved, a subscription changed, a digest recorded): plan and send soon."""
        self._plan = True
        self._wake.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the dispatcher: the sends under way may finish within `grace` seconds, then they are cut (a send in
        flight is recorded as tried: the next start checks whether Discord posted it)."""
        self._stopping = True  # also for a start under way (`start`): it starts no dispatcher now
        task, self._task = self._task, None
        if task is None:
            return
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), grace)
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sending = list(self._sending.values())
        if sending:
            await asyncio.wait(sending, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
            for channel_task in sending:
                channel_task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        loop = asyncio.get_running_loop()
        last = -math.inf
        while not self._stopping:
            try:
                async with asyncio.timeout(self.idle):
                    await self._wake.wait()
            except TimeoutError:
                self._plan = True  # every few seconds regardless: quiet hours end, a retry comes due
            if self._stopping:
                return
            # Wakes that come close together (each channel that finishes sending wakes it) make one round: a round
            # reads every pending row, and a fan-out to a thousand channels would otherwise run a thousand.
            await asyncio.sleep(max(0.0, last + (ROUND_GAP if self._plan else SEND_ROUND_GAP) - loop.time()))
            self._wake.clear()
            if self._stopping:
                return
            last = loop.time()
            plan, self._plan = self._plan, False
            try:
                if await self.round(plan=plan) >= CLAIM_ROWS:
                    self._wake.set()  # a full claim: there are more rows due
            except Exception:  # the dispatcher must outlive any one round's failure (a database hiccup)
                self._plan = True
                log.exception("a delivery round failed; the next one tries again")

    async def round(self, *, plan: bool = True) -> int:
        """Record the alerts owed (unless only sends ended since the last round: `plan` False, as planning reads
        every subscription's stories), then start sending every row due; returns how many rows were claimed."""
        async with self._round_lock:
            if plan:
                await self._announce_disabled_sources()
                recorded = await self.delivery.record_alerts(self.clock(), owns=self._owns)
                if recorded:
                    log.info("planned %s", count(len(recorded), "alert message"))
            started = await self.send_due()
            self._metrics.set_pending(await self.delivery.store.pending_count())
            return started

    async def send_due(self) -> int:
        """Claim the rows due and start sending them, a task per channel; returns how many rows were claimed.

        Why a round does not wait for its channels: a channel that waits (its rate-limit bucket, Discord's slow
        answer) then held every other channel's next messages, a new story's alerts included, until it was done.
        A channel still sending is left out of the next claims (its rows wait, in order, for its task), and its
        task wakes the dispatcher when it ends."""
        rows = await self.delivery.claim(
            self.owner, self.clock(), LEASE, CLAIM_ROWS, guilds=self._owns, busy=self._sending.keys()
        )
        if not rows:
            return 0
        reads = _StoryReads(self.delivery)
        by_channel: dict[int, list[PendingDelivery]] = {}
        for row in rows:
            by_channel.setdefault(row.channel_id, []).append(row)
        for channel_id, channel_rows in by_channel.items():
            task = asyncio.create_task(self._send_channel(channel_rows, reads), name=f"deliver-to-{channel_id}")
            self._sending[channel_id] = task
            task.add_done_callback(functools.partial(self._channel_done, channel_id))
        return len(rows)

    def _channel_done(self, channel_id: int, task: asyncio.Task[int]) -> None:
        if self._sending.get(channel_id) is task:
            del self._sending[channel_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("sending to channel %d failed", channel_id, exc_info=task.exception())
        self._wake.set()  # the channel's next rows, if any, may go now (nothing new to plan)

    async def _send_channel(self, rows: Sequence[PendingDelivery], reads: _StoryReads) -> int:
        """One channel's rows, in order; stop at the first that must wait (the rest wait too, in order). Claims
        still held are renewed as the rows go out, one lease at a time."""
        sent = 0
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        async with self._channels:
            for index, row in enumerate(rows):
                if loop.time() - renewed > self.renew_after:
                    await self.delivery.renew([other.id for other in rows[index:]], self.owner, self.clock(), LEASE)
                    renewed = loop.time()
                try:
                    outcome = await self._deliver(row, reads)
                except Exception:
                    log.exception("sending message %d to channel %d failed", row.id, row.channel_id)
                    outcome = Outcome.DEFERRED
                    await self.delivery.note_retry(row.id, "an error in the bot", self._retry_at(row))
                sent += outcome is Outcome.SENT
                if outcome in (Outcome.DEFERRED, Outcome.STOPPED):
                    rest = [other.id for other in rows[index + 1 :]]
                    if rest:
                        await self.delivery.release(rest)
                    break
        return sent

    # --- schedules -----------------------------------------------------------------------------------------

    @staticmethod
    def job_id(channel_id: int) -> str:
        return f"digest:{channel_id}"

    def schedule(self, subscription: Subscription) -> None:
        """(Re)build the subscription's digest job; alerts-only and paused subscriptions have none."""
        if subscription.mode == "alerts" or not subscription.schedule or subscription.paused_reason:
            self.unschedule(subscription.channel_id)
            return
        trigger = to_trigger(parse_schedule(subscription.schedule), parse_timezone(subscription.timezone))
        self.scheduler.add_job(
            self.digest_job,
            trigger,
            args=[subscription.channel_id],
            id=self.job_id(subscription.channel_id),
            name=f"digest for channel {subscription.channel_id}",
            replace_existing=True,
            misfire_grace_time=DIGEST_GRACE,
        )

    def unschedule(self, channel_id: int) -> None:
        if self.scheduler.get_job(self.job_id(channel_id)) is not None:
            self.scheduler.remove_job(self.job_id(channel_id))

    # --- digests -------------------------------------------------------------------------------------------

    async def digest_job(self, channel_id: int) -> None:
        """A scheduled digest: plan and record it, claimed by its slot (a second process running the same job
        records nothing), and let the dispatcher send it."""
        subscription = await self.delivery.subscription(channel_id)
        if subscription is None or subscription.paused_reason:
            self.unschedule(channel_id)
            return
        now = self.clock()
        plan = await self.delivery.plan_digest(subscription.id, now)
        parts = split_digest(plan.stories, also=len(plan.alerted)) if plan.stories else []
        recorded = await self.delivery.record_digest(
            plan, [[story.id for story in part] for part in parts], slot=self.delivery.digest_slot(subscription, now)
        )
        if recorded:
            self.wake()

    async def send_digest(self, subscription: Subscription, *, wait: float = 20.0) -> DigestResult:
        """`/digest now`: plan, record and send one digest at once, outside any schedule (nothing new sends
        nothing). When Discord refuses for now, the dispatcher takes the rest over; this waits up to `wait` seconds
        for it, so that the admin hears how it ended."""
        await self.bot.wait_until_ready()
        now = self.clock()
        plan = await self.delivery.plan_digest(subscription.id, now)
        parts = split_digest(plan.stories, also=len(plan.alerted)) if plan.stories else []
        ids = [[story.id for story in part] for part in parts]
        rows = await self.delivery.record_digest(plan, ids, claim=(self.owner, now + LEASE)) or []
        reads = _StoryReads(self.delivery)
        for index, row in enumerate(rows):
            outcome = await self._deliver(row, reads)
            if outcome is not Outcome.SENT:
                await self.delivery.release([other.id for other in rows[index + 1 :]])
                break
        states = [await self.delivery.store.delivery_state(row.id) for row in rows]
        deadline = asyncio.get_running_loop().time() + wait
        while any(state is not None and state[0] == "pending" for state in states):
            if asyncio.get_running_loop().time() > deadline:
                break
            self.wake()
            await asyncio.sleep(0.25)
            states = [await self.delivery.store.delivery_state(row.id) for row in rows]
        sent = sum(1 for state in states if state is not None and state[0] == "sent")
        waiting = any(state is not None and state[0] == "pending" for state in states)
        return DigestResult(len(plan.stories), len(parts), sent, waiting)

    async def preview(self, subscription: Subscription) -> list[discord.Embed]:
        plan = await self.delivery.plan_digest(subscription.id, self.clock())
        if not plan.stories:
            return []
        parts = split_digest(plan.stories, also=len(plan.alerted))
        return [
            digest_embed(
                part,
                number=i,
                total=len(parts),
                since=plan.since,
                until=plan.until,
                also=plan.alerted if i == len(parts) else (),
            )
            for i, part in enumerate(parts, start=1)
        ]

    # --- one message ---------------------------------------------------------------------------------------

    async def _deliver(self, row: PendingDelivery, reads: _StoryReads) -> Outcome:
        """Render and send (or edit) one row, with its stories as `reads` has them; record how it ended."""
        now = self.clock()
        if row.error is not None and now - row.created_at >= GIVE_UP_AFTER:
            await self.delivery.mark_failed(row.id, f"Discord refused it for a day; last: {row.error}")
            self._metrics.message("failed", "gave_up")
            log.warning("gave up on a message to channel %d: %s", row.channel_id, row.error)
            return Outcome.FAILED
        guild_id = row.guild_id
        if guild_id is None:  # a row recorded before rows knew their server
            subscription = await self.delivery.subscription_by_id(row.subscription_id)
            if subscription is None:
                await self.delivery.mark_failed(row.id, "the channel is no longer subscribed")
                return Outcome.FAILED
            guild_id = subscription.guild_id
        stories = await reads.stories(guild_id, row.story_ids)
        if not stories:
            await self.delivery.mark_failed(row.id, "the story no longer exists")
            return Outcome.FAILED
        channel = await self._channel(row)
        if isinstance(channel, Outcome):
            return channel
        if row.kind == "edit" and row.message_id is not None:
            message = channel.get_partial_message(row.message_id)
            embed = alert_embed(stories[0])
            return await self._attempt(row, lambda: message.edit(embed=embed), adopt=None)
        content = ""
        mentions = discord.AllowedMentions.none()
        if row.kind == "digest":
            also = await reads.stories(guild_id, row.also_ids) if row.also_ids else []
            embed = digest_embed(stories, number=row.part, total=row.parts, until=row.covers_until, also=also)
        elif row.kind == "summary":
            embed = summary_embed(stories, row.created_at)
        else:
            subscription = await self.delivery.subscription_by_id(row.subscription_id)
            role_id = subscription.role_id if subscription else None
            embed, content, mentions = alert_embed(stories[0]), alert_content(role_id), alert_mentions(role_id)
        footer = embed.footer.text

        async def send() -> discord.Message:
            return await channel.send(content or None, embed=embed, nonce=row.nonce, allowed_mentions=mentions)

        return await self._attempt(row, send, adopt=footer)

    @contextlib.asynccontextmanager
    async def _answered(self) -> AsyncIterator[None]:
        """Bound a request to Discord by `send_timeout`: TimeoutError, saying so, when it had no answer by then."""
        try:
            async with asyncio.timeout(self.send_timeout):
                yield
        except TimeoutError:
            raise TimeoutError(f"no answer from Discord within {self.send_timeout:g} s") from None

    async def _channel(self, row: PendingDelivery) -> discord.TextChannel | discord.Thread | Outcome:
        channel = self.bot.get_channel(row.channel_id)
        if channel is None:
            try:
                async with self._answered():
                    channel = await self.bot.fetch_channel(row.channel_id)
            except discord.NotFound:
                await self._gone(row)
                return Outcome.STOPPED
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                return await self._refused(row, exc, "channel lookup failed")
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            await self._gone(row)
            return Outcome.STOPPED
        return channel

    async def _attempt(
        self, row: PendingDelivery, call: Callable[[], Awaitable[discord.Message]], *, adopt: str | None
    ) -> Outcome:
        """Make the call in a paced slot; when the row's first try is older than the nonce window, first look for
        the message in the channel (`adopt`: its footer) and adopt it rather than post it again."""
        now = self.clock()
        if adopt is not None and row.attempted_at is not None and now - row.attempted_at > NONCE_WINDOW:
            found = await self._posted(row, adopt)
            if found is not None:
                log.info("message %d to channel %d was posted before: adopted", row.id, row.channel_id)
                await self.delivery.mark_sent(row.id, found, now)
                self._metrics.message("adopted")
                return Outcome.SENT
        await self.delivery.mark_attempt(row.id, now)
        await self.pacer.wait()
        try:
            async with self._answered():
                message = await call()
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return await self._refused(row, exc)
        await self.delivery.mark_sent(row.id, message.id, self.clock())
        self._metrics.message("sent")
        return Outcome.SENT

    async def _posted(self, row: PendingDelivery, footer: str | None) -> int | None:
        """The bot's own message in the channel that carries this row (same nonce, or same footer), if any."""
        channel = self.bot.get_channel(row.channel_id)
        me = self.bot.user
        if not isinstance(channel, discord.TextChannel | discord.Thread) or me is None or row.attempted_at is None:
            return None
        after = discord.Object(id=discord.utils.time_snowflake(row.attempted_at - timedelta(minutes=1)))
        try:
            async with self._answered():
                async for message in channel.history(limit=HISTORY_LOOKBACK, after=after, oldest_first=True):
                    if message.author.id != me.id:
                        continue
                    if message.nonce is not None and str(message.nonce) == row.nonce:
                        return message.id
                    if footer and any(embed.footer.text == footer for embed in message.embeds):
                        return message.id
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not read channel %d to look for an unconfirmed message: %s", row.channel_id, exc)
        return None

    def _retry_at(self, row: PendingDelivery) -> datetime:
        wait = min(self.retry_max, self.retry_base * 2 ** min(row.attempts, 16))
        return self.clock() + timedelta(seconds=wait)

    async def _refused(self, row: PendingDelivery, exc: BaseException, doing: str = "") -> Outcome:
        """Discord (or the network) said no."""
        what = f"{doing}: {describe(exc)}" if doing else describe(exc)
        if transient(exc):
            log.warning("channel %d: %s; tried again later", row.channel_id, what)
            await self.delivery.note_retry(row.id, what, self._retry_at(row))
            self._metrics.message("retried")
            return Outcome.DEFERRED
        if isinstance(exc, discord.Forbidden):
            self._metrics.message("failed", "forbidden")
            await self._forbidden(row)
            return Outcome.STOPPED
        if isinstance(exc, discord.NotFound) and exc.code == 10003:
            self._metrics.message("failed", "gone")
            await self._gone(row)
            return Outcome.STOPPED
        log.warning("a message to channel %d failed: %s", row.channel_id, what)
        await self.delivery.mark_failed(row.id, what)
        status = exc.status if isinstance(exc, discord.HTTPException) else None
        self._metrics.message("failed", "gone" if status == 404 else "invalid" if status == 400 else "other")
        return Outcome.FAILED

    async def _gone(self, row: PendingDelivery) -> None:
        log.info("channel %d is gone: its subscription is removed", row.channel_id)
        await self.delivery.mark_failed(row.id, "the channel no longer exists")
        await self.delivery.remove_channel(row.channel_id)
        self.unschedule(row.channel_id)

    async def _forbidden(self, row: PendingDelivery) -> None:
        channel = self.bot.get_channel(row.channel_id)
        missing: list[str] = []
        guild = getattr(channel, "guild", None)
        if isinstance(channel, discord.abc.GuildChannel) and guild is not None:
            missing = missing_permissions(channel, guild.me)
        what = ", ".join(missing) if missing else "a permission it needs"
        reason = f"Missing {what} in #{getattr(channel, 'name', row.channel_id)}"
        await self.delivery.mark_failed(row.id, reason)
        paused_now = await self.delivery.pause(row.subscription_id, reason, self.clock())
        self.unschedule(row.channel_id)
        if not paused_now:
            return  # another message met the same refusal first: one notice per pause
        log.warning("paused the subscription of channel %d: %s", row.channel_id, reason)
        if guild is not None:
            await self.tell_admins(
                guild,
                f"Accord Watch paused deliveries to <#{row.channel_id}>: {reason}. Give the bot View Channel, "
                "Send Messages and Embed Links there, then run `/subscribe` again for that channel: what could not "
                "be sent is tried again then.",
                avoid=row.channel_id,
            )

    async def _announce_disabled_sources(self) -> None:
        """Tell the admins of each server whose own source was disabled for failing (once, by its gateway)."""
        for source in await self.delivery.sources_to_announce(self._owns):
            guild = self.bot.get_guild(source.guild_id)
            if guild is not None:
                await self.tell_admins(
                    guild,
                    f"Accord Watch disabled the source {source.name} <{source.url}> after it failed again and again "
                    f"({source.disabled_reason}). `/status` shows why; `/sources add` it again to retry.",
                )
            await self.delivery.announced(source.id)

    async def tell_admins(self, guild: discord.Guild, text: str, *, avoid: int | None = None) -> bool:
        """Post a notice where the admins will see it: another subscribed channel, else the system channel."""
        candidates: list[discord.abc.GuildChannel] = []
        for subscription in await self.delivery.subscriptions(guild.id):
            channel = guild.get_channel(subscription.channel_id)
            if channel is not None and subscription.channel_id != avoid and not subscription.paused_reason:
                candidates.append(channel)
        if guild.system_channel is not None and guild.system_channel.id != avoid:
            candidates.append(guild.system_channel)
        for candidate in candidates:
            if isinstance(candidate, discord.TextChannel) and not missing_permissions(candidate, guild.me):
                try:
                    async with self._answered():
                        await candidate.send(text, allowed_mentions=discord.AllowedMentions.none())
                    return True
                except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError):
                    continue
        log.warning("could not tell the admins of server %d: %s", guild.id, text)
        return False


__all__ = ["DeliveryError", "DeliveryRunner", "DigestResult", "Outcome", "split_digest"]
