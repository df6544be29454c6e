"""Relevance and tags of one article: which topics its title and summary match, and for those that match, the
countries and the event it reports.

Pure and synchronous (no store, no clock), so that it can run wherever the poll puts CPU work. The pipeline
builds one `TopicMatcher` per poll from the topics to match and calls `tag` once per new article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from bot.news.events import detect_event
from bot.news.gazetteer import mentions, rank
from bot.news.models import DetectedEvent
from bot.news.textnorm import Document, normalize
from bot.news.topics import DEFAULT_TOPIC_NAME, And, Node, Not, Query, Term, default_query


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    query: Query


def default_topic() -> Topic:
    return Topic(DEFAULT_TOPIC_NAME, default_query())


@dataclass(frozen=True, slots=True)
class Tagging:
    """What one article matched: topic names and terms; countries and event only when a topic matched."""

    topics: tuple[str, ...] = ()
    matched_terms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    event: DetectedEvent | None = None


NO_MATCH = Tagging()


def anchors(node: Node) -> frozenset[str] | None:
    """Words of which a matching article must contain at least one, or None when no such set exists.

    Why: building an article's word index costs far more than scanning its normalised text for a few words, and
    most articles of a feed match no topic. Every atom of a matched term is, after normalisation, a substring of
    the normalised text (tokens are substrings of it, clitic-stripped variants are suffixes of tokens, prefix
    atoms are prefixes of those), so a text without any anchor cannot match. A term contributes its longest
    atom, an OR the union of its branches, an AND its smallest child set; a NOT gives no anchor.
    """
    if isinstance(node, Term):
        texts = [atom.text for atom in node.atoms]
        return frozenset({max(texts, key=len)}) if texts and all(texts) else frozenset()
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        sets = [found for child in node.children if (found := anchors(child)) is not None]
        return min(sets, key=len) if sets else None
    union: set[str] = set()
    for child in node.children:
        found = anchors(child)
        if found is None:
            return None
        union |= found
    return frozenset(union)


@cache
def _ascii_table() -> dict[int, str]:
    return {code: normalize(chr(code)) for code in range(128)}


def fast_normalize(text: str) -> str:
    """`normalize(text)`, by a table for ASCII text (most English news), where normalising is character by
    character; about 50 times faster than the general path, which is kept for every other text."""
    return text.translate(_ascii_table()) if text.isascii() else normalize(text)


def _could_match(normalized: str, words: frozenset[str] | None) -> bool:
    return words is None or any(word in normalized for word in words)


class TopicMatcher:
    """Matches articles against a set of topics (a name used twice keeps its first query; the caller adds the
    default topic where it applies). The anchors of each query are computed once and kept while it is in use."""

    def __init__(self, topics: Sequence[Topic] = ()) -> None:
        self._topics: list[Topic] = []
        self._anchors: list[frozenset[str] | None] = []
        self._anchor_cache: dict[Query, frozenset[str] | None] = {}
        self.set_topics(topics)

    @property
    def topics(self) -> tuple[Topic, ...]:
        return tuple(self._topics)

    def set_topics(self, topics: Sequence[Topic]) -> None:
        chosen: dict[str, Topic] = {}
        for topic in topics:
            chosen.setdefault(topic.name, topic)
        self._topics = list(chosen.values())
        cache = self._anchor_cache
        self._anchors = [
            cache[t.query] if t.query in cache else cache.setdefault(t.query, anchors(t.query.root))
            for t in self._topics
        ]
        if len(cache) > 4 * len(self._topics) + 64:  # queries of removed topics: forget them now and then
            self._anchor_cache = {t.query: a for t, a in zip(self._topics, self._anchors, strict=True)}

    def tag(self, title: str, summary: str) -> Tagging:
        """The topics `title` and `summary` match, with their terms; countries and event when any matched."""
        normalized = fast_normalize(f"{title}\n{summary}")
        possible = [t for t, words in zip(self._topics, self._anchors, strict=True) if _could_match(normalized, words)]
        if not possible:
            return NO_MATCH
        document = Document(title, summary)
        topics: list[str] = []
        terms: list[str] = []
        for topic in possible:
            found = topic.query.match_document(document)
            if found is not None:
                topics.append(topic.name)
                terms.extend(found.terms)
        if not topics:
            return NO_MATCH
        found_mentions = mentions(document, title, summary)
        countries = rank(found_mentions)
        event = detect_event(title, summary, countries, document=document, found_mentions=found_mentions)
        return Tagging(tuple(topics), tuple(dict.fromkeys(terms)), countries, event)
