"""Feed bodies to entries: RSS 0.9x/1.0/2.0, Atom, JSON Feed and GDELT ArtList JSON (issue 4, item 3).

The parser was chosen by measurement (`bench/parse.py` on this shared 2-core machine; 39 real 2020 BBC/CNN/Guardian
feeds of 53 KB on average, and 200 synthetic 50-item feeds of 98 KB with 0.5-2 KB HTML descriptions):

    corpus:    feedparser 63 feeds/s, fastfeedparser 4,900 feeds/s, this module 620 feeds/s
    synthetic: feedparser 17 feeds/s, fastfeedparser 2,300 feeds/s, this module 240 feeds/s

On the 1,935 corpus items, fastfeedparser and this module both agree with feedparser on 100% of titles, links,
dates and (cleaned) summaries. fastfeedparser is fastest (a Rust core; it also does no text cleaning), but it
drops Google News' `<source url>` (our outlet), reads the ambiguous zone "IST" as India's, raises on bodies it
cannot read and turns lxml's `huge_tree` on. So we use lxml directly (10-14x feedparser; lxml's parse is ~20% of
our time, the rest is building clean entries) with entity expansion, DTD loading, network access and huge trees off and
`recover` on. feedparser is the reference in the benchmark, not a fallback: its loose parser is 10-15x slower and a
feed that lxml cannot recover is rare enough to report as an error.

Every failure is a value: `parse_feed` never raises; a malformed feed gives `ParsedFeed.error` and whatever entries
were recovered. Undeclared HTML entities (`&nbsp;`, `&rsquo;`) and bare ampersands, common in real feeds, are
rewritten to character references and the body parsed again (only then: the rewrite costs as much as a parse).
Declared entities are never expanded: an external entity (XXE) is left out of the text, never read; a
billion-laughs document is refused by libxml2's amplification guard (an error, no entries, in microseconds).
"""

from __future__ import annotations

import codecs
import html
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_tz
from functools import partial
from html.entities import html5
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from bot.native import pickled_by_fields
from bot.news.models import Entry, ParsedFeed, Source
from bot.news.urls import is_google_news_link, outlet_name, split_outlet_suffix

SUMMARY_MAX_CHARS = 2000

_ATOM = "http://www.w3.org/2005/Atom"
_NS_ALIASES = {
    "": "",
    "http://purl.org/rss/1.0/": "",
    "http://my.netscape.com/rdf/simple/0.9/": "",
    "http://backend.userland.com/rss2": "",
    "http://backend.userland.com/rss": "",
    _ATOM: "atom",
    "http://purl.org/atom/ns#": "atom",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/rss/1.0/modules/content/": "content",
}
_RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

_XML_PREDEFINED = {b"amp": b"&#38;", b"lt": b"&#60;", b"gt": b"&#62;", b"quot": b"&#34;", b"apos": b"&#39;"}
_AMPERSAND = re.compile(rb"&(#[0-9]{1,7};|#x[0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)?")
_PROLOG_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=", re.IGNORECASE)
_PROLOG_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.IGNORECASE)
_SINGLE_BYTE = frozenset({"latin-1", "iso8859-1", "cp1252", "iso8859-15", "ascii"})

_DROP_BLOCKS = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
# Block-level tags (and comments) become a space. The names are factored ("t(?:[rdh]|able)" for tr, td, th,
# table): each is followed by `\b`, so at most one can match and the order of the alternatives does not matter.
_BLOCK_SOURCE = (
    r"<!--.*?(?:-->|\Z)|</?(?:p(?:re)?|b(?:r|lockquote)|d(?:iv|[dt])|li|ul|ol|h(?:[1-6r]|eader)|t(?:[rdh]|able)"
    r"|fig(?:ure|caption)|img|section|article|footer)\b[^>]*>"
)
_BLOCK_TAG = re.compile(_BLOCK_SOURCE, re.IGNORECASE | re.DOTALL)
# The same on ASCII text, where re.ASCII changes nothing but lets the engine compare cases by table: 40% faster
# (this pass runs over every summary).
_BLOCK_TAG_ASCII = re.compile(_BLOCK_SOURCE, re.IGNORECASE | re.DOTALL | re.ASCII)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!\[CDATA\[|\]\]>")
_TAG_ONLY = re.compile(r"</?[A-Za-z][^<>]*>")  # the same without CDATA marks (a single character to look for)
_WORDPRESS_FOOTER = re.compile(r"The post .{1,400} appeared first on .{1,120}", re.DOTALL)
_READ_MORE = re.compile(
    r"\s*(?:Continue reading|Read more|Read the full story)\s*(?:\.\.\.|…|»|→)?\s*\Z", re.IGNORECASE
)

# Unambiguous zone names; others (IST is India, Israel or Ireland; AST Arabia or Atlantic) give no time at all.
_ZONES = {
    "GMT": 0,
    "UT": 0,
    "UTC": 0,
    "Z": 0,
    "WET": 0,
    "BST": 1,
    "CET": 1,
    "WEST": 1,
    "CEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "IDT": 3,
    "GST": 4,
    "PKT": 5,
    "HKT": 8,
    "SGT": 8,
    "JST": 9,
    "KST": 9,
    "AEST": 10,
    "AEDT": 11,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
# The form nearly every feed writes ("Thu, 06 Nov 2025 11:43:00 +0000"); anything else goes through parsedate_tz.
_RFC822_COMMON = re.compile(
    r"(?:[A-Z][a-z]{2}, )?(\d\d?) ("
    + "|".join(_MONTHS)
    + r") ([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}|[A-Z]{1,5})",
    re.ASCII,
)
_RFC822_ZONE = re.compile(r"(?:\s|\d)([A-Za-z]{1,5}|[+-]\d{4}|[+-]\d\d:\d\d)\s*$")
_GDELT_LANGUAGES = {"english": "en", "arabic": "ar", "hebrew": "he", "russian": "ru", "french": "fr", "turkish": "tr"}


# --- text -------------------------------------------------------------------------------------------------------


def clean_text(fragment: str, *, limit: int | None = None) -> str:
    """HTML (or text) to one line of plain text: scripts and styles dropped, entities decoded, spaces collapsed."""
    text = " ".join(markup_text(fragment).split())
    return text if limit is None else _truncate(text, limit)


def markup_text(fragment: str) -> str:
    """HTML (or text) to text, spaces as they are: scripts and styles dropped, block-level tags a space, other tags
    removed, entities decoded. (`clean_text` collapses the spaces.)"""
    if "<" in fragment:
        if fragment.isascii():
            # only ASCII letters match the names in ASCII text; the check costs less than a pass
            folded = fragment.lower()
            if "<script" in folded or "<style" in folded or "<noscript" in folded or "<template" in folded:
                fragment = _DROP_BLOCKS.sub(" ", fragment)
            fragment = _BLOCK_TAG_ASCII.sub(" ", fragment)
        else:
            fragment = _BLOCK_TAG.sub(" ", _DROP_BLOCKS.sub(" ", fragment))
        tags = _TAG if "]]>" in fragment or "<![CDATA[" in fragment else _TAG_ONLY
        fragment = tags.sub("", fragment)
    return unescape(fragment)


# The references nearly every feed writes (WordPress's quotes, dashes and spaces) and what each stands for, replaced
# a pass each before `html.unescape` reads what is left: it calls back into Python for every reference (a fifth of
# a description's cleaning in bench/newsfeeds.py's feeds). None of them stands for "&", which could start a new
# reference with the text after it; and each, with its ";", is a whole reference wherever it stands (what stands
# for it is no letter or digit of a reference's name or number, and a name before it is read as far as it goes).
_COMMON_REFERENCES = tuple(
    (reference, html.unescape(reference))
    for reference in ("&#8220;", "&#8221;", "&#8217;", "&#8216;", "&nbsp;", "&#8211;", "&#8212;", "&#8230;", "&#039;")
)


def unescape(text: str) -> str:
    """`html.unescape`, the commonest references first (see `_COMMON_REFERENCES`)."""
    if "&" not in text:
        return text
    for reference, character in _COMMON_REFERENCES:
        text = text.replace(reference, character)  # the text itself, not a copy, when it holds none
    return html.unescape(text)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"


def clean_summary(fragment: str) -> str:
    """Clean text without the feed's footers ("The post X appeared first on Y.", "Continue reading...")."""
    return _summary(markup_text(fragment))


def _summary(text: str) -> str:
    """`clean_summary` of a fragment whose `markup_text` is `text`."""
    text = " ".join(text.split())
    marker = text.rfind("The post ")  # searched from the end: a regex over the whole summary is 10x slower
    if marker != -1 and _WORDPRESS_FOOTER.fullmatch(text, marker):
        text = text[:marker]
    read_more = _READ_MORE.search(text, max(len(text) - 40, 0))
    if read_more is not None:
        text = text[: read_more.start()]
    return _truncate(text.rstrip(), SUMMARY_MAX_CHARS)


# --- dates ------------------------------------------------------------------------------------------------------


def parse_date(value: str | None) -> datetime | None:
    """RFC 822 or ISO 8601 to aware UTC; a time with no zone is taken as UTC, an unknown zone name gives None."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text[:4].isdigit():
        iso = _parse_iso(text)
        if iso is not None:
            return iso
    return _parse_rfc822(text)


def _parse_iso(text: str) -> datetime | None:
    candidate = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return _to_utc(parsed)


def _parse_rfc822(text: str) -> datetime | None:
    common = _RFC822_COMMON.fullmatch(text)
    if common is not None:
        # what parsedate_tz gives for this form, read in one step (a third of its time; every item has a date)
        day, month, year, hour, minute, second, zone_token = common.groups()
        parts: tuple[int, ...] = (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
        token = zone_token.upper()
    else:
        parsed = parsedate_tz(text)
        if parsed is None:
            return None
        parts = tuple(parsed[:6])
        # parsedate_tz reads every zone it does not know as UTC; we read the zone ourselves.
        zone = _RFC822_ZONE.search(text)
        token = zone.group(1).upper() if zone else ""
    if not token:
        offset = 0  # no zone given: UTC, as feedparser does
    elif token[0] in "+-":
        digits = token[1:].replace(":", "")
        offset = (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * (-1 if token[0] == "-" else 1)
    elif token in _ZONES:
        offset = _ZONES[token] * 3600
    else:
        return None
    year = parts[0]
    if year < 100:
        year += 2000 if year < 70 else 1900
    try:
        naive = datetime(year, parts[1], parts[2], parts[3], parts[4], min(parts[5], 59))  # noqa: DTZ001
        return (naive - timedelta(seconds=offset)).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _to_utc(value: datetime) -> datetime | None:
    try:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# --- entry point ------------------------------------------------------------------------------------------------


def parse_feed(body: bytes, *, source: Source, content_type: str | None = None) -> ParsedFeed:
    """Parse any supported feed body; never raises (the error is in the result). Text comes out without control
    characters or lone surrogates, whatever the feed held: they mean nothing in news, and a NUL cannot be stored
    by PostgreSQL (one such title once failed every poll)."""
    return draft_feed(body, source=source, content_type=content_type).completed()


class Draft:
    """A feed read up to what an entry's identity and its matching need (`feed`: its entries without summary, date,
    authors and language; the summaries as the feed wrote them, cleaned on request: `summary`, `summary_words`),
    each entry completed on request (`completed`). Why: a poll keeps the few entries that match a topic, and
    reading the rest of every entry (dates, authors, languages) was 5% of a worker's time for nothing, cleaning
    every summary another 5%."""

    __slots__ = ("_markup", "_rest", "_summaries", "_texts", "feed")

    def __init__(
        self,
        feed: ParsedFeed,
        rest: Sequence[Callable[[], Entry]] | None = None,
        markup: Sequence[str] | None = None,
    ) -> None:
        self.feed = feed
        self._rest = rest  # aligned with feed.entries; None: the entries are complete already
        # aligned with feed.entries: each summary as the feed wrote it, its drafted entry's summary left empty until
        # it is asked for (`summary`); None: the drafted entries hold their summaries
        self._markup = markup
        self._summaries: dict[int, str] = {}
        self._texts: dict[int, str] = {}  # what `summary_words` read, for `summary` to go on from

    def summary(self, index: int) -> str:
        """The clean summary of entry `index`, as `parse_feed` gives it."""
        if self._markup is None:
            return self.feed.entries[index].summary
        found = self._summaries.get(index)
        if found is None:
            text = self._texts.pop(index, None)
            text = markup_text(self._markup[index]) if text is None else text
            found = self._summaries[index] = strip_controls(_summary(text))
        return found

    def summary_words(self, index: int) -> str | None:
        """A text that holds every word of entry `index`'s summary, each starting where it starts in it, for less than
        the summary costs: the summary before its spaces are collapsed and its end is cut (footers, its length); what
        a prefilter may read instead of the summary (bot.news.matching.TopicMatcher.may_match). None when no such
        text is at hand: the summary itself is (`summary`), or the text holds a control character, whose removal
        from the summary joins the words around it."""
        if self._markup is None:
            return None
        text = self._texts[index] = markup_text(self._markup[index])
        return None if has_controls(text) else text

    def completed(self, keep: Sequence[bool] | None = None, stand_in: Entry | None = None) -> ParsedFeed:
        """The feed with its entries complete, as `parse_feed` gives them; with `keep` (aligned with the entries),
        only those kept, the others replaced by `stand_in`. Never raises: a parser bug is the feed's error."""
        feed = self.feed
        if self._rest is None and self._markup is None and keep is None:
            return feed
        try:
            entries = tuple(
                self._complete(index, entry) if keep is None or keep[index] else stand_in or entry
                for index, entry in enumerate(feed.entries)
            )
        except Exception as exc:  # a poll must never crash on one feed: the error is the value
            return _unparseable(exc)
        return ParsedFeed(feed.title, feed.link, entries, feed.error)

    def _complete(self, index: int, entry: Entry) -> Entry:
        if self._rest is not None:
            entry = _entry_without_controls(self._rest[index]())
        return entry if self._markup is None else replace(entry, summary=self.summary(index))


def draft_feed(body: bytes, *, source: Source, content_type: str | None = None) -> Draft:
    """`parse_feed`'s reading of a body, its entries left to complete (`Draft`); never raises."""
    try:
        rest: list[Callable[[], Entry]] = []
        markup: list[str] = []
        if source.kind == "gdelt":
            feed = _parse_gdelt(body, source)
        else:
            head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
            if head in (b"{", b"[") or (content_type is not None and "json" in content_type.lower() and head != b"<"):
                feed = _parse_json(body, source)
            else:
                feed = _parse_xml(body, source, content_type, rest, markup)
        if not feed.entries:
            return Draft(_without_controls(feed))
        return Draft(_without_controls(feed), rest or None, markup or None)
    except Exception as exc:  # a poll must never crash on one feed: the error is the value
        return Draft(_unparseable(exc))


def _unparseable(exc: Exception) -> ParsedFeed:
    error = strip_controls(f"unparseable feed: {type(exc).__name__}: {exc}")
    return ParsedFeed(title=None, link=None, entries=(), error=error)


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """`text` without C0/C1 control characters (tab and newlines kept) and lone surrogates."""
    return _CONTROLS.sub("", text) if has_controls(text) else text


def has_controls(text: str) -> bool:
    """Whether `text` holds a character `strip_controls` removes. Each is a control or a surrogate, which
    `str.isprintable` refuses: a printable text (nine in ten of the bench's fields and summaries) is known to hold
    none at C speed, where the search tried each character against the class (3% of a worker's time)."""
    return not text.isprintable() and _CONTROLS.search(text) is not None


def _clean(text: str | None) -> str | None:
    return None if text is None else strip_controls(text)


def _without_controls(feed: ParsedFeed) -> ParsedFeed:
    return ParsedFeed(
        _clean(feed.title), _clean(feed.link), tuple(map(_entry_without_controls, feed.entries)), _clean(feed.error)
    )


def _entry_without_controls(e: Entry) -> Entry:
    # one search over all the entry's text (nearly every entry has none to strip) rather than one a field
    texts = (e.title, e.link, e.summary, *e.authors, e.outlet or "", e.outlet_url or "", e.guid or "", e.language or "")
    if not has_controls("".join(texts)):
        return e
    return Entry(
        title=strip_controls(e.title),
        link=strip_controls(e.link),
        summary=strip_controls(e.summary),
        published=e.published,
        authors=tuple(strip_controls(a) for a in e.authors),
        outlet=_clean(e.outlet),
        outlet_url=_clean(e.outlet_url),
        guid=_clean(e.guid),
        language=_clean(e.language),
    )


# --- JSON -------------------------------------------------------------------------------------------------------


def _load_json(body: bytes) -> tuple[Any, str | None]:
    text = body.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return None, "empty response"
    if text[0] not in "{[":
        return None, " ".join(text[:300].split())  # GDELT answers query errors as 200 text/plain
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _parse_gdelt(body: bytes, source: Source) -> ParsedFeed:
    data, error = _load_json(body)
    if error is not None:
        return ParsedFeed(title=None, link=None, entries=(), error=error)
    if not isinstance(data, dict):
        return ParsedFeed(title=None, link=None, entries=(), error="GDELT: expected a JSON object")
    articles = data.get("articles")
    if articles is None:
        return ParsedFeed(title=source.name, link=None, entries=())  # GDELT's "no results"
    if not isinstance(articles, list):
        return ParsedFeed(title=source.name, link=None, entries=(), error="GDELT: `articles` is not a list")
    entries = []
    for article in articles:
        if not isinstance(article, dict) or not _str(article.get("url")).strip():
            continue
        domain = _str(article.get("domain")).strip().lower()
        language = _str(article.get("language")).strip()
        seen = _str(article.get("seendate")).strip()
        published = None
        try:
            published = datetime.strptime(seen, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            published = parse_date(seen)
        entries.append(
            Entry(
                title=clean_text(_str(article.get("title"))),
                link=_str(article.get("url")).strip(),
                published=published,
                outlet=domain or None,
                outlet_url=f"https://{domain}" if domain else None,
                language=_GDELT_LANGUAGES.get(language.lower(), language.lower()) or source.language,
            )
        )
    return ParsedFeed(title=source.name, link=None, entries=tuple(entries))


def _json_authors(node: Mapping[str, Any]) -> tuple[str, ...]:
    raw = node.get("authors")
    people = raw if isinstance(raw, list) else [node.get("author")]
    return tuple(clean_text(p["name"]) for p in people if isinstance(p, dict) and isinstance(p.get("name"), str))


def _parse_json(body: bytes, source: Source) -> ParsedFeed:
    data, error = _load_json(body)
    if error is not None:
        return ParsedFeed(title=None, link=None, entries=(), error=error)
    if isinstance(data, dict) and "articles" in data and "items" not in data:
        return _parse_gdelt(body, source)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return ParsedFeed(title=None, link=None, entries=(), error="JSON without a feed's `items` list")
    feed_title = clean_text(_str(data.get("title"))) or None
    feed_link = _str(data.get("home_page_url")).strip() or None
    feed_language = _str(data.get("language")).strip() or source.language
    feed_authors = _json_authors(data)
    entries = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        link = _str(item.get("url")).strip() or _str(item.get("external_url")).strip()
        if not link:
            continue
        link = urljoin(feed_link or source.url, link)
        summary = clean_summary(
            _str(item.get("summary")) or _str(item.get("content_html")) or _str(item.get("content_text"))
        )
        title = clean_text(_str(item.get("title"))) or clean_text(summary, limit=120)
        published = parse_date(_str(item.get("date_published"))) or parse_date(_str(item.get("date_modified")))
        item_id = item.get("id")
        entries.append(
            Entry(
                title=title,
                link=link,
                summary=summary,
                published=published,
                authors=_json_authors(item) or feed_authors,
                outlet=outlet_name(feed_title, feed_link) or source.name,
                guid=str(item_id) if isinstance(item_id, (str, int)) else None,
                language=_str(item.get("language")).strip() or feed_language,
            )
        )
    return ParsedFeed(title=feed_title, link=feed_link, entries=tuple(entries))


# --- XML --------------------------------------------------------------------------------------------------------


def _fix_ampersand(match: re.Match[bytes]) -> bytes:
    """Bare `&` to `&#38;`, named references to numeric ones; unknown names (maybe declared) are left alone.

    Predefined ones too: after one bad `&`, libxml2 2.14 in recover mode drops every later `&amp;`.
    """
    reference = match.group(1)
    if reference is None:
        return b"&#38;"
    if reference[:1] == b"#":
        return match.group(0)
    name = reference[:-1]
    if name in _XML_PREDEFINED:
        return _XML_PREDEFINED[name]
    char = html5.get(name.decode("ascii") + ";")
    return b"".join(b"&#%d;" % ord(c) for c in char) if char else match.group(0)


def _entity_trouble(parser: Any) -> bool:
    return any("ENTITY" in e.type_name or e.type_name == "ERR_NAME_REQUIRED" for e in parser.error_log)


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", content_type, re.IGNORECASE)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def _make_parser(encoding: str | None) -> Any:
    # The security settings: no entity expansion, no DTD, no network, libxml2's size and depth limits kept.
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _split(tag: str) -> tuple[str, str]:
    split = _SPLIT_CACHE.get(tag)
    if split is None:
        if tag[:1] == "{":
            namespace, _, local = tag[1:].partition("}")
            split = _NS_ALIASES.get(namespace, namespace), local
        else:
            split = "", tag
        if len(_SPLIT_CACHE) < _SPLIT_CACHE_SIZE:  # a feed's few dozen tag names, seen on every item
            _SPLIT_CACHE[tag] = split
    return split


_SPLIT_CACHE: dict[str, tuple[str, str]] = {}
_SPLIT_CACHE_SIZE = 4096


def _children(element: Any) -> Iterator[tuple[str, str, Any]]:
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            namespace, local = _split(tag)
            yield namespace, local, child


def _text(element: Any) -> str:
    """The element's text without entity references (never expanded) and without comments."""
    if not len(element):
        return element.text or ""  # most fields are one text node
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


_Text = Callable[[Any], str]


# --- CDATA sections read by us, not by libxml2 --------------------------------------------------------------------
# libxml2 reads a CDATA section a character at a time, where it reads other text in fast runs: in bench/newsfeeds.py's
# feeds, whose WordPress-like ones carry each item's description and full article in CDATA, that was a tenth of a
# worker's instructions, and the full article (`content:encoded`) is not even read when the item has a description.
# So the sections of a body read as UTF-8 are taken out before the parse, each replaced by a marker: a private-use
# character and a number of this body's own (which no feed can hold), the section's number and another private-use
# character; `_Lifted` puts a section back where its marker is read. A section is lifted only where libxml2 would
# read it as one (not inside a comment, a processing instruction, a tag or a document type declaration: such a body
# keeps its sections), and only when its text is what libxml2 would make of it, its line ends normalised: one that
# is not UTF-8 or holds a character XML forbids is left to libxml2. A body that libxml2 finds malformed is read again
# as it is (`_parse_xml`): libxml2's recovery around a section is its own, and so are its errors' line numbers.
# tests/news/test_parse.py checks all of this against libxml2's own reading on generated feeds.

_CDATA_OPEN, _CDATA_CLOSE = b"<![CDATA[", b"]]>"
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
# What a section's bytes keep once every byte XML allows in text but line ends is deleted: its line ends, and the C0
# controls XML forbids. One bytes.translate tells both, several times faster than a regular expression's search.
_ALLOWED_BUT_LINE_ENDS = bytes(byte for byte in range(256) if byte >= 0x20 or byte == 0x09)
_LINE_ENDS = b"\r\n"


def _lift_cdata(body: bytes, charset: str | None) -> tuple[bytes, _Text] | None:
    """The body with its CDATA sections replaced by markers, and the `_text` that puts them back; None when no
    section is lifted."""
    start = body.find(_CDATA_OPEN)
    if start == -1 or not _reads_as_utf8(body, charset) or b"<!DOCTYPE" in body[:start]:
        return None
    mark = _MARK_OPEN + os.urandom(4).hex()
    opening, closing = mark.encode(), _MARK_CLOSE.encode()
    sections: list[str] = []
    pieces: list[bytes] = []
    position = 0
    while start != -1:
        end = body.find(_CDATA_CLOSE, start + len(_CDATA_OPEN))
        if end == -1:
            break  # unterminated: libxml2 reports it
        between = body[position:start]
        if _in_markup(between):
            return None
        pieces.append(between)
        section = body[start + len(_CDATA_OPEN) : end]
        text = _section_text(section)
        if text is None:
            pieces.append(body[start : end + len(_CDATA_CLOSE)])
        else:
            pieces.append(opening + b"%d" % len(sections) + closing)
            sections.append(text)
        position = end + len(_CDATA_CLOSE)
        start = body.find(_CDATA_OPEN, position)
    if not sections:
        return None
    pieces.append(body[position:])
    return b"".join(pieces), _Lifted(mark, sections)


def _in_markup(between: bytes) -> bool:
    """Whether what follows these bytes (read from the end of the last section, or the body's start) is inside a
    tag, or a comment or processing instruction opened and not closed in them (comments do not nest: the last one
    opened is the one that may be open)."""
    if between.rfind(b"<") > between.rfind(b">"):
        return True
    comment = between.rfind(b"<!--")
    if comment != -1 and between.find(b"-->", comment + 4) == -1:
        return True
    instruction = between.rfind(b"<?")
    return instruction != -1 and between.find(b"?>", instruction + 2) == -1


def _section_text(section: bytes) -> str | None:
    """A section's text as libxml2 reads it (line ends normalised), or None when libxml2 should judge it: a character
    XML forbids (a C0 control, U+FFFE, U+FFFF), or bytes that are not UTF-8."""
    line_ends = section.translate(None, _ALLOWED_BUT_LINE_ENDS)
    if line_ends.strip(_LINE_ENDS):
        return None
    try:
        text = section.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.isascii() and ("\ufffe" in text or "\uffff" in text):
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n") if b"\r" in line_ends else text


def _reads_as_utf8(body: bytes, charset: str | None) -> bool:
    """Whether libxml2 reads the body as UTF-8: told so, or neither told nor declared otherwise."""
    if charset is not None:
        return charset == "utf-8"
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00", b"\x4c\x6f\xa7\x94")):  # UTF-16, UTF-32, EBCDIC
        return False
    # an encoding it declares and Python does not know: libxml2 reports it, and the body is read again as it is
    return _declared_encoding(body, None) in (None, "utf-8")


class _Lifted:
    """`_text` for a body whose CDATA sections were lifted: each marker read becomes its section's text."""

    __slots__ = ("_mark", "_sections")

    def __init__(self, mark: str, sections: list[str]) -> None:
        self._mark = mark
        self._sections = sections

    def __call__(self, element: Any) -> str:
        text = _text(element)
        if self._mark not in text:
            return text
        parts = text.split(self._mark)
        restored = [parts[0]]
        for part in parts[1:]:
            number, _, rest = part.partition(_MARK_CLOSE)
            restored.append(self._sections[int(number)])
            restored.append(rest)
        return "".join(restored)


def _first_error(parser: Any) -> str | None:
    for error in parser.error_log:
        # An external DTD we refused to load (RSS 0.91's Netscape DTD) is our choice, not the feed's fault.
        if error.level >= etree.ErrorLevels.ERROR and error.domain != etree.ErrorDomains.IO:
            return f"malformed XML at line {error.line}: {error.message}"
    return None


def _declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """The encoding the feed claims: its XML declaration's, else the HTTP header's (None: UTF-8 by default)."""
    found = _PROLOG_DECLARATION.match(body)
    if found is not None:
        try:
            return codecs.lookup(found.group(1).decode("ascii")).name
        except (LookupError, UnicodeDecodeError):
            return None
    return _charset(content_type)


def _encoding(body: bytes, content_type: str | None) -> str | None:
    """The encoding to read the body with: what it declares, unless it declares a one-byte Western encoding while its
    bytes are valid UTF-8 with non-ASCII text, a common server misconfiguration: read as declared, every accent
    and curly quote would come out as mojibake ("Ã©", "â€™"). Genuine Latin-1 text is almost never valid UTF-8."""
    declared = _declared_encoding(body, content_type)
    if declared in _SINGLE_BYTE and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None if _PROLOG_ENCODING.match(body) else declared
        return "utf-8"
    return None if _PROLOG_ENCODING.match(body) else declared


def _read_xml(body: bytes, charset: str | None, *, lift: bool) -> tuple[Any, Any, _Text]:
    """The body's root (None when empty), its parser (with its errors) and how to read its elements' text: with
    `lift`, its CDATA sections read by us (`_lift_cdata`). Raises XMLSyntaxError."""
    parser = _make_parser(charset)
    lifted = _lift_cdata(body, charset) if lift else None
    root = etree.fromstring(lifted[0] if lifted else body, parser)
    if _entity_trouble(parser):
        # HTML entities and bare ampersands are common in real feeds; rewriting them costs as much as parsing,
        # so only the feeds that need it pay for it.
        parser = _make_parser(charset)
        fixed = _AMPERSAND.sub(_fix_ampersand, body)
        lifted = _lift_cdata(fixed, charset) if lift else None
        root = etree.fromstring(lifted[0] if lifted else fixed, parser)
    return root, parser, lifted[1] if lifted else _text


def _parse_xml(
    body: bytes, source: Source, content_type: str | None, rest: list[Callable[[], Entry]], markup: list[str]
) -> ParsedFeed:
    """The feed of an XML body, its entries' summaries left empty; each entry's completion is appended to `rest`
    and its summary as the feed wrote it to `markup` (see `Draft`)."""
    charset = _encoding(body, content_type)
    try:
        try:
            root, parser, text = _read_xml(body, charset, lift=True)
            error = _first_error(parser)
            malformed = text is not _text and error is not None
        except etree.XMLSyntaxError:
            malformed = True
        if malformed:
            # libxml2 recovers from a malformed document in its own way, around the sections too: read as it reads
            root, parser, text = _read_xml(body, charset, lift=False)
            error = _first_error(parser)
    except etree.XMLSyntaxError as exc:
        return ParsedFeed(title=None, link=None, entries=(), error=f"not XML: {exc}")
    if root is None:
        return ParsedFeed(title=None, link=None, entries=(), error=error or "empty document")
    namespace, local = _split(root.tag) if isinstance(root.tag, str) else ("", "")
    if local == "feed" and namespace == "atom":
        feed = _parse_atom(root, source, rest, markup, text)
    elif local in ("rss", "RDF"):
        feed = _parse_rss(root, source, rest, markup, text)
    else:
        return ParsedFeed(title=None, link=None, entries=(), error=f"not a feed: root element <{local}>")
    if error is not None:
        return ParsedFeed(title=feed.title, link=feed.link, entries=feed.entries, error=error)
    return feed


def _rss_author(raw: str) -> str:
    """RSS `<author>` is "email (Name)"; keep the name when there is one."""
    match = re.fullmatch(r"\s*\S+@\S+\s*\((.+)\)\s*", raw)
    return clean_text(match.group(1) if match else raw)


def _parse_rss(
    root: Any, source: Source, rest: list[Callable[[], Entry]], markup: list[str], text: _Text
) -> ParsedFeed:
    channel = next((child for ns, local, child in _children(root) if ns == "" and local == "channel"), None)
    channel_fields: dict[tuple[str, str], Any] = {}
    # RSS 1.0 puts items beside the channel, 0.9x and 2.0 inside it.
    items = [c for ns, local, c in _children(root) if ns == "" and local == "item"]
    if channel is not None:
        for ns, local, child in _children(channel):
            if ns == "" and local == "item":
                items.append(child)
            channel_fields.setdefault((ns, local), child)
    feed_title = clean_text(text(channel_fields[("", "title")])) if ("", "title") in channel_fields else None
    link_element = channel_fields.get(("", "link"))
    feed_link = text(link_element).strip() if link_element is not None else None
    language_element = channel_fields.get(("", "language"), channel_fields.get(("dc", "language")))
    feed_language = (text(language_element).strip() if language_element is not None else "") or source.language
    base = feed_link or source.url
    outlet = outlet_name(feed_title, feed_link) or source.name
    entries = [
        entry
        for item in items
        if (entry := _rss_item(item, base, outlet, feed_language, rest, markup, text)) is not None
    ]
    return ParsedFeed(title=feed_title or None, link=feed_link or None, entries=tuple(entries))


_AUTHOR_KEYS = (("", "author"), ("dc", "creator"))


def _rss_item(
    item: Any,
    base: str,
    feed_outlet: str | None,
    feed_language: str | None,
    rest: list[Callable[[], Entry]],
    markup: list[str],
    text: _Text,
) -> Entry | None:
    """The item's entry without summary, date, authors and language; its completion appended to `rest`, its summary
    as the feed wrote it to `markup`."""
    fields: dict[tuple[str, str], Any] = {}
    authors: list[Any] = []
    for child in item:  # _children inlined: this loop runs for every field of every item
        tag = child.tag
        if not isinstance(tag, str):
            continue
        key = _SPLIT_CACHE.get(tag) or _split(tag)
        fields.setdefault(key, child)
        if key in _AUTHOR_KEYS:
            authors.append(child)
    guid = _first_text(text, fields, ("", "guid")) or item.get(_RDF_ABOUT, "").strip()
    link = _first_text(text, fields, ("", "link"))
    if not link:
        atom_link = fields.get(("atom", "link"))
        link = atom_link.get("href", "").strip() if atom_link is not None else ""
    guid_element = fields.get(("", "guid"))
    if not link and guid and guid_element is not None and guid_element.get("isPermaLink", "true") != "false":
        link = guid if guid.startswith(("http://", "https://")) else ""
    if not link:
        link = item.get(_RDF_ABOUT, "").strip()
    if not link:
        return None  # an item with no address cannot become an article
    if not link.startswith(("https://", "http://")):
        link = urljoin(base, link)
    title = clean_text(_first_text(text, fields, ("", "title"), ("dc", "title")))
    source_element = fields.get(("", "source"))
    outlet = clean_text(text(source_element)) if source_element is not None else ""
    outlet_url = source_element.get("url", "").strip() if source_element is not None else ""
    if not outlet and "news.google.com" in link and is_google_news_link(link):
        outlet = split_outlet_suffix(title, None)[1] or ""
    entry = Entry(
        title=title,
        link=link,
        outlet=outlet or feed_outlet,
        outlet_url=outlet_url or None,
        guid=guid or None,
    )
    rest.append(partial(_rss_rest, entry, item, fields, authors, feed_language, text))
    markup.append(_first_text(text, fields, ("", "description"), ("content", "encoded"), ("atom", "summary")))
    return entry


def _first_text(text: _Text, fields: Mapping[tuple[str, str], Any], *keys: tuple[str, str]) -> str:
    """The text of the first of these fields that has some."""
    for key in keys:
        if key in fields:
            value = text(fields[key]).strip()
            if value:
                return value
    return ""


def _rss_rest(
    entry: Entry,
    item: Any,
    fields: Mapping[tuple[str, str], Any],
    authors: list[Any],
    feed_language: str | None,
    text: _Text,
) -> Entry:
    names = dict.fromkeys(name for element in authors if (name := _rss_author(text(element))))
    language = item.get(_XML_LANG) or _first_text(text, fields, ("dc", "language"), ("", "language")) or feed_language
    published = _first_text(text, fields, ("", "pubDate"), ("dc", "date"), ("atom", "published"), ("atom", "updated"))
    return replace(entry, published=parse_date(published), authors=tuple(names), language=language or None)


def _atom_text(element: Any | None, text: _Text) -> str:
    if element is None:
        return ""
    kind = (element.get("type") or "text").lower()
    raw = text(element)
    if kind in ("text", "text/plain"):
        return " ".join(raw.split())
    return clean_text(raw)  # html (escaped markup) and xhtml (inline markup, already reduced to text)


# An absolute http(s) link that `urljoin` gives back as it is, whatever the base (lower-case scheme, a plain ASCII
# host, no parameters, no empty query or fragment): nearly every Atom link, which then skips two urljoin calls.
ABSOLUTE_LINK = re.compile(
    r"https?://[!$&'()*+,\-.0-9:=@A-Z_a-z~]+(?:/[^\x00-\x20\x7f?#;]*)?(?:\?[^\x00-\x20\x7f#]+)?(?:#[^\x00-\x20\x7f]+)?"
)


def _atom_link(element: Any, base: str) -> str:
    links = [c for ns, local, c in _children(element) if ns == "atom" and local == "link" and c.get("href")]
    return _chosen_link(links, base)


def _chosen_link(links: list[Any], base: str) -> str:
    """The alternate link among an element's links that have an address (else the first), absolute."""
    chosen = next((link for link in links if link.get("rel", "alternate") == "alternate"), links[0] if links else None)
    if chosen is None:
        return ""
    href = str(chosen.get("href")).strip()
    if ABSOLUTE_LINK.fullmatch(href):
        return href
    return urljoin(urljoin(base, str(chosen.get(_XML_BASE) or "")), href)


def _parse_atom(
    root: Any, source: Source, rest: list[Callable[[], Entry]], markup: list[str], text: _Text
) -> ParsedFeed:
    fields: dict[str, Any] = {}
    for ns, local, child in _children(root):
        if ns == "atom":
            fields.setdefault(local, child)
    base = root.get(_XML_BASE) or source.url
    feed_title = _atom_text(fields.get("title"), text) or None
    feed_link = _atom_link(root, base) or None
    feed_language = root.get(_XML_LANG) or source.language
    outlet = outlet_name(feed_title, feed_link) or source.name
    entries = []
    for ns, local, element in _children(root):
        if ns != "atom" or local != "entry":
            continue
        entry_fields: dict[str, Any] = {}
        authors: list[Any] = []
        links: list[Any] = []
        for child_ns, child_local, child in _children(element):
            if child_ns != "atom":
                continue
            entry_fields.setdefault(child_local, child)
            if child_local == "author":
                authors.append(child)
            elif child_local == "link" and child.get("href"):
                links.append(child)
        link = _chosen_link(links, element.get(_XML_BASE) or base)
        if not link:
            continue
        summary_element = entry_fields.get("summary", entry_fields.get("content"))
        guid = text(entry_fields["id"]).strip() if "id" in entry_fields else ""
        summary = ""
        if summary_element is not None:
            kind = (summary_element.get("type") or "text").lower()
            raw = text(summary_element)
            summary = raw if kind not in ("text", "text/plain") else html.escape(raw, quote=False)
        entry = Entry(title=_atom_text(entry_fields.get("title"), text), link=link, outlet=outlet, guid=guid or None)
        entries.append(entry)
        rest.append(partial(_atom_rest, entry, element, entry_fields, authors, feed_language, text))
        markup.append(summary)
    return ParsedFeed(title=feed_title, link=feed_link, entries=tuple(entries))


def _atom_rest(
    entry: Entry,
    element: Any,
    fields: Mapping[str, Any],
    authors: list[Any],
    feed_language: str | None,
    text: _Text,
) -> Entry:
    names = dict.fromkeys(
        name
        for author in authors
        if (name := next((clean_text(text(c)) for n, lc, c in _children(author) if lc == "name"), ""))
    )
    published = next(
        (
            date
            for key in ("published", "updated", "issued", "modified")
            if key in fields and (date := parse_date(text(fields[key]))) is not None
        ),
        None,
    )
    return replace(entry, published=published, authors=tuple(names), language=element.get(_XML_LANG) or feed_language)


__all__ = [
    "SUMMARY_MAX_CHARS",
    "Draft",
    "clean_summary",
    "clean_text",
    "draft_feed",
    "markup_text",
    "parse_date",
    "parse_feed",
]

pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
