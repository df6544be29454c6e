"""Text to embeds within Discord's limits (research/discord.md, section 5).

Discord rejects a message whose embeds break a limit (400 / 50035), and discord.py does not check: every
embed the bot sends is built here. Text is shortened at a word boundary with a visible marker, never cut
mid-word silently; long answers are split into pages, and pages never drop an item. Only web addresses leave
this module as links: Discord refuses an embed URL that is not http(s) (a feed entry without a link is known
by an identity such as `guid:...`), and a markdown link to anything else would at best show as raw text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import discord

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000  # title + description + field names/values + footer + author, over all embeds
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
URL_LIMIT = 2048  # an embed URL's longest (Discord refuses longer ones)

_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f<>]")
# A parenthesis would end a markdown link's target early: percent-encoded, the address stays the same.
_MARKDOWN_URL = str.maketrans({"(": "%28", ")": "%29"})

MARKER = "…"
COLOUR = discord.Colour.from_rgb(35, 110, 180)


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters: cut at the last space before the limit and end with a marker."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(MARKER):
        return MARKER[:limit]
    cut = text[: limit - len(MARKER)]
    space = len(cut) if text[len(cut)].isspace() else cut.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back; else a hard cut, still marked
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + MARKER


def embed_size(embed: discord.Embed) -> int:
    """What counts toward the 6000 limit, as Discord counts it (whitespace trimmed)."""
    total = len((embed.title or "").strip()) + len((embed.description or "").strip())
    total += sum(len((field.name or "").strip()) + len((field.value or "").strip()) for field in embed.fields)
    total += len((embed.footer.text or "").strip()) + len((embed.author.name or "").strip())
    return total


_BARE_BRACKET = re.compile(r"(?<!\\)([\[\]])")


def escape(text: str) -> str:
    """News and data text shown as is: markdown and mention syntax neutralised. Every square bracket is escaped,
    not only those of a whole link: a half link in a title ("[x](javascript:") could otherwise join with the
    bot's own links after it; the only links in a message are the bot's, to http(s) addresses."""
    escaped = discord.utils.escape_markdown(text)
    return discord.utils.escape_mentions(_BARE_BRACKET.sub(r"\\\1", escaped))


def web_url(url: str | None) -> str | None:
    """`url` when Discord would take it as a link (http or https, a host, at most 2048 characters), else None."""
    if not url or len(url) > URL_LIMIT or _NOT_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def link(text: str, url: str | None, room: int = FIELD_VALUE_LIMIT) -> str:
    """`text` (already escaped) as a markdown link to `url`, or plain when `url` is no web address or the link
    would not fit in `room` characters (a link cut by shortening would show as broken markup)."""
    target = web_url(url)
    if target is None:
        return text
    markdown = f"[{text}]({target.translate(_MARKDOWN_URL)})"
    return markdown if len(markdown) <= room else text


@dataclass(frozen=True, slots=True)
class Item:
    """One field of a paged list: a heading and its text (already escaped where needed)."""

    name: str
    value: str

    def clipped(self) -> Item:
        blank = "\u200b"  # Discord refuses an empty field name or value
        return Item(shorten(self.name, FIELD_NAME_LIMIT) or blank, shorten(self.value, FIELD_VALUE_LIMIT) or blank)


def paginate(items: Sequence[Item], *, per_page: int, budget: int) -> list[list[Item]]:
    """Split `items` into pages of at most `per_page` fields and `budget` characters; every item once, in order.

    A single item larger than the budget is already clipped to the field limits (1,280 characters at most),
    so as long as `budget` is above that, each page holds at least one item and none is lost.
    """
    per_page = max(1, min(per_page, FIELD_COUNT_LIMIT))
    pages: list[list[Item]] = []
    page: list[Item] = []
    used = 0
    for item in (item.clipped() for item in items):
        size = len(item.name) + len(item.value)
        if page and (len(page) >= per_page or used + size > budget):
            pages.append(page)
            page, used = [], 0
        page.append(item)
        used += size
    if page:
        pages.append(page)
    return pages


def build_embed(
    *, title: str, description: str = "", items: Sequence[Item] = (), footer: str = "", url: str | None = None
) -> discord.Embed:
    """One embed within every limit; fields past what fits are left to the caller's pagination."""
    embed = discord.Embed(
        title=shorten(title, TITLE_LIMIT),
        description=shorten(description, DESCRIPTION_LIMIT) or None,
        colour=COLOUR,
        url=web_url(url),
    )
    if footer:
        embed.set_footer(text=shorten(footer, FOOTER_LIMIT))
    for item in items[:FIELD_COUNT_LIMIT]:
        clipped = item.clipped()
        embed.add_field(name=clipped.name, value=clipped.value, inline=False)
    if embed_size(embed) > EMBED_TOTAL_LIMIT:
        raise ValueError("embed over 6000 characters: paginate the items first")
    return embed
