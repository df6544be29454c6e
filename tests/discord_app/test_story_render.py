"""Stories rendered for Discord: only web addresses become links (issue 11, item 1), every message the renderer
makes is one Discord accepts (sent through discord.py to the emulator), and an alert pings only its role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import discord
import pytest
from discord.http import handle_message_parameters
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.accords.model import TimelineEvent
from bot.countries import by_key
from bot.discord_app.cogs.timeline import event_item
from bot.discord_app.delivery_runner import split_digest
from bot.discord_app.render import link, web_url
from bot.discord_app.story_render import (
    alert_content,
    alert_embed,
    alert_mentions,
    digest_embed,
    latest_pages,
    story_item,
    story_pages,
)
from bot.news.models import Article, DetectedEvent, EventKind, Story
from tests.discord_emulator.fixtures import EmulatorHandle, emulator, pointed_at

__all__ = ["emulator"]

WHEN = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
ODD_URLS = [
    "guid:tag:example.org,2025:1",
    "guid:",
    "javascript:alert(1)",
    "data:text/html,hi",
    "ftp://example.org/file",
    "https://",
    "not a url",
    "https://example.org/a b",
    "https://www.example.org/" + "a" * 2040,
]
GOOD_URLS = [
    "https://www.bbc.co.uk/news/world-middle-east-53770935",
    "http://example.org/Abraham_Accords_(2020)",
    "https://example.org/" + "p" * 1100,  # a web address, too long for a field: shown without its link
]
MARKDOWN_TARGET = re.compile(r"\]\(([^)]*)\)")


def article(url: str, outlet: str = "BBC", title: str = "Israel and the UAE agree to normalise ties") -> Article:
    return Article(url, title, "", outlet, WHEN, WHEN, "https://feeds.example.org/rss")


def story(urls: list[str], story_url: str | None = None, title: str = "Israel and UAE strike deal") -> Story:
    articles = tuple(article(url, outlet=f"Outlet {n}") for n, url in enumerate(urls))
    url = story_url if story_url is not None else urls[0]
    event = DetectedEvent(EventKind.SIGNING, ("AE",))
    return Story(7, title, url, WHEN, WHEN, WHEN, ("AE", "IL"), event, ("accords",), 3.0, articles)


def rendered(stories: list[Story]) -> list[discord.Embed]:
    """Every embed the renderer makes of these stories: digest parts, alerts, /story and /latest pages."""
    embeds = [digest_embed(part, number=n, total=2) for n, part in enumerate(split_digest(stories), start=1)]
    for one in stories:
        embeds += [alert_embed(one), *story_pages(one)]
    return embeds + latest_pages(stories, "Latest")


def urls_in(embed: discord.Embed) -> Iterator[str]:
    """Every address in an embed: its url fields and the targets of markdown links in its text."""
    data: dict[str, Any] = embed.to_dict()
    for owner in (data, data.get("author") or {}, data.get("footer") or {}, data.get("image") or {}):
        for key in ("url", "icon_url"):
            if owner.get(key) is not None:
                yield owner[key]
    texts = [data.get("title") or "", data.get("description") or "", (data.get("footer") or {}).get("text") or ""]
    texts += [f"{field['name']}\n{field['value']}" for field in data.get("fields") or []]
    for text in texts:
        yield from MARKDOWN_TARGET.findall(text)


def is_web(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(url) <= 2048 and " " not in url


def test_a_story_without_a_web_link_has_no_embed_url_and_no_link() -> None:
    guid = story(["guid:abc-123"])
    alert = alert_embed(guid)
    assert alert.url is None
    assert "guid:" not in str(alert.to_dict())
    assert "Outlet 0" in (alert.description or "")  # the outlet is named, without a link
    [page] = story_pages(guid)
    assert page.url is None
    assert page.fields[0].value.startswith("Israel and the UAE agree")
    assert "](" not in page.fields[0].value


def test_web_links_are_kept_and_a_parenthesis_cannot_end_them_early() -> None:
    item = story_item(story(["http://example.org/Abraham_Accords_(2020)"]))
    assert "[Outlet 0](http://example.org/Abraham_Accords_%282020%29)" in item.value
    assert web_url("HTTPS://example.org/x") == "HTTPS://example.org/x"
    assert link("t", "guid:x") == "t"


def test_links_that_do_not_fit_in_the_field_are_counted_not_cut() -> None:
    long = ["https://example.org/" + "x" * 400 + str(n) for n in range(5)]
    item = story_item(story(long))
    assert len(item.value) <= 1024
    assert item.value.count("](") == 2
    assert "3 more links" in item.value
    assert not item.value.endswith("…")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(ODD_URLS + GOOD_URLS) | st.text(max_size=40), min_size=1, max_size=8))
def test_the_renderer_never_emits_an_address_that_is_not_http(urls: list[str]) -> None:
    for embed in rendered([story(urls), story(list(reversed(urls)), story_url="guid:x")]):
        for url in urls_in(embed):
            assert is_web(url), url


# Through discord.py to the emulator: what the renderer makes, Discord accepts -----------------------------------


@pytest.fixture
async def client(emulator: EmulatorHandle) -> AsyncIterator[discord.Client]:
    """A logged-in discord.py client (REST only) pointed at the emulator."""
    bare = discord.Client(intents=discord.Intents.none())
    with pointed_at(emulator):
        await bare.login(emulator.token)
        try:
            yield bare
        finally:
            await bare.close()


async def send(client: discord.Client, channel_id: int, **message: Any) -> dict[str, Any]:
    with handle_message_parameters(**message) as params:
        sent: dict[str, Any] = await client.http.send_message(channel_id, params=params)
    return sent


async def test_every_rendered_message_is_accepted_by_discord(emulator: EmulatorHandle, client: discord.Client) -> None:
    stories = [story(ODD_URLS[:4] + GOOD_URLS), story(ODD_URLS[4:]), story(["guid:only"], title="x" * 300)]
    for number, embed in enumerate(rendered(stories)):
        emulator.server.limiter.reset()  # past the channel's 5 messages per 5 s
        await send(client, await emulator.channel_id("news"), embed=embed, nonce=f"render-{number}")


async def test_an_alert_pings_its_role_and_nobody_else(emulator: EmulatorHandle, client: discord.Client) -> None:
    state = await emulator.state()
    member = state["users"]["member"]["id"]
    role = await emulator.add_role("accords-alerts", mentionable=True)
    other = await emulator.add_role("everyone-else", mentionable=True)
    loud = story(["https://example.org/a"], title=f"@everyone <@{member}> <@&{other}> @here news")
    news = await emulator.channel_id("news")
    await emulator.call("POST", "/permissions", {"allow": ["mention_everyone"]})  # the worst case
    for role_id, pings in ((role, [str(role)]), (None, [])):
        sent = await send(
            client,
            news,
            content=alert_content(role_id) or None,
            embed=alert_embed(loud),
            allowed_mentions=alert_mentions(role_id),
        )
        [posted] = [m for m in await emulator.channel_messages(news) if m["id"] == sent["id"]]
        assert (posted["mentions"], posted["mention_roles"], posted["mention_everyone"]) == ([], pings, False)


def test_a_reported_timeline_event_without_a_web_link_has_no_link() -> None:
    event = TimelineEvent(WHEN.date(), (by_key("AE"),), "signing", "Deal", "guid:abc", "reported", ("BBC",))
    assert "](guid:" not in event_item(event).value
