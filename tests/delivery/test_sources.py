"""Server sources, /status, and the news's reported events for the knowledge."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.service import Delivery, DeliveryError
from bot.news.models import EventKind, Source, SourceState, Story
from bot.store.news import NewsStore
from tests.delivery.conftest import GUILD, OTHER_GUILD, Clock, Stories, article


async def test_sources_are_capped_deduplicated_and_given_to_the_poller(
    engine: AsyncEngine, news: NewsStore, clock: Clock
) -> None:
    delivery = Delivery(engine, news, clock, max_article_age=None, source_cap=2)
    first = await delivery.add_source(GUILD, " https://a.example/rss ", "  A  feed ")
    assert (first.url, first.name, first.disabled) == ("https://a.example/rss", "A feed", False)
    with pytest.raises(DeliveryError, match="already added"):
        await delivery.add_source(GUILD, "https://a.example/rss", "A")
    await delivery.add_source(GUILD, "https://b.example/rss", "B")
    with pytest.raises(DeliveryError, match="at most 2 sources"):
        await delivery.add_source(GUILD, "https://c.example/rss", "C")
    with pytest.raises(DeliveryError, match="http"):
        await delivery.add_source(OTHER_GUILD, "file:///etc/passwd", "x")
    await delivery.add_source(OTHER_GUILD, "https://a.example/rss", "Same feed, other server")
    assert await delivery.guild_sources() == [
        Source("https://a.example/rss", "A feed", guild_id=GUILD),
        Source("https://b.example/rss", "B", guild_id=GUILD),
        Source("https://a.example/rss", "Same feed, other server", guild_id=OTHER_GUILD),
    ]
    removed = await delivery.remove_source(GUILD, "b")  # by name, any case
    assert removed is not None
    assert removed.url == "https://b.example/rss"
    assert await delivery.remove_source(GUILD, "b") is None
    assert [s.url for s in await delivery.list_sources(GUILD)] == ["https://a.example/rss"]


async def test_failing_sources_are_disabled_once_and_shown_in_status(
    delivery: Delivery, news: NewsStore, clock: Clock
) -> None:
    await delivery.subscribe(GUILD, 10, mode="digest")
    await delivery.subscribe(GUILD, 11, mode="alerts")
    bad = await delivery.add_source(GUILD, "https://bad.example/rss", "Bad")
    await delivery.add_source(GUILD, "https://ok.example/rss", "OK")
    operator = Source("https://builtin.example/rss", "Builtin")
    clock.advance(hours=1)
    failing = SourceState(last_status=500, last_error="HTTP 500", consecutive_failures=5, last_attempt=clock.now)
    await news.save_states(
        [
            (operator, SourceState(last_status=200, last_success=clock.now)),
            (Source(bad.url, bad.name, guild_id=GUILD), failing),
            (Source("https://ok.example/rss", "OK", guild_id=GUILD), SourceState(consecutive_failures=4)),
        ]
    )
    (disabled,) = await delivery.disable_failing_sources()
    assert (disabled.id, disabled.disabled, disabled.disabled_reason) == (
        bad.id,
        True,
        "failed 5 times in a row: HTTP 500",
    )
    assert await delivery.disable_failing_sources() == []  # told once
    assert [s.url for s in await delivery.guild_sources()] == ["https://ok.example/rss"]

    status = await delivery.status(GUILD, clock.now)
    assert [(h.url, h.guild_id, h.state.consecutive_failures) for h in status.sources] == [
        (operator.url, None, 0),
        (bad.url, GUILD, 5),
        ("https://ok.example/rss", GUILD, 4),
    ]
    assert [(h.url, h.disabled_reason) for h in status.failing_sources] == [
        (bad.url, "failed 5 times in a row: HTTP 500"),
        ("https://ok.example/rss", None),
    ]
    assert [(n.channel_id, n.at.hour) for n in status.next_digests] == [(10, 9)]
    assert status.paused == ()

    # enabled again by an admin: the old failures do not disable it at once
    again = await delivery.add_source(GUILD, bad.url, "Bad")
    assert not again.disabled
    assert await delivery.disable_failing_sources() == []


async def test_reported_events_need_two_independent_outlets(delivery: Delivery, stories: Stories, clock: Clock) -> None:
    one_host = await stories.add(
        article("same.example", "Somaliland to join the accords", seen=clock.now, country="SOMALILAND", path="1"),
        article("same.example", "Somaliland to join the accords", seen=clock.now, country="SOMALILAND", path="2"),
    )
    assert len(one_host.articles) == 2
    two_hosts = await stories.add(
        article("a.example", seen=clock.now - timedelta(days=1), outlet="Reuters", path="k"),
        article("b.example", seen=clock.now, outlet="AP", path="k"),
        article("b.example", seen=clock.now, outlet="AP", path="k2"),
    )
    await stories.add(
        article("c.example", "Talks", seen=clock.now, kind=EventKind.TALKS, country="SA", path="t"),
        article("d.example", "Talks", seen=clock.now, kind=EventKind.TALKS, country="SA", path="t"),
    )
    (event,) = await delivery.reported_events()
    assert (event.confidence, event.kind, [c.key for c in event.countries], event.outlets) == (
        "reported",
        "joined",
        ["KZ"],
        ("Reuters", "AP"),
    )
    assert (event.date, event.source_url, event.summary) == (date(2025, 11, 5), two_hosts.url, two_hosts.title)
    (member,) = await delivery.reported_members()
    assert (member.country.name, member.kind, member.story_id) == ("Kazakhstan", EventKind.JOINED, two_hosts.id)
    assert len(await delivery.reported_events(min_outlets=3)) == 0


async def test_reported_stories_are_read_again_only_when_their_view_changed(
    delivery: Delivery, stories: Stories, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/members and /timeline ask on every call; during a poll a few stories change among hundreds."""
    kazakhstan = await stories.add(
        article("a.example", seen=clock.now, outlet="Reuters", path="k"),
        article("b.example", seen=clock.now, outlet="AP", path="k"),
    )
    await stories.add(
        article("d.example", "Somaliland to join the accords", seen=clock.now, country="SOMALILAND", path="s"),
        article("e.example", "Somaliland to join the accords", seen=clock.now, country="SOMALILAND", path="s"),
    )
    reads: list[list[int]] = []
    reported = delivery.views.reported

    async def counted(*args: Any, **kwargs: Any) -> list[Story]:
        found = await reported(*args, **kwargs)
        reads.append([story.id for story in found])
        return found

    monkeypatch.setattr(delivery.views, "reported", counted)
    assert len(await delivery.reported_members()) == 2
    assert len(await delivery.reported_members()) == 2
    assert [len(read) for read in reads] == [2]  # the first call read both; the second, nothing
    clock.advance(hours=1)
    await stories.grow(kazakhstan, article("c.example", seen=clock.now, outlet="AFP", path="k"))
    members = {member.country.key: member for member in await delivery.reported_members()}
    assert members["KZ"].outlets == ("Reuters", "AP", "AFP")
    assert set(members) == {"KZ", "SOMALILAND"}
    assert reads[1:] == [[kazakhstan.id]]  # only the story that grew


async def test_reported_events_follow_new_and_growing_stories(
    delivery: Delivery, stories: Stories, clock: Clock
) -> None:
    first = await stories.add(
        article("a.example", seen=clock.now, outlet="Reuters", path="k"),
        article("b.example", seen=clock.now, outlet="AP", path="k"),
    )
    (event,) = await delivery.reported_events()
    assert event.outlets == ("Reuters", "AP")
    assert await delivery.reported_events() == [event]  # asked again, nothing changed: the same answer

    clock.advance(hours=1)
    await stories.grow(first, article("c.example", seen=clock.now, outlet="AFP", path="k"))
    (grown,) = await delivery.reported_events()
    assert grown.outlets == ("Reuters", "AP", "AFP")
    (member,) = await delivery.reported_members()
    assert member.outlets == ("Reuters", "AP", "AFP")

    clock.advance(hours=1)
    await stories.add(
        article("d.example", "Somaliland to join the accords", seen=clock.now, country="SOMALILAND", path="s"),
        article("e.example", "Somaliland to join the accords", seen=clock.now, country="SOMALILAND", path="s"),
    )
    assert {c.key for e in await delivery.reported_events() for c in e.countries} == {"KZ", "SOMALILAND"}
    assert {m.country.key for m in await delivery.reported_members()} == {"KZ", "SOMALILAND"}
