"""Stories: many outlets' articles about one event, grouped within a time window.

The decision is pure (no store, no clock): a `Clusterer` is given the candidate stories (those whose span meets
the new articles' window, looked up by index in the store) and the new articles, and says which story each
article joins or that it starts a new one, and why. The pipeline loads the candidates and saves the result.

An article joins the story it has the strongest affinity with, among the stories whose span would stay within the
window (earliest to latest article, by the articles' own published times, so stories do not chain over days):
1. a shared link (the same canonical URL reached through two feeds);
2. the same event: compatible kinds about the same country (its partner, not Israel or the US, which are in
   every accord), however few words the titles share, because outlets tell one event in their own words ("Israeli
   FM in Sudan to discuss normalisation" and "Israel and Sudan finalize text of peace agreement"). Compatible:
   the same kind; intent to join, joining and signing, which outlets use for one announcement; and talks with
   any of those, since the agreement is what the talks produced. Statements are one event only when they have
   the same speaker and subject (bot.news.events puts the speaker first): what Iran says about Saudi Arabia is not
   what Saudi Arabia says;
3. related events: about the same country but not the same event (statements of two speakers, a statement of a
   party about its act, an event whose country the text does not name), or an article with no event: similar
   titles, the overlap coefficient |A ∩ B| / min(|A|, |B|) of the titles' content-word stems at least 0.5 with
   at least two words shared (leaving out the names of the country they already share when one has an event).
   Overlap rather than Jaccard because outlets rewrite one headline at very different lengths;
4. a reaction or commentary: an article with no event of its own whose partner country is the country of a
   story's event joins that story (the weakest tie, so a story it shares a title with wins; among several, the one
   whose title is most alike).
Never the same story: articles whose partner countries are both known and disjoint, and, unless titles are
near-identical (overlap >= 0.75 with three words shared), two acts that cannot be one event (a suspension and a
signing of one country on one day are two stories), events of different countries, and a third country's
statement about an act (Turkey threatening the UAE over its deal is Turkey's event, not the deal's).

A story's importance (`score`) depends on what happened and who reported it, never on when it is computed, so a
saved feed of any date ranks the same.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, wraps

from bot.accords import Status, load_knowledge
from bot.countries import all_countries
from bot.native import pickled_by_fields
from bot.news.models import Article, DetectedEvent, EventKind, Shared, Story
from bot.news.textnorm import tokenize
from bot.news.urls import host_of

DEFAULT_WINDOW = timedelta(hours=48)

# Countries in nearly every normalization story: they say nothing about which story an article belongs to.
_COUNTERPARTIES = frozenset({"IL", "US"})

# The steps of one accession, reported as one event on one day: outlets read the same announcement as "agree to
# normalise" (intent), "sign a deal" or "establish ties" (joined).
_ACCESSION = frozenset({EventKind.INTENT_TO_JOIN, EventKind.JOINED, EventKind.SIGNING})


def _family(kind: EventKind) -> EventKind:
    return EventKind.INTENT_TO_JOIN if kind in _ACCESSION else kind


def _compatible(a: EventKind, b: EventKind) -> bool:
    """Whether two kinds can tell one event: the same kind, steps of one accession, or talks and their outcome."""
    fa, fb = _family(a), _family(b)
    return fa == fb or {fa, fb} == {EventKind.INTENT_TO_JOIN, EventKind.TALKS}


def _contradict(a: EventKind, b: EventKind) -> bool:
    """Two acts that cannot be one event (a statement is words about an act, so it contradicts none)."""
    return EventKind.STATEMENT not in (a, b) and not _compatible(a, b)


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
# An accession step (intent, joining, signing) that the country had taken before the story, or an act of no named
# partner: a follow-up, weighed as a statement, so that every new accession outranks it.
FOLLOW_UP_WEIGHT = 1.0
# Past this many independent outlets a story is confirmed: more coverage must not lift a statement to an accession.
MAX_OUTLETS = 3

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
# A story's articles that stand for it when a new article is placed: its first sixteen, by their title words, and
# any later one that brings an event or country none of those had. Every way to join grows with the titles'
# overlap, and a story's first articles carry its headline words, so a story of hundreds of articles is found
# and joined as well as a small one, at the cost of a small one (a flood of near-identical items stays cheap).
_PER_STORY = 16
NEAR_IDENTICAL = 0.75
_STEM = 6  # "normalise", "normalize", "normalization" and "normalizing" share their first six letters
# The highest affinity: the same link, or the same event with the same title words (1 + an overlap of at most 1).
_HIGHEST = 2.0
_REACTION = 0.1  # the affinity of a reaction or commentary to the story of its country's event


@dataclass(frozen=True, slots=True)
class Accession:
    """When a country took the steps of its accession: announced its intent, and signed (None: not yet)."""

    announced: date
    signed: date | None = None


@cache
def known_accessions() -> Mapping[str, Accession]:
    """Country key -> its accession, from the curated dataset (bot.accords) the bot loads at start: the default of
    `summarize` and `Clusterer`. Announced is the first key date; signed is `since` for the signed statuses."""
    signed = (Status.IN_FORCE, Status.SIGNED_NOT_RATIFIED)
    return {
        member.country.key: Accession(
            min([member.since, *(key.date for key in member.key_dates)]),
            member.since if member.status in signed else None,
        )
        for member in load_knowledge().members
        if member.status.is_member
    }


def describe(event: DetectedEvent | None) -> str:
    """An event in a few words, for reasons and logs: "talks (SA)", "intent_to_join (no country)"."""
    if event is None:
        return "no event"
    return f"{event.kind.value} ({' '.join(event.countries) or 'no country'})"


def title_words(title: str) -> frozenset[str]:
    """The content-word stems of a title: normalised words, stop words and numbers dropped, cut to 6 letters."""
    out = set()
    for word in tokenize(title):
        if word in _STOPWORDS or _DIGITS.match(word) or (len(word) < 3 and word.isascii()):
            continue
        out.add(word[:_STEM])
    return frozenset(out)


@cache
def _country_stems() -> tuple[frozenset[str], tuple[str, ...]]:
    """The words of country names (bot.countries): short ones whole ("uae"), longer ones as 6-letter stems that
    also meet their demonyms ("sudan" meets "sudane(se)", "israel" meets "israeli")."""
    found = {word for c in all_countries() for text in (c.name, *c.aliases) for word in tokenize(text)}
    return frozenset(w for w in found if len(w) < 4), tuple(sorted({w[:_STEM] for w in found if len(w) >= 4}))


def content_words(words: frozenset[str]) -> frozenset[str]:
    """Title words without country names: what two titles about one country still have to share."""
    short, stems = _country_stems()
    return frozenset(w for w in words if w not in short and not w.startswith(stems))


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
    content: frozenset[str]  # words without country names
    partners: frozenset[str]


# The partners of the profiles the clustering holds: one object for each distinct set (a few dozen in a poll of
# thousands of articles); and an article's content words are its title words themselves when it names no country.
_shared_partners: Shared[frozenset[str]] = Shared()


def _profile(article: Article) -> _Profile:
    words = title_words(article.title)
    content = content_words(words)
    partners = _shared_partners(_partners(article.countries))
    return _Profile(article, words, words if len(content) == len(words) else content, partners)


_EventRelation = Callable[[DetectedEvent, DetectedEvent], bool]


def _by_identity(relation: _EventRelation) -> _EventRelation:
    """A relation of two events remembered by their identities: placing an article compares its event with those of
    dozens of a story's articles, which share a few objects (`shared_event`): 150,000 comparisons of a few hundred
    pairs in a first poll of 2,000 feeds. Each pair is kept with its events, so that an identity cannot be reused;
    past `most` pairs the memory starts again."""
    most = 4096
    known: dict[tuple[int, int], tuple[DetectedEvent, DetectedEvent, bool]] = {}

    @wraps(relation)
    def remembered(a: DetectedEvent, b: DetectedEvent) -> bool:
        found = known.get((id(a), id(b)))
        if found is not None and found[0] is a and found[1] is b:
            return found[2]
        value = relation(a, b)
        if len(known) >= most:
            known.clear()
        known[(id(a), id(b))] = (a, b, value)
        return value

    return remembered


@_by_identity
def _same_event(a: DetectedEvent, b: DetectedEvent) -> bool:
    """Compatible kinds about the same country; statements also by the same speaker (see the module docstring)."""
    if not _compatible(a.kind, b.kind):
        return False
    if a.kind is EventKind.STATEMENT:
        return bool(a.countries) and set(a.countries) == set(b.countries)
    return bool(_partners(a.countries) & _partners(b.countries)) or (
        bool(a.countries) and set(a.countries) == set(b.countries)
    )


# An affinity and its reason, the reason written only for the best of an article's candidates: writing it for each
# of the dozens compared was a fifth of the time an article took to place.
Affinity = tuple[float, Callable[[], str]]


def _similar(sim: float, shared: int, what: Callable[[], str] = lambda: "") -> Affinity | None:
    if sim >= SIMILAR and shared >= 2:
        return sim, lambda: f"{what()}similar titles ({sim:.2f}, {shared} words shared)"
    return None


@_by_identity
def _related(a: DetectedEvent, b: DetectedEvent) -> bool:
    """Events that may be one story when their titles are similar (see the module docstring)."""
    if _contradict(a.kind, b.kind):
        return False
    if not a.countries or not b.countries:
        return True  # a country the text does not name is unknown, not different
    if (a.kind is EventKind.STATEMENT) != (b.kind is EventKind.STATEMENT):
        statement, act = (a, b) if a.kind is EventKind.STATEMENT else (b, a)
        speaker = statement.countries[0]
        if speaker not in _COUNTERPARTIES and speaker not in act.countries:
            return False  # a third country's words about an act are its own event: Turkey threatening the UAE
    return bool(set(a.countries) & set(b.countries))


def affinity(a: _Profile, b: _Profile) -> Affinity | None:
    """How strongly a new article `a` belongs with an article `b` of a story (higher is stronger) and why, or None."""
    if a.article.url == b.article.url:
        return 2.0, lambda: "same link"
    if a.partners and b.partners and not a.partners & b.partners:
        return None
    ea, eb = a.article.event, b.article.event
    if ea is not None and eb is not None and _same_event(ea, eb):
        return 1.0 + overlap(a.words, b.words)[0], lambda: f"same event as the story's article: {describe(eb)}"
    # about one country already: titles that share only its name are not alike
    same_country = bool(a.partners & b.partners) and (ea is not None or eb is not None)
    sim, shared = overlap(a.content, b.content) if same_country else overlap(a.words, b.words)
    if ea is not None and eb is not None:
        if _related(ea, eb):
            return _similar(sim, shared, lambda: f"related events, {describe(ea)} and {describe(eb)}, and ")
        if sim >= NEAR_IDENTICAL and shared >= 3:
            return sim, lambda: f"near-identical titles ({sim:.2f}) despite different events"
        return None
    found = _similar(sim, shared)
    if found is None and ea is None and eb is not None and a.partners & _partners(eb.countries):
        # the story of its country's event whose title is most alike
        about = a.partners & _partners(eb.countries)
        weight = _REACTION * (1 + overlap(a.words, b.words)[0])
        return (
            weight,
            lambda: f"no event of its own, about {' '.join(sorted(about))} like the story's {describe(eb)}: a reaction",
        )
    return found


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


def score(kind: EventKind | None, outlets: int, *, follow_up: bool = False) -> float:
    """A story's importance: score = W × (1 + log2(min(outlets, MAX_OUTLETS))), whenever it is computed.

    W is 3 for a new accession (a country's intent, joining or signing, a step it had not taken before) and a
    suspension, 2 for a ratification and a recognition, 1.5 for talks, 1 for a statement and for a `follow_up` (an
    accession step taken before, or an act of no named partner: see `is_follow_up`), 0.8 for no event. `outlets`
    counts independent outlets (distinct hosts): doubling them adds one unit, up to three, past which a story is
    confirmed and more coverage says no more. So a new accession from one outlet (3) outranks any follow-up,
    statement or commentary however widely reported (at most 2.585). No recency: a story's score does not change
    with the clock, so a saved feed of 2020 ranks as it did on its day (digests and alerts already look only at
    recent stories). Rounded to 3 decimals so that equal stories compare equal.
    """
    weight = FOLLOW_UP_WEIGHT if follow_up else KIND_WEIGHT[kind]
    return round(weight * (1 + math.log2(min(max(outlets, 1), MAX_OUTLETS))), 3)


def is_follow_up(event: DetectedEvent | None, published: datetime, accessions: Mapping[str, Accession]) -> bool:
    """Whether an event weighs as a follow-up: an act of no named partner (an unnamed country "will join", an
    unknown country cutting ties), or an accession step that every country named had taken before that day (the
    UAE's intent after its announcement of 2020-08-13, a signing after its signature)."""
    if event is None or event.kind is EventKind.STATEMENT:
        return False
    if not _partners(event.countries):
        return True
    if event.kind not in _ACCESSION:
        return False
    day = published.date()

    def taken(key: str) -> bool:
        accession = accessions.get(key)
        if accession is None:
            return False
        step = accession.announced if event.kind is EventKind.INTENT_TO_JOIN else accession.signed
        return step is not None and step < day

    return all(taken(key) for key in event.countries)


def _ranked(counts: Counter[str], order: Sequence[str]) -> tuple[str, ...]:
    first = {key: i for i, key in reversed(list(enumerate(order)))}
    return tuple(sorted(counts, key=lambda key: (-counts[key], first[key])))


def summarize(
    articles: Sequence[Article], now: datetime, *, accessions: Mapping[str, Accession] | None = None
) -> StoryFacts:
    """A story's facts from its articles.

    Title and link are the earliest article's (the first to report it). Countries: the union, most frequent
    first. Event: the kind with the highest count × weight among the articles (most reported, ties to the most
    important), with its countries by frequency among those articles. Topics: the union in order of appearance.
    Score: see `score`; `accessions` (country key -> when it announced and signed; default `known_accessions()`)
    tell a new accession from a follow-up as of the story's first article. `now` is not used (scores do not age);
    it stays for the callers.
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
    known = known_accessions() if accessions is None else accessions
    follow_up = is_follow_up(event, lead.published, known)
    return StoryFacts(
        title=lead.title,
        url=lead.url,
        first_seen=min(a.first_seen for a in ordered),
        last_seen=max(a.first_seen for a in ordered),
        published=lead.published,
        last_published=max(a.published for a in ordered),
        countries=_ranked(Counter(all_countries), all_countries),
        event=event,
        topics=tuple(dict.fromkeys(topic for a in ordered for topic in a.topics)),
        score=score(event.kind if event else None, outlets, follow_up=follow_up),
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
    start: datetime  # the earliest and latest published times of its articles
    end: datetime
    articles: list[Article] = field(default_factory=list)
    added: list[Article] = field(default_factory=list)
    profiles: list[_Profile] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)
    filed: set[str] = field(default_factory=set)  # the index keys its articles are filed under


@dataclass(frozen=True, slots=True)
class StoryDraft:
    """A changed story to save: `story_id` None for a new story; `added` are its new articles."""

    story_id: int | None
    facts: StoryFacts
    articles: tuple[Article, ...]
    added: tuple[Article, ...]


class Clusterer:
    """Places articles into candidate stories or new ones; pure and in memory.

    An inverted index from title words, countries and links to the articles already placed keeps each placement
    proportional to the articles it could join, not to all stories in the window: every way to join (`affinity`)
    needs the same link, a shared country, or at least two shared title words, so an article is compared only with
    those (a word as common as a feed's subject then costs nothing; it once made a 5,000-item feed take 23 s).
    `accessions` (default `known_accessions()`) go to `summarize`.
    """

    def __init__(
        self,
        candidates: Iterable[Story] = (),
        *,
        window: timedelta = DEFAULT_WINDOW,
        accessions: Mapping[str, Accession] | None = None,
    ) -> None:
        self.window = window
        self.accessions = accessions
        self.clusters: list[Cluster] = []
        self._index: dict[str, list[tuple[int, int]]] = {}  # key -> (cluster, article within it)
        for story in candidates:
            self.add_story(story)

    def add_story(self, story: Story) -> None:
        """A stored story new articles may join (the candidates can also be given one by one, between which a
        caller on an event loop can let the loop run)."""
        if story.articles:
            first = story.articles[0].published
            self.clusters.append(Cluster(story.id, first, first))
            for article in story.articles:
                self._attach(len(self.clusters) - 1, _profile(article), added=False)

    def _keys(self, profile: _Profile) -> list[str]:
        """Where the article is filed: its title words, its link, and its countries, apart for articles with an
        event ("ev:") and without ("ne:"): two articles without an event never join by their countries alone."""
        keys = [f"w:{word}" for word in profile.words]
        keys.append(f"u:{profile.article.url}")
        event = profile.article.event
        if event is None:
            keys.extend(f"ne:{country}" for country in profile.partners)
        else:
            keys.extend(f"ev:{country}" for country in set(profile.partners) | set(event.countries))
        return keys

    def _lookups(self, profile: _Profile) -> list[str]:
        """Where the articles the new one may join are filed (see `affinity`): by words and link; by country, the
        articles with an event (same event, related events, a reaction), and for an article with an event also
        those without one (titles alike about the same country)."""
        keys = [f"w:{word}" for word in profile.words]
        keys.append(f"u:{profile.article.url}")
        event = profile.article.event
        if event is None:
            keys.extend(f"ev:{country}" for country in profile.partners)
        else:
            countries = set(profile.partners) | set(event.countries)
            keys.extend(f"ev:{country}" for country in countries)
            keys.extend(f"ne:{country}" for country in countries)
        return keys

    def _attach(self, index: int, profile: _Profile, *, added: bool) -> None:
        cluster = self.clusters[index]
        article = profile.article
        cluster.articles.append(article)
        cluster.profiles.append(profile)
        cluster.urls.add(article.url)
        cluster.start = min(cluster.start, article.published)
        cluster.end = max(cluster.end, article.published)
        if added:
            cluster.added.append(article)
        keys = self._keys(profile)
        if len(cluster.profiles) > _PER_STORY:
            # A story's first articles stand for it (see _PER_STORY); later ones are filed by their link only, and
            # by an event or country none of the first had, so that what they add can still be found.
            keys = [key for key in keys if key.startswith("u:") or not cluster.filed.intersection((key,))]
            keys = [key for key in keys if not key.startswith("w:")]
        cluster.filed.update(keys)
        where = (index, len(cluster.profiles) - 1)
        for key in keys:
            self._index.setdefault(key, []).append(where)

    def place(self, article: Article) -> Placement:
        """Put the article in the best story it belongs to within the window, or in a new story."""
        profile = _profile(article)
        words: Counter[tuple[int, int]] = Counter()
        strong: set[tuple[int, int]] = set()
        for key in self._lookups(profile):
            found_at = self._index.get(key, ())
            if key.startswith("w:"):
                words.update(found_at)
            else:
                strong.update(found_at)
        # By title words alone an article joins only with at least two shared words making at least half of the
        # shorter title (`_similar`, and more for near-identical titles): others are not compared at all.
        size = len(profile.words)
        alike = {
            (index, position)
            for (index, position), count in words.items()
            if count >= 2
            and count >= math.ceil(SIMILAR * min(size, len(self.clusters[index].profiles[position].words)))
        }
        by_cluster: dict[int, list[int]] = {}
        for index, position in strong | alike:
            by_cluster.setdefault(index, []).append(position)
        best: tuple[float, int, Callable[[], str]] | None = None
        for index in sorted(by_cluster):
            cluster = self.clusters[index]
            if article.url in cluster.urls:
                return Placement(index, False, "already in this story")
            if max(cluster.end, article.published) - min(cluster.start, article.published) > self.window:
                continue
            if best is not None and best[0] >= _HIGHEST:
                continue  # no affinity is higher, and a tie keeps the first: only a link already placed may follow
            # The story's articles most alike first (most title words shared, then the latest), at most
            # _PER_STORY of them: every way to join grows with the titles' overlap, so the best match is among
            # them, and a story of hundreds of articles costs no more to join than a small one.
            positions = sorted(by_cluster[index], key=lambda p: (-words.get((index, p), 0), -p))[:_PER_STORY]
            for position in positions:
                found = affinity(profile, cluster.profiles[position])
                if found is not None and (best is None or found[0] > best[0]):
                    best = (found[0], index, found[1])
                    if found[0] >= _HIGHEST:
                        break
        if best is not None:
            self._attach(best[1], profile, added=True)
            return Placement(best[1], False, f"joined a story: {best[2]()}")
        self.clusters.append(Cluster(None, article.published, article.published))
        self._attach(len(self.clusters) - 1, profile, added=True)
        if article.event is None:
            why = "new story: no event, and no story of the window has a similar title or an event of its countries"
        else:
            why = f"new story: its event, {describe(article.event)}, is in no story of the window, nor a similar title"
        return Placement(len(self.clusters) - 1, True, why)

    def draft(self, cluster: Cluster, now: datetime) -> StoryDraft:
        """A story that gained articles, with its new facts."""
        facts = summarize(cluster.articles, now, accessions=self.accessions)
        return StoryDraft(cluster.story_id, facts, tuple(cluster.articles), tuple(cluster.added))

    def drafts(self, now: datetime) -> list[StoryDraft]:
        """The stories that gained articles, with their new facts."""
        return [self.draft(c, now) for c in self.clusters if c.added]


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


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
