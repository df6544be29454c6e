"""Who may see what of a story: the operator's sources are everyone's, a server's own sources are its alone.

Stories are one shared pool: an article is stored once, and a story groups every article about one event,
whichever source brought it. What a server sees of a story is a *view*: the same story built only from the
articles that server may see. The rules, and why:
- An article's *origins* are the feeds that carried it: `OPERATOR` for the operator's sources (built in or
  SOURCES_FILE), or the URL of a server's own source. A URL added by several servers is one origin, fetched once,
  and serves all of them.
- Scope `PUBLIC` (0) is the view of every server: the articles with the operator's origin. A server whose own
  sources carried some of the story's articles gets a view of its own, scope = its id: the public articles plus
  those its own sources carried. A server without such a view sees the public one; a story with neither does not
  exist for it (so `/story N` cannot reveal another server's news, not even its existence).
- Every fact of a view (title, link, outlets, countries, event, topics, importance) is computed from the view's
  articles alone, with the same `summarize` as the whole story, so an alert, its edits and a digest follow the
  same rule. A view whose articles all come from the server's own sources says so (`own_only`): such news is
  marked as the server's own and never becomes a "reported" fact (those read public views only).
- Freshness is per origin: an article counts as fresh news for a view when the view's origin that carried it
  first saw it within `max_age` of its published time; `fresh_from` and `fresh_seq` are the time and change
  number at which the view first held fresh news, which digests and alerts key on.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.news.models import Article
from bot.news.stories import StoryFacts, summarize

OPERATOR = ""  # the origin of the operator's sources
PUBLIC = 0  # the scope of the view every server sees


def seen_key(origin: str, identity: str) -> str:
    """What `seen_articles` remembers of an article an origin carried. The operator's origin keeps the identity
    itself; a server's source gets a key of its own (fixed length, as both parts can be long), so an article it
    carried first is still new to the operator's sources and to other servers' sources."""
    if origin == OPERATOR:
        return identity
    digest = hashlib.blake2b(f"{origin}\x00{identity}".encode(), digest_size=20).hexdigest()
    return f"origin:{digest}"


@dataclass(frozen=True, slots=True)
class Origin:
    """One feed that carried an article: `origin` (OPERATOR or a server source's URL), when and at which change."""

    origin: str
    seen_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class SourcedArticle:
    """A stored article with its id and every origin that carried it."""

    id: int
    article: Article
    origins: tuple[Origin, ...]


@dataclass(frozen=True, slots=True)
class View:
    """A story as one scope sees it."""

    scope: int
    facts: StoryFacts
    article_ids: tuple[int, ...]
    own_only: bool  # no article of the operator's sources: only the server's own sources reported it
    fresh_from: datetime | None
    fresh_seq: int | None


def _visible(articles: Sequence[SourcedArticle], origins: frozenset[str]) -> list[tuple[SourcedArticle, Origin]]:
    """The articles carried by one of `origins`, each with the earliest of those origins."""
    found = []
    for sourced in articles:
        mine = [o for o in sourced.origins if o.origin in origins]
        if mine:
            found.append((sourced, min(mine, key=lambda o: (o.seq, o.seen_at))))
    return found


def _view(
    scope: int,
    visible: list[tuple[SourcedArticle, Origin]],
    max_age: timedelta | None,
    now: datetime,
) -> View:
    # What the scope saw first is when *it* first saw each article (a public copy can come later than a private one).
    articles = [
        s.article if s.article.first_seen == o.seen_at else dataclasses.replace(s.article, first_seen=o.seen_at)
        for s, o in visible
    ]
    fresh = [o for s, o in visible if max_age is None or o.seen_at - s.article.published <= max_age]
    own_only = all(o.origin != OPERATOR for s, o in visible)
    return View(
        scope=scope,
        facts=summarize(articles, now),
        article_ids=tuple(s.id for s, _ in sorted(visible, key=lambda pair: (pair[0].article.published, pair[0].id))),
        own_only=own_only,
        fresh_from=min((o.seen_at for o in fresh), default=None),
        fresh_seq=min((o.seq for o in fresh), default=None),
    )


def build_views(
    articles: Sequence[SourcedArticle],
    guilds_by_origin: Mapping[str, Iterable[int]],
    *,
    max_age: timedelta | None,
    now: datetime,
) -> dict[int, View]:
    """Every view of one story: the public one when the operator's sources carried any article, and one per server
    whose own sources carried some (`guilds_by_origin` maps a server source's URL to the servers that added it)."""
    views: dict[int, View] = {}
    public = _visible(articles, frozenset({OPERATOR}))
    if public:
        views[PUBLIC] = _view(PUBLIC, public, max_age, now)
    origins_of: dict[int, set[str]] = {}
    for sourced in articles:
        for origin in sourced.origins:
            if origin.origin != OPERATOR:
                for guild_id in guilds_by_origin.get(origin.origin, ()):
                    origins_of.setdefault(guild_id, set()).add(origin.origin)
    for guild_id, own in origins_of.items():
        views[guild_id] = _view(guild_id, _visible(articles, frozenset({OPERATOR, *own})), max_age, now)
    return views
