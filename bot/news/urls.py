"""Article identity: the key under which the same article from two feeds is stored once (issue 4, item 4).

Choices, and why:
- http and https are one identity (normalised to https): outlets serve both and feeds disagree.
- A leading `www.` is dropped: `reuters.com` and `www.reuters.com` are the same article, and identity must meet
  across feeds. Other subdomains (`edition.cnn.com`, `m.`) are kept: they are sometimes different sites.
- Tracking parameters are dropped, the rest sorted; the fragment and user info are dropped; default ports dropped;
  percent-escapes of unreserved characters decoded and the others upper-cased; a trailing slash is removed
  (except the root), since `/news/x/` and `/news/x` are the same page on every outlet we read.
- Google News links (`news.google.com/rss/articles/...`) are opaque redirects whose target is not in the feed, so
  their identity is the outlet's host plus the normalised title. Such an item and the outlet's own feed item
  cannot share a key; they are joined later by story clustering, not here.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from bot.native import pickled_by_fields
from bot.news.models import Entry
from bot.news.textnorm import CharacterTable

_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "cmp",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "oc",
        "ito",
        "icid",
        "ref_src",
        "smid",
        "sr_share",
        "__twitter_impression",
        "_ga",
        "_gl",
        "mkt_tok",
        "s_cid",
        "traffic_source",
        "guccounter",
    }
)
_TRACKING_PREFIXES = ("utm_", "ns_", "pk_", "mtm_", "hsa_", "at_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_PATH_SAFE = "/%:@!$&'()*+,;="
_QUERY_SAFE = ":@!$'()*,;/?"
_GOOGLE_NEWS_PATHS = ("/rss/articles/", "/articles/", "/__i/rss/rd/articles/")

_SEPARATORS = (" - ", " | ", " – ", " — ")  # en and em dashes are real title separators
_CONNECTORS = frozenset({"of", "the", "and", "de", "al", "el", "for", "on", "&", "news", "la", "le"})
_SUFFIX_MAX_WORDS = 5
_SUFFIX_MAX_CHARS = 40


def _normalise_escapes(part: str, safe: str) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, escape what must be escaped."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return quote(_ESCAPE.sub(fix, part), safe=safe)


def _is_tracking(key: str) -> bool:
    folded = key.lower()
    return folded in _TRACKING_EXACT or folded.startswith(_TRACKING_PREFIXES)


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


# The commonest link: http(s), a plain host name, a path without escapes (its other characters, such as a
# headline's accents and dashes, are escaped as parsing would), perhaps a query of unreserved keys and values
# ("?utm_source=rss&id=7"), no fragment. Its identity form needs no parsing (what `_canonical_parsed` gives,
# checked by tests/news/test_urls.py); of bench/newsfeeds.py's links, four in five did not fit the shape without
# queries and accents, and took 0.25 s for 24,530 items where all now take 0.10 s.
_PLAIN_URL = re.compile(
    r"(?:https?|HTTPS?)://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)\.?(/[^\x00-\x20\x7f%?#]*)?(?:\?([A-Za-z0-9._~=&-]*))?"
)
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9._~/-]*")
# What `quote(path, safe=_PATH_SAFE)` escapes: every character but ASCII letters, digits, "_.-~" and the safe ones.
_PATH_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-~" + re.escape(_PATH_SAFE) + "]+")


def _escaped(run: re.Match[str]) -> str:
    """A run of characters as `quote` escapes it, each UTF-8 byte as %XX. Why not `quote`: it looks up every
    byte of the path in Python, and a headline's path is mostly ASCII (three in ten of bench/newsfeeds.py's links
    hold an accent or a dash)."""
    return "%" + run.group().encode().hex("%").upper()


def canonical_url(url: str) -> str:
    """The identity form of an http(s) URL; anything else (or anything unparseable) comes back stripped."""
    url = url.strip()
    plain = _PLAIN_URL.fullmatch(url)
    if plain is None:
        return _canonical_parsed(url)
    host = _strip_www(plain.group(1).lower())
    path = plain.group(2) or "/"
    if not _UNRESERVED_PATH.fullmatch(path):
        path = _PATH_UNSAFE.sub(_escaped, path)
    path = path.rstrip("/") or "/"
    if not plain.group(3):
        return f"https://{host}{path}"
    query = _plain_query(plain.group(3))
    if query is None:
        return _canonical_parsed(url)  # a value holding "=" is escaped
    return f"https://{host}{path}?{query}" if query else f"https://{host}{path}"


@functools.lru_cache(maxsize=1024)
def _plain_query(query: str) -> str | None:
    """The identity form of a plain link's query (see `_PLAIN_URL`), None when it needs parsing. Cached: a feed's
    links share one query ("?utm_source=rss"), and reading it again was most of a link's time."""
    pairs: list[tuple[str, str]] = []
    for piece in query.split("&"):
        key, _, value = piece.partition("=")
        if "=" in value:
            return None
        if key and not _is_tracking(key):
            pairs.append((key, value))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _canonical_parsed(url: str) -> str:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if "@" in parts.netloc or ":" in parts.netloc or "[" in parts.netloc or "%" in parts.netloc:
            host = (parts.hostname or "").rstrip(".")
            port = parts.port
        else:  # a bare host name (nearly every link): what `hostname` and `port` give, without parsing it twice
            host = parts.netloc.lower().rstrip(".")
            port = None
    except ValueError:
        return url
    if scheme not in _DEFAULT_PORTS or not host:
        return url
    host = _strip_www(host.lower())
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port not in (80, 443):  # both are the default once http and https are one
        host = f"{host}:{port}"
    path = _normalise_escapes(parts.path, _PATH_SAFE) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k and not _is_tracking(k)]
    query = "&".join(f"{quote(k, safe=_QUERY_SAFE)}={quote(v, safe=_QUERY_SAFE)}" for k, v in sorted(pairs))
    return urlunsplit(("https", host, path, query, ""))


@functools.lru_cache(maxsize=16384)
def host_of(url: str) -> str:
    """The outlet key of a URL: its lower-cased host without `www.` ("" when there is none).

    Cached: a story's facts count its outlets by host each time it grows, and a large story's articles were parsed
    again every time (a fifth of the views' refresh at 2,000 feeds)."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return _strip_www(host.lower().rstrip("."))


def _looks_like_outlet(name: str) -> bool:
    """Conservative: short, title-cased words or a domain; a headline's tail ("Trump says yes") fails."""
    words = name.split()
    if not words or len(words) > _SUFFIX_MAX_WORDS or len(name) > _SUFFIX_MAX_CHARS:
        return False
    if name[-1] in "?!:,;" or name[0] in "\"'“‘(":
        return False
    if len(words) == 1 and re.fullmatch(r"[\w-]+(\.[\w-]+)+", name):
        return True  # "Axios.com", "Ynetnews.com"
    if all(word.isdigit() for word in words):
        return False
    return all(word[0].isupper() or word.lower() in _CONNECTORS or not word[0].isalpha() for word in words) and (
        words[0][0].isupper() or words[0][0].isdigit()
    )


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Cached: what it folds is an outlet's name and a title's last part, which is that name in most items."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def split_outlet_suffix(title: str, outlet: str | None) -> tuple[str, str | None]:
    """Split "Headline - Outlet" into ("Headline", "Outlet").

    With `outlet` given, only a suffix naming that outlet is split off; without it, only one that looks like an
    outlet's name. When nothing is split, the title comes back unchanged with `outlet` as given.
    """
    stripped = title.strip()
    index, sep = -1, ""
    for candidate in _SEPARATORS:  # the last separator in the title
        found = stripped.rfind(candidate)
        if found > index:
            index, sep = found, candidate
    if index <= 0:
        return stripped, outlet
    head, tail = stripped[:index].strip(), stripped[index + len(sep) :].strip()
    if not head or not tail:
        return stripped, outlet
    if outlet is not None:
        folded_tail, folded_outlet = _fold(tail), _fold(outlet)
        if folded_tail == folded_outlet or folded_tail.removeprefix("the ") == folded_outlet.removeprefix("the "):
            return head, tail
        return stripped, outlet
    if len(head.split()) >= 3 and _looks_like_outlet(tail):
        return head, tail
    return stripped, outlet


# A space for each punctuation mark, symbol, separator and control character. Why a table: a generator asking for
# each character's category was most of the time of a Google News item's identity.
_TITLE_CHARACTERS = CharacterTable(lambda char: " " if unicodedata.category(char)[0] in "PSZC" else char)


def normalise_title(title: str) -> str:
    """Casefolded, punctuation and symbols removed, whitespace collapsed; letters of every script are kept."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(text.translate(_TITLE_CHARACTERS).split())


# A Google News link as feeds write it: parsing it, for its host and path, was half of its identity's time.
_GOOGLE_NEWS_LINK = re.compile(
    r"(?i:https?://news\.google\.com)(?:" + "|".join(map(re.escape, _GOOGLE_NEWS_PATHS)) + ")"
)


def is_google_news_link(url: str) -> bool:
    if "news.google.com" not in url.lower():
        return False  # most links, without parsing them: a host that lower-cases to it is in the lower-cased URL
    return bool(_GOOGLE_NEWS_LINK.match(url.strip())) or _is_google_news_parsed(url)


def _is_google_news_parsed(url: str) -> bool:
    """The definition: the link's host, and a path that starts as Google News's article links do."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return (parts.hostname or "").lower() == "news.google.com" and parts.path.startswith(_GOOGLE_NEWS_PATHS)


def article_identity(entry: Entry) -> str:
    """The key that makes the same article meet across feeds: the canonical link.

    For a Google News redirect: `gnews:<outlet host>/<normalised title>`, with the host from `<source url>`
    (or the outlet's folded name when there is none).
    """
    if is_google_news_link(entry.link):
        title, _ = split_outlet_suffix(entry.title, entry.outlet)
        if entry.outlet_url and host_of(entry.outlet_url):
            outlet_key = host_of(entry.outlet_url)
        else:
            outlet_key = normalise_title(entry.outlet or "")
        return f"gnews:{outlet_key}/{normalise_title(title)}"
    if entry.link.strip():
        return canonical_url(entry.link)
    return f"guid:{entry.guid or ''}"


_TITLE_PARTS = re.compile(r"\s+[-|–—:]\s+")
# Host labels that name no outlet ("edition.cnn.com", "feeds.bbci.co.uk").
_GENERIC = frozenset({"www", "rss", "feed", "feeds", "edition", "com", "org", "net", "news", "app", "api"})
_TLD = re.compile(r"\.(com|net|org|co\.uk|co|news|tv)$", re.IGNORECASE)


def outlet_name(feed_title: str | None, feed_link: str | None = None) -> str | None:
    """A readable outlet name from a feed's title: "CNN.com - RSS Channel - App International Edition" → "CNN",
    "BBC News - Home" → "BBC News", "World news | The Guardian" → "The Guardian".

    Feed titles pile a section and a tagline around the outlet's name; the part that names the outlet is the one
    holding the main label of the feed's host (cnn, bbc, theguardian), else the first part.
    """
    if not feed_title or not feed_title.strip():
        return None
    parts = [part.strip() for part in _TITLE_PARTS.split(feed_title.strip()) if part.strip()]
    labels = [label for label in host_of(feed_link or "").split(".") if len(label) > 2 and label not in _GENERIC]
    folded = [re.sub(r"[^a-z0-9]", "", part.casefold()) for part in parts]
    chosen = next(
        (part for part, text in zip(parts, folded, strict=True) if any(lb in text for lb in labels)), parts[0]
    )
    return _TLD.sub("", chosen) or chosen


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
