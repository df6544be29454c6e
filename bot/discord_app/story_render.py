"""Stories to embeds: digest messages, alerts, `/story` and `/latest` answers, within Discord's limits.

News text is escaped (markdown and mentions neutralised) and every message is sent with mentions off except
an alert's chosen role; a digest too long for one message is split over several, and no story is dropped.
A story or article without a web address (a feed entry with no link is known by `guid:...`) is shown without
a link: no embed URL, its outlet or title as plain text (render.link).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.countries import by_key
from bot.discord_app.flags import with_flag
from bot.discord_app.render import (
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    Item,
    build_embed,
    escape,
    link,
    paginate,
    shorten,
)
from bot.news.models import Story
from bot.wording import count

STORIES_PER_MESSAGE = 8
# Room left for the title, description and footer of each message within the 6000-character limit.
MESSAGE_BUDGET = EMBED_TOTAL_LIMIT - 700
# Room a digest's last message keeps for its one line of stories already sent as alerts.
ALSO_BUDGET = 700
LINKS_PER_STORY = 5
SUMMARY_LINES = 15
OWN_SOURCES = "🏠 Only this server's own sources reported it"


def country_names(keys: Sequence[str]) -> str:
    names = []
    for key in keys:
        try:
            names.append(with_flag(by_key(key)))
        except KeyError:
            names.append(key)
    return ", ".join(names)


def event_line(story: Story) -> str:
    if story.event is None:
        return ""
    kind = story.event.kind.value.replace("_", " ").capitalize()
    about = country_names(story.event.countries)
    return f"{kind}: {about}" if about else kind


def story_item(story: Story, *, links: int = LINKS_PER_STORY) -> Item:
    """One story as a field: its headline, then event, countries, outlets and links.

    As many of the first `links` articles are linked as fit in the field whole; the others are counted."""
    outlets = story.outlets
    head = []
    event = event_line(story)
    if event:
        head.append(f"**{event}**")
    if story.countries:
        head.append(country_names(story.countries[:6]))
    if story.own_only:
        head.append(OWN_SOURCES)
    outlet_count = count(len(outlets), "outlet")

    def value(shown: list[str]) -> str:
        more = len(story.articles) - len(shown)
        extra = f", {count(more, 'more link')}" if more > 0 else ""
        tail = f"{outlet_count}{extra} · `/story {story.id}`"
        return "\n".join(line for line in (*head, " · ".join(shown), tail) if line)

    shown: list[str] = []
    for article in story.articles[:links]:
        candidate = link(escape(shorten(article.outlet, 60)), article.url)
        if len(value([*shown, candidate])) > FIELD_VALUE_LIMIT:
            break
        shown.append(candidate)
    return Item(escape(story.title), value(shown))


def digest_footer(until: datetime | None, number: int, total: int) -> str:
    """Names the digest and the part: what finds a message posted without an answer (see delivery_runner)."""
    name = f"Digest of {until:%Y-%m-%d %H:%M} UTC" if until else "Digest"
    return f"{name} · part {number} of {total}" if total > 1 else f"{name} · /story N shows every link"


def also_line(stories: Sequence[Story]) -> Item | None:
    """One field listing stories already sent as alerts in the channel: not repeated in full."""
    if not stories:
        return None
    entries = [f"{escape(shorten(story.title, 70))} (`/story {story.id}`)" for story in stories]
    shown: list[str] = []
    for index, entry in enumerate(entries):
        rest = len(entries) - index - 1
        tail = f" · and {rest} more" if rest else ""
        if sum(len(e) + 3 for e in shown) + len(entry) + len(tail) > ALSO_BUDGET - 100:
            shown.append(f"and {len(entries) - index} more")
            break
        shown.append(entry)
    return Item("Already posted here as alerts", " · ".join(shown))


def digest_embed(
    stories: Sequence[Story],
    *,
    number: int = 1,
    total: int = 1,
    since: datetime | None = None,
    until: datetime | None = None,
    also: Sequence[Story] = (),
) -> discord.Embed:
    """One message of a digest: its stories as fields (the split is made by the caller, see split_digest); the last
    one also lists, in one line, the stories of the period already posted as alerts."""
    title = "Accord Watch digest" + (f" ({number}/{total})" if total > 1 else "")
    span = f" ({since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC)" if since and until else ""
    items = [story_item(story) for story in stories]
    line = also_line(also)
    if line is not None:
        items.append(line)
    return build_embed(
        title=title,
        description=f"New since the last digest{span}, most important first.",
        items=items,
        footer=digest_footer(until, number, total),
    )


def summary_embed(stories: Sequence[Story], created: datetime) -> discord.Embed:
    """The stories past a channel's alert cap for one round, listed in one message instead of one alert each."""
    lines = [f"{escape(shorten(story.title, 90))} · `/story {story.id}`" for story in stories[:SUMMARY_LINES]]
    if len(stories) > SUMMARY_LINES:
        lines.append(f"… and {len(stories) - SUMMARY_LINES} more; `/latest` lists them.")
    noun = "story" if len(stories) == 1 else "stories"
    return build_embed(
        title=f"{len(stories)} more {noun} at once",
        description="\n".join(lines),
        footer=f"Alerts summary of {created:%Y-%m-%d %H:%M:%S} UTC",
    )


def alert_embed(story: Story) -> discord.Embed:
    item = story_item(story)
    return build_embed(
        title=shorten(f"Breaking: {story.title}", 256),
        description=item.value,
        url=story.url,
        footer=f"Story {story.id} · updated as more outlets report it",
    )


def alert_content(role_id: int | None) -> str:
    return f"<@&{role_id}> New development" if role_id else ""


def alert_mentions(role_id: int | None) -> discord.AllowedMentions:
    """Only the chosen role may be pinged; never @everyone, users or other roles from news text."""
    roles: list[discord.Object] = [discord.Object(id=role_id)] if role_id else []
    return discord.AllowedMentions(everyone=False, users=False, roles=roles, replied_user=False)


def story_pages(story: Story) -> list[discord.Embed]:
    """`/story`: the story's facts, then every article's link, over as many pages as needed."""
    head = story_item(story, links=0)
    facts = head.value.rsplit("\n", 1)[0] if "\n" in head.value else ""
    items = []
    for article in story.articles:
        when = f" · {article.published:%Y-%m-%d %H:%M} UTC"
        title = link(escape(shorten(article.title, 60)), article.url, FIELD_VALUE_LIMIT - len(when))
        items.append(Item(escape(article.outlet), title + when))
    pages = paginate(items, per_page=20, budget=MESSAGE_BUDGET - len(facts))
    description = f"{facts}\nFirst seen {story.first_seen:%Y-%m-%d %H:%M} UTC · importance {story.score:g}"
    return [
        build_embed(
            title=escape(story.title),
            url=story.url,
            description=description,
            items=page,
            footer=f"Story {story.id} · page {number} of {len(pages)} · {count(len(story.articles), 'article')}",
        )
        for number, page in enumerate(pages or [[]], start=1)
    ]


def latest_pages(stories: Sequence[Story], heading: str) -> list[discord.Embed]:
    pages = paginate([story_item(story, links=3) for story in stories], per_page=6, budget=MESSAGE_BUDGET)
    return [
        build_embed(title=heading, items=page, footer=f"Page {number} of {len(pages)}")
        for number, page in enumerate(pages, start=1)
    ]
