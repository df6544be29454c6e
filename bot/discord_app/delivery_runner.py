"""Turns delivery plans into Discord messages: digests on their schedules, alerts after each poll, and the
resend of whatever a crash left unsent.

Exactly once (the rules live in bot/delivery/service.py; this is the sending half): every message is recorded
in the outbox with a nonce *before* it is sent, sent with that nonce (discord.py then sets enforce_nonce, so
Discord returns the first message instead of posting a second one), and marked sent only after Discord
accepted it. On start, unsent records are sent again with their own nonce, and a digest cut short is finished
part by part rather than planned again.

When Discord says no: 429 and 5xx are retried inside discord.py, then here with a longer backoff; when they
outlast that, the record stays pending (its error shown by /status) and is sent again, with its nonce, after
the next poll, for up to a day. 403 (a permission was taken away) pauses the subscription and tells the
server's admins where they will see it; 404 (the channel is gone) removes the subscription. Sends are paced
under Discord's global limit (bot/discord_app/pacing.py), so a large fan-out does not meet 429s at all.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from bot.delivery.schedules import parse_schedule, to_trigger
from bot.delivery.service import Delivery
from bot.delivery.timezones import parse_timezone
from bot.delivery.values import PendingDelivery, Subscription
from bot.discord_app.pacing import Pacer
from bot.discord_app.render import paginate
from bot.discord_app.story_render import (
    MESSAGE_BUDGET,
    STORIES_PER_MESSAGE,
    alert_content,
    alert_embed,
    alert_mentions,
    digest_embed,
    story_item,
)
from bot.news.models import Story
from bot.scheduling import Scheduler

if TYPE_CHECKING:
    from bot.discord_app.client import AccordWatchBot

log = logging.getLogger(__name__)

NEEDED = ("view_channel", "send_messages", "embed_links")
DIGEST_GRACE = 3600  # a digest that fires up to an hour late (the bot was down) is still sent
RETRY_ATTEMPTS = 4  # this runner's tries of one message, each after discord.py's own retries of 429s and 5xx
RETRY_WAIT = 1.0  # seconds before this runner's second try; doubled for each later one
GIVE_UP_AFTER = timedelta(hours=24)  # a message Discord kept refusing this long fails (and /status says so)


class Outcome(enum.Enum):
    SENT = "sent"
    REFUSED = "refused"  # for good, and dealt with: the record failed, the subscription paused or removed
    DEFERRED = "deferred"  # Discord or the network is struggling: the record stays pending for a later try


@dataclass(frozen=True, slots=True)
class DigestResult:
    stories: int
    parts: int
    sent: int
    deferred: bool  # the unsent parts are pending and go out after the next poll


def transient(exc: BaseException) -> bool:
    """A refusal that a later try may not meet: rate limits, Discord's server errors, the network."""
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, aiohttp.ClientError | TimeoutError | OSError)


def describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}: {exc.text}"[:500] if exc.text else f"HTTP {exc.status}"
    return f"{type(exc).__name__}: {exc}"[:500]


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info(
        "Discord refused a message (%s): try %d again in %.1f s",
        describe(exc) if exc else "?",
        state.attempt_number + 1,
        wait,
    )


def missing_permissions(channel: discord.abc.GuildChannel, member: discord.Member) -> list[str]:
    """The permissions the bot lacks in `channel` to post embeds there, as Discord names them."""
    permissions = channel.permissions_for(member)
    return [name.replace("_", " ").title() for name in NEEDED if not getattr(permissions, name)]


def split_digest(stories: Sequence[Story]) -> list[list[Story]]:
    """The stories of each digest message, in order: the same split that rendering makes."""
    pages = paginate([story_item(story) for story in stories], per_page=STORIES_PER_MESSAGE, budget=MESSAGE_BUDGET)
    parts, start = [], 0
    for page in pages:
        parts.append(list(stories[start : start + len(page)]))
        start += len(page)
    return parts


class DeliveryRunner:
    def __init__(
        self,
        bot: AccordWatchBot,
        delivery: Delivery,
        scheduler: Scheduler,
        clock: Callable[[], datetime],
        *,
        pacer: Pacer | None = None,
        retry_attempts: int = RETRY_ATTEMPTS,
        retry_wait: float = RETRY_WAIT,
    ) -> None:
        self.bot = bot
        self.delivery = delivery
        self.scheduler = scheduler
        self.clock = clock
        self.pacer = pacer or Pacer()
        self.retry_attempts = retry_attempts
        self.retry_wait = retry_wait
        self._lock = asyncio.Lock()  # one sender at a time: a digest and an alert never interleave a record

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

    async def start(self) -> None:
        """On first ready: finish what a crash left unsent, then rebuild every digest job from the database."""
        await self.reconcile()
        for subscription in await self.delivery.all_active_subscriptions():
            self.schedule(subscription)

    # --- digests -------------------------------------------------------------------------------------------

    async def digest_job(self, channel_id: int) -> None:
        subscription = await self.delivery.subscription(channel_id)
        if subscription is None or subscription.paused_reason:
            self.unschedule(channel_id)
            return
        await self.send_digest(subscription)

    async def send_digest(self, subscription: Subscription) -> DigestResult:
        """Plan, record and send one digest. Nothing new sends nothing."""
        await self.bot.wait_until_ready()
        async with self._lock:
            plan = await self.delivery.plan_digest(subscription.id, self.clock())
            parts = split_digest(plan.stories)
            pendings = await self.delivery.begin_digest(plan, [[story.id for story in part] for part in parts])
            sent = 0
            outcome = Outcome.SENT
            for pending, part in zip(pendings, parts, strict=True):
                embed = digest_embed(part, number=pending.part, total=pending.parts, since=plan.since, until=plan.until)
                outcome = await self._send(pending, embed=embed)
                if outcome is not Outcome.SENT:
                    break
                sent += 1
            return DigestResult(len(plan.stories), len(parts), sent, outcome is Outcome.DEFERRED)

    async def preview(self, subscription: Subscription) -> list[discord.Embed]:
        plan = await self.delivery.plan_digest(subscription.id, self.clock())
        parts = split_digest(plan.stories)
        return [
            digest_embed(part, number=i, total=len(parts), since=plan.since, until=plan.until)
            for i, part in enumerate(parts, start=1)
        ]

    # --- alerts --------------------------------------------------------------------------------------------

    async def run_alerts(self) -> int:
        """Post new alerts and edit those whose story grew; returns how many messages were sent or edited.

        When Discord stays unwilling, the run stops: the alerts not yet recorded are planned again after the
        next poll, and the one that was recorded is sent again then."""
        await self.bot.wait_until_ready()
        done = 0
        async with self._lock:
            for action in await self.delivery.plan_alerts(self.clock()):
                pending = await self.delivery.begin_alert(action)
                outcome = await self._send_alert(pending, action.story)
                if outcome is Outcome.DEFERRED:
                    break
                done += outcome is Outcome.SENT
        return done

    async def _send_alert(self, pending: PendingDelivery, story: Story) -> Outcome:
        subscription = await self.delivery.subscription_by_id(pending.subscription_id)
        role_id = subscription.role_id if subscription else None
        if pending.kind == "edit" and pending.message_id is not None:
            return await self._edit(pending, embed=alert_embed(story))
        return await self._send(
            pending,
            embed=alert_embed(story),
            content=alert_content(role_id),
            mentions=alert_mentions(role_id),
        )

    # --- reconcile -----------------------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Send again, with the same nonce, what was recorded and not confirmed: left by the last stop, or
        refused for a while by Discord (429s, 5xx). Runs at start and after every poll."""
        await self.bot.wait_until_ready()
        async with self._lock:
            now = self.clock()
            for unfinished in await self.delivery.unfinished_digests():
                for pending in unfinished.remaining:
                    if await self._given_up(pending, now):
                        break
                    stories = await self.delivery.stories(pending.story_ids)
                    embed = digest_embed(stories, number=pending.part, total=pending.parts)
                    outcome = await self._send(pending, embed=embed)
                    if outcome is Outcome.DEFERRED:
                        return
                    if outcome is not Outcome.SENT:
                        break
            for pending in await self.delivery.pending():
                if pending.kind == "digest" or await self._given_up(pending, now):
                    continue  # digests are handled above, in part order
                stories = await self.delivery.stories(pending.story_ids)
                if not stories:
                    await self.delivery.mark_failed(pending.id, "the story no longer exists")
                elif await self._send_alert(pending, stories[0]) is Outcome.DEFERRED:
                    return

    async def _given_up(self, pending: PendingDelivery, now: datetime) -> bool:
        """A record Discord kept refusing for GIVE_UP_AFTER fails (a digest with all its parts)."""
        if pending.error is None or now - pending.created_at < GIVE_UP_AFTER:
            return False
        await self.delivery.mark_failed(pending.id, f"Discord refused it for a day; last: {pending.error}")
        log.warning("gave up on a message to channel %d: %s", pending.channel_id, pending.error)
        return True

    # --- sending -------------------------------------------------------------------------------------------

    async def _send(
        self,
        pending: PendingDelivery,
        *,
        embed: discord.Embed,
        content: str = "",
        mentions: discord.AllowedMentions | None = None,
    ) -> Outcome:
        channel = await self._channel(pending)
        if isinstance(channel, Outcome):
            return channel
        return await self._attempt(
            pending,
            lambda: channel.send(
                content or None,
                embed=embed,
                nonce=pending.nonce,
                allowed_mentions=mentions or discord.AllowedMentions.none(),
            ),
        )

    async def _edit(self, pending: PendingDelivery, *, embed: discord.Embed) -> Outcome:
        channel = await self._channel(pending)
        if isinstance(channel, Outcome):
            return channel
        if pending.message_id is None or not hasattr(channel, "get_partial_message"):
            await self.delivery.mark_failed(pending.id, "not a message that can be edited")
            return Outcome.REFUSED
        message = channel.get_partial_message(pending.message_id)
        return await self._attempt(pending, lambda: message.edit(embed=embed))

    async def _channel(self, pending: PendingDelivery) -> discord.abc.Messageable | Outcome:
        channel = self.bot.get_channel(pending.channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(pending.channel_id)
            except discord.NotFound:
                await self._gone(pending)
                return Outcome.REFUSED
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                return await self._refused(pending, exc, "channel lookup failed")
        if not isinstance(channel, discord.abc.Messageable):
            await self._gone(pending)
            return Outcome.REFUSED
        return channel

    async def _attempt(self, pending: PendingDelivery, call: Callable[[], Awaitable[discord.Message]]) -> Outcome:
        """Make the call in a paced slot, trying again on transient refusals; record how it ended."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(transient),
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait_exponential(multiplier=self.retry_wait, max=30),
            before_sleep=_log_retry,
            reraise=True,
        )
        message: discord.Message | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    await self.pacer.wait()
                    message = await call()
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            return await self._refused(pending, exc)
        assert message is not None
        await self.delivery.mark_sent(pending.id, message.id, self.clock())
        return Outcome.SENT

    async def _refused(self, pending: PendingDelivery, exc: BaseException, doing: str = "") -> Outcome:
        """Discord (or the network) said no after every retry."""
        what = f"{doing}: {describe(exc)}" if doing else describe(exc)
        if transient(exc):
            log.warning("channel %d: %s; sent again after the next poll", pending.channel_id, what)
            await self.delivery.note_retry(pending.id, what)
            return Outcome.DEFERRED
        if isinstance(exc, discord.Forbidden):
            await self._forbidden(pending)
        elif isinstance(exc, discord.NotFound) and exc.code == 10003:
            await self._gone(pending)
        else:
            log.warning("sending to channel %d failed: %s", pending.channel_id, what)
            await self.delivery.mark_failed(pending.id, what)
        return Outcome.REFUSED

    async def _gone(self, pending: PendingDelivery) -> None:
        log.info("channel %d is gone: its subscription is removed", pending.channel_id)
        await self.delivery.mark_failed(pending.id, "the channel no longer exists")
        await self.delivery.remove_channel(pending.channel_id)
        self.unschedule(pending.channel_id)

    async def _forbidden(self, pending: PendingDelivery) -> None:
        channel = self.bot.get_channel(pending.channel_id)
        missing: list[str] = []
        guild = getattr(channel, "guild", None)
        if isinstance(channel, discord.abc.GuildChannel) and guild is not None:
            missing = missing_permissions(channel, guild.me)
        what = ", ".join(missing) if missing else "a permission it needs"
        reason = f"Missing {what} in #{getattr(channel, 'name', pending.channel_id)}"
        await self.delivery.mark_failed(pending.id, reason)
        await self.delivery.pause(pending.subscription_id, reason, self.clock())
        self.unschedule(pending.channel_id)
        log.warning("paused the subscription of channel %d: %s", pending.channel_id, reason)
        if guild is not None:
            await self.tell_admins(
                guild,
                f"Accord Watch paused deliveries to <#{pending.channel_id}>: {reason}. Give the bot View Channel, "
                "Send Messages and Embed Links there, then run `/subscribe` again for that channel.",
                avoid=pending.channel_id,
            )

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
                    await candidate.send(text, allowed_mentions=discord.AllowedMentions.none())
                    return True
                except discord.HTTPException:
                    continue
        log.warning("could not tell the admins of server %d: %s", guild.id, text)
        return False
