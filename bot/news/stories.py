"""Stories: many outlets' articles about one event, grouped within a time window.

The decision is pure (no store, no clock): a `Clusterer` is given the candidate stories (those whose span meets
the new articles' window, looked up by index in the store) and the new articles, and says which story each
article joins or that it starts a new one, and why. The pipeline loads the candidates and saves the result.

Same story, in order of strength:
1. a shared link (the same canonical URL reached through two feeds);
2. the same detected event (kind and country) and at least one shared content word of the title; intent to
   join, signing and joining count as one kind here, as outlets describe one announcement with any of them;
3. similar titles: the overlap coefficient |A ∩ B| / min(|A|, |B|) of the titles' content-word stems is at
   least 0.5 with at least two words shared. Overlap rather than Jaccard because outlets rewrite one headline
   at very different lengths ("UAE, Israel agree to normalize ties" against a 20-word wire headline): Jaccard
   punishes the long one, overlap asks only that the short one be mostly inside the long one.
Never the same story: articles whose partner countries (countries other than Israel and the United States, which
are in nearly every story) are both known and disjoint, and, unless titles are near-identical (overlap >= 0.75),
articles whose events differ in kind or country. A story's span (earliest to latest article, by the articles'
own published times) never exceeds the window, so stories do not chain into one another over days.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.news.models import Article, DetectedEvent, EventKind, Story
from bot.news.textnorm import tokenize
from bot.news.urls import host_of

DEFAULT_WINDOW = timedelta(hours=48)

# Countries in nearly every normalization story: they say nothing about which story an article belongs to.
_COUNTERPARTIES = frozenset({"IL", "US"})

# The steps of one accession, reported as one event on one day: outlets read the same announcement as "agree to
# normalise" (intent), "sign a deal" or "establish ties" (joined). Within the window they are the same story.
_ACCESSION = frozenset({EventKind.INTENT_TO_JOIN, EventKind.JOINED, EventKind.SIGNING})


def _same_kind(a: EventKind, b: EventKind) -> bool:
    return a == b or (a in _ACCESSION and b in _ACCESSION)


# How much an event kind matters to a reader; see `score`.
KIND_WEIGHT: dict[EventKind | None, float] = {
    EventKind.JOINED: 3.0,
    EventKind.SIGNING: 3.0,
    EventKind.INTENT_TO_JOIN: 3.0,
    EventKind.SUSPENSION: 3.0,
    EventKind.RATIFICATION: 2.0,
    EventKind.RECOGNITION: 2.0,
    EventKind.TALKS: 1.5,
    EventKind.STATEMENT: 1.0,
    None: 0.8,
}

# Aggregators whose host says nothing about the outlet: the outlet's name is used instead.
_AGGREGATOR_HOSTS = frozenset({"news.google.com", "news.yahoo.com", "msn.com"})

_STOPWORDS_TEXT = (
    "a an the and or but of to in on at for from by with as is are was were be been its it this that"
    " these those after before over into about amid says said say new will would could may can has have"
    " had not no than then who what when where why how his her their our we you they he she them us up out"
    " more most first last between against during under also just now news report reports live update"
    " updates video watch"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_DIGITS = re.compile(r"^\d+$")

SIMILAR = 0.5
NEAR_IDENTICAL = 0.75
_STEM = 6  # "normalise", "normalize", "normalization" and "normalizing" share their first six letters


def title_words(title: str) -> frozenset[str]:
    """The content-word stems of a title: normalised words, stop words and numbers dropped, cut to 6 letters."""
    out = set()
    for word in tokenize(title):
        if word in _STOPWORDS or _DIGITS.match(word) or (len(word) < 3 and word.isascii()):
            continue
        out.add(word[:_STEM])
    return frozenset(out)


def overlap(a: frozenset[str], b: frozenset[str]) -> tuple[float, int]:
    """The overlap coefficient of two word sets and the number of words they share."""
    if not a or not b:
        return 0.0, 0
    shared = len(a & b)
    return shared / min(len(a), len(b)), shared


def outlet_key(article: Article) -> str:
    """What makes outlets independent: the article's host (without www.), or its outlet's name on aggregators."""
    host = host_of(article.url)
    if not host or host in _AGGREGATOR_HOSTS:
        return "name:" + article.outlet.casefold().strip()
    return host


def _partners(countries: Iterable[str]) -> frozenset[str]:
    return frozenset(countries) - _COUNTERPARTIES


@dataclass(frozen=True, slots=True)
class _Profile:
    """An article as the clustering compares it, computed once."""

    article: Article
    words: frozenset[str]
    partners: frozenset[str]


def _profile(article: Article) -> _Profile:
    return _Profile(article, title_words(article.title), _partners(article.countries))


def affinity(a: _Profile, b: _Profile) -> tuple[float, str] | None:
    """How strongly two articles belong together (higher is stronger) and why, or None when they do not."""
    if a.article.url == b.article.url:
        return 2.0, "same link"
    if a.partners and b.partners and not a.partners & b.partners:
        return None
    sim, shared = overlap(a.words, b.words)
    ea, eb = a.article.event, b.article.event
    if ea is not None and eb is not None:
        same_kind = _same_kind(ea.kind, eb.kind)
        pa, pb = set(ea.countries), set(eb.countries)
        same_countries = pa == pb or bool(pa & pb - _COUNTERPARTIES)
        if same_kind and same_countries and shared >= 1:
            return 1.0 + sim, f"same event ({ea.kind.value}) and title overlap {sim:.2f}"
        if not (same_kind and same_countries):
            if sim >= NEAR_IDENTICAL and shared >= 3:
                return sim, f"near-identical titles ({sim:.2f}) despite different events"
            return None
    if sim >= SIMILAR and shared >= 2:
        return sim, f"similar titles ({sim:.2f}, {shared} words shared)"
    return None


@dataclass(frozen=True, slots=True)
class StoryFacts:
    """What a story says, derived from its articles (see `summarize`)."""

    title: str
    url: str
    first_seen: datetime
    last_seen: datetime
    published: datetime
    last_published: datetime
    countries: tuple[str, ...]
    event: DetectedEvent | None
    topics: tuple[str, ...]
    score: float
    outlet_count: int


def score(kind: EventKind | None, outlets: int, last_published: datetime, now: datetime) -> float:
    """A story's importance: score = W(kind) × (1 + log2(outlets)) / (1 + age_days).

    W(kind) is 3 for joined, signing, intent_to_join and suspension, 2 for ratification and recognition, 1.5 for
    talks, 1 for a statement and 0.8 for no event; `outlets` counts independent outlets (distinct hosts), so
    doubling the outlets that report it adds one unit; `age_days` is the time from the latest article's own
    published time to `now` in days (0 when in the future), so a story loses half its weight after a day and
    keeps a long tail instead of vanishing. Rounded to 3 decimals so that equal stories compare equal.
    """
    age_days = max((now - last_published).total_seconds(), 0.0) / 86400
    value = KIND_WEIGHT[kind] * (1 + math.log2(max(outlets, 1))) / (1 + age_days)
    return round(value, 3)


def _ranked(counts: Counter[str], order: Sequence[str]) -> tuple[str, ...]:
    first = {key: i for i, key in reversed(list(enumerate(order)))}
    return tuple(sorted(counts, key=lambda key: (-counts[key], first[key])))


def summarize(articles: Sequence[Article], now: datetime) -> StoryFacts:
    """A story's facts from its articles.

    Title and link are the earliest article's (the first to report it). Countries: the union, most frequent
    first. Event: the kind with the highest count × weight among the articles (most reported, ties to the most
    important), with its countries by frequency among those articles. Topics: the union in order of appearance.
    """
    if not articles:
        raise ValueError("a story needs at least one article")
    ordered = sorted(articles, key=lambda a: (a.published, a.first_seen, a.url))
    lead = ordered[0]
    all_countries = [key for a in ordered for key in a.countries]
    kinds = Counter(a.event.kind for a in ordered if a.event is not None)
    event: DetectedEvent | None = None
    if kinds:
        kind = max(kinds, key=lambda k: (kinds[k] * KIND_WEIGHT[k], KIND_WEIGHT[k], k.value))
        event_countries = [
            key for a in ordered if a.event is not None and a.event.kind == kind for key in a.event.countries
        ]
        event = DetectedEvent(kind, _ranked(Counter(event_countries), event_countries))
    outlets = len({outlet_key(a) for a in ordered})
    last_published = max(a.published for a in ordered)
    return StoryFacts(
        title=lead.title,
        url=lead.url,
        first_seen=min(a.first_seen for a in ordered),
        last_seen=max(a.first_seen for a in ordered),
        published=lead.published,
        last_published=last_published,
        countries=_ranked(Counter(all_countries), all_countries),
        event=event,
        topics=tuple(dict.fromkeys(topic for a in ordered for topic in a.topics)),
        score=score(event.kind if event else None, outlets, last_published, now),
        outlet_count=outlets,
    )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one article went: `cluster` indexes `Clusterer.clusters`; `reason` says why (for `check --all`)."""

    cluster: int
    new_story: bool
    reason: str


@dataclass(slots=True, eq=False)
class Cluster:
    """A story being built: an existing one (`story_id` set) or a new one, with its articles."""

    story_id: int | None
    articles: list[Article]
    added: list[Article] = field(default_factory=list)
    profiles: list[_Profile] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return min(a.published for a in self.articles)

    @property
    def end(self) -> datetime:
        return max(a.published for a in self.articles)


@dataclass(frozen=True, slots=True)
class StoryDraft:
    """A changed story to save: `story_id` None for a new story; `added` are its new articles."""

    story_id: int | None
    facts: StoryFacts
    articles: tuple[Article, ...]
    added: tuple[Article, ...]


class Clusterer:
    """Places articles into candidate stories or new ones; pure and in memory.

    An inverted index from title words, event keys and links to clusters keeps each placement proportional to the
    stories it could join, not to all stories in the window.
    """

    def __init__(self, candidates: Iterable[Story] = (), *, window: timedelta = DEFAULT_WINDOW) -> None:
        self.window = window
        self.clusters: list[Cluster] = []
        self._index: dict[str, set[int]] = {}
        for story in candidates:
            if story.articles:
                cluster = Cluster(story.id, [])
                self.clusters.append(cluster)
                for article in story.articles:
                    self._attach(len(self.clusters) - 1, article, added=False)

    def _keys(self, profile: _Profile) -> list[str]:
        keys = [f"w:{word}" for word in profile.words]
        keys.append(f"u:{profile.article.url}")
        event = profile.article.event
        if event is not None:
            keys.extend(f"e:{event.kind.value}:{country}" for country in event.countries)
        return keys

    def _attach(self, index: int, article: Article, *, added: bool) -> None:
        cluster = self.clusters[index]
        profile = _profile(article)
        cluster.articles.append(article)
        cluster.profiles.append(profile)
        if added:
            cluster.added.append(article)
        for key in self._keys(profile):
            self._index.setdefault(key, set()).add(index)

    def place(self, article: Article) -> Placement:
        """Put the article in the best story it belongs to within the window, or in a new story."""
        profile = _profile(article)
        candidates: set[int] = set()
        for key in self._keys(profile):
            candidates |= self._index.get(key, set())
        best: tuple[float, int, str] | None = None
        for index in sorted(candidates):
            cluster = self.clusters[index]
            if any(a.url == article.url for a in cluster.articles):
                return Placement(index, False, "already in this story")
            span_start = min(cluster.start, article.published)
            span_end = max(cluster.end, article.published)
            if span_end - span_start > self.window:
                continue
            for other in cluster.profiles:
                found = affinity(profile, other)
                if found is not None and (best is None or found[0] > best[0]):
                    best = (found[0], index, found[1])
        if best is not None:
            self._attach(best[1], article, added=True)
            return Placement(best[1], False, best[2])
        self.clusters.append(Cluster(None, []))
        self._attach(len(self.clusters) - 1, article, added=True)
        return Placement(len(self.clusters) - 1, True, "no similar story in the window")

    def drafts(self, now: datetime) -> list[StoryDraft]:
        """The stories that gained articles, with their new facts."""
        return [
            StoryDraft(c.story_id, summarize(c.articles, now), tuple(c.articles), tuple(c.added))
            for c in self.clusters
            if c.added
        ]


def window_ranges(times: Iterable[datetime], window: timedelta = DEFAULT_WINDOW) -> list[tuple[datetime, datetime]]:
    """The merged time ranges [t - window, t + window] around the given times: what to look up in the store."""
    ranges: list[tuple[datetime, datetime]] = []
    for t in sorted(times):
        lo, hi = t - window, t + window
        if ranges and lo <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        else:
            ranges.append((lo, hi))
    return ranges
