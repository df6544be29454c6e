"""Relevance and tags of one article: which topics its title and summary match, and for those that match, the
countries and the event it reports.

Pure and synchronous (no store, no clock), so that it can run wherever the poll puts CPU work. The pipeline
builds one `TopicMatcher` per poll from the topics to match and calls `tag` once per new article.

Why a prefilter, and why it is exact: most articles match no topic, and indexing an article's words (`Document`)
costs far more than scanning its folded text once. Every atom of a matched term is a substring of the folded text
(tokens are substrings of it, clitic-stripped variants are suffixes of tokens, prefix atoms are prefixes of
those), found where a token can start and, for a whole word, where one ends. So each query has a *presence plan*,
its AND/OR tree over "this atom occurs there" with exclusions taken as true, which every matching article meets.
One pass of an Aho-Corasick automaton over the folded title and summary finds every atom of every topic at once;
each query is filed under a few anchor words, so only the queries one of whose anchors occurs have their plan
checked, and only an article that meets some plan is indexed and matched for real (then tagged with countries and
event as before). The built-in topic's anchors include common words ("agreement", "middle", "Israel"): 51% of
realistic items contain one, 4.9% meet its plan, 4.9% match (bench/matching.py, 24,530 items).

Why `ahocorasick_rs` (the Rust aho-corasick crate behind ripgrep): on those items, finding the atoms with their
word boundaries took 0.16 s with it, 0.31 s with pyahocorasick (C; its per-hit Python iteration costs more), and
0.88 s looking each distinct token up in a cache; a regular expression alternation cannot report the several
atoms that start at one place ("israel", "israeli", `isr*`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import AhoCorasick

from bot.native import pickled_by_fields
from bot.news.events import detect_event
from bot.news.gazetteer import mentions, rank
from bot.news.models import DetectedEvent
from bot.news.textnorm import Atom, Document, normalize
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
    """Words of which a matching article must contain at least one (as a substring of its folded text), or None
    when no such set exists.

    A term contributes its longest atom, an OR the union of its branches, an AND its smallest child set; a NOT
    gives no anchor. The matcher files each query under its anchors, so an article is checked only against the
    queries one of whose anchors it contains.
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


# --- presence plans ---------------------------------------------------------------------------------------------
# A plan is a tuple: ("all", ids) holds when every atom id occurs, ("any", ids) when one does, ("and", plans) and
# ("or", plans) combine, ("true",) stands for an exclusion and ("false",) for a term that can never match.

_Plan = tuple[Any, ...]
_TRUE: _Plan = ("true",)
_FALSE: _Plan = ("false",)


def _plan(node: Node, key: Callable[[Atom], int | None]) -> _Plan:
    """The presence plan of a query node, with each atom replaced by `key(atom)` (single-word ORs merged); an atom
    whose key is None is not looked for and counts as present."""
    if isinstance(node, Term):
        if not node.atoms or not all(atom.text for atom in node.atoms):
            return _FALSE  # Document.find never finds an empty atom
        ids = frozenset(found for atom in node.atoms if (found := key(atom)) is not None)
        return ("all", ids) if ids else _TRUE
    if isinstance(node, Not):
        return _TRUE
    parts = [_plan(child, key) for child in node.children]
    if isinstance(node, And):
        parts = [part for part in parts if part is not _TRUE]
        if any(part is _FALSE for part in parts):
            return _FALSE
        required = frozenset().union(*(part[1] for part in parts if part[0] == "all"))
        rest = [part for part in parts if part[0] != "all"]
        if required:
            rest.insert(0, ("all", required))
        if not rest:
            return _TRUE
        return rest[0] if len(rest) == 1 else ("and", tuple(rest))
    if any(part is _TRUE for part in parts):
        return _TRUE
    parts = [part for part in parts if part is not _FALSE]
    single = frozenset(next(iter(part[1])) for part in parts if part[0] == "all" and len(part[1]) == 1)
    rest = [part for part in parts if not (part[0] == "all" and len(part[1]) == 1)]
    if single:
        rest.insert(0, ("any", single))
    if not rest:
        return _FALSE
    return rest[0] if len(rest) == 1 else ("or", tuple(rest))


_Check = Callable[[set[int]], bool]


def holds(plan: _Plan, present: set[int]) -> bool:
    """Whether a plan holds for the atom ids present: its definition, which `_check` compiles."""
    kind: str = plan[0]
    if kind == "all":
        return plan[1] <= present  # type: ignore[no-any-return]
    if kind == "any":
        return not plan[1].isdisjoint(present)
    if kind == "and":
        return all(holds(part, present) for part in plan[1])
    if kind == "or":
        return any(holds(part, present) for part in plan[1])
    return kind == "true"


def _check(plan: _Plan) -> _Check:
    """The plan as one function of the atom ids present, compiled to a single expression. Why: the built-in topic's
    plan is an OR of ANDs of ORs, checked for every other article (one of its anchors is a common word); as nested
    closures with generators it was a twentieth of a worker's time."""
    constants: dict[str, object] = {}

    def expression(part: _Plan) -> str:
        kind: str = part[0]
        if kind in ("and", "or"):
            return "(" + f" {kind} ".join(expression(child) for child in part[1]) + ")"
        if kind in ("true", "false"):
            return str(kind == "true")
        ids: frozenset[int] = part[1]
        if len(ids) == 1:
            return f"{next(iter(ids))} in present"
        name = f"ids{len(constants)}"
        constants[name] = ids
        return f"{name} <= present" if kind == "all" else f"not {name}.isdisjoint(present)"

    # the source holds only numbers and names of our own: nothing a user wrote
    check: _Check = eval(f"lambda present: {expression(plan)}", {"__builtins__": {}, **constants})
    return check


def _atoms(node: Node) -> Iterable[Atom]:
    if isinstance(node, Term):
        yield from node.atoms
    elif isinstance(node, Not):
        yield from _atoms(node.child)
    else:
        for child in node.children:
            yield from _atoms(child)


# Function words that phrases hold ("normalization of ties", "in the Gulf"): in nearly every article, so looking
# for them only costs (7 of every 10 automaton hits on bench/newsfeeds.py's realistic items) and rules nothing
# out. The prefilter takes them as present, unless one is a query's anchor.
_COMMON_WORDS = frozenset(
    [
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is", "it"),
        *("its", "of", "on", "or", "the", "to", "was", "with"),  # English
        *("au", "aux", "de", "des", "du", "en", "et", "la", "le", "les", "un", "une"),  # French
        *("в", "и", "к", "на", "о", "по", "с"),  # Russian
    ]
)


class _Prefilter:
    """The presence plans of a set of queries, checked from one automaton pass over an article's folded text.

    Each distinct atom text (but the common words, `_COMMON_WORDS`) is a pattern of the automaton, with id i. A hit
    counts where a token can start (or, in Hebrew and Arabic, where a word can start behind its clitic letters): it
    gives id i, which a prefix atom needs, and also i + n (n texts) when a token ends there too, which a whole-word
    atom needs. Tokens are runs of letters and digits (`[^\\W_]`, which is `str.isalnum`). So "woman" holds no
    `Oman*` and "ideal" no `deal`.
    """

    def __init__(self, queries: Sequence[Query]) -> None:
        found_anchors = [anchors(query.root) for query in queries]
        needed = {text for found in found_anchors for text in found or ()}
        texts = list(
            dict.fromkeys(
                atom.text
                for query in queries
                for atom in _atoms(query.root)
                if atom.text and (atom.text not in _COMMON_WORDS or atom.text in needed)
            )
        )
        ids = {text: index for index, text in enumerate(texts)}
        self._count = len(texts)
        self._automaton = AhoCorasick(texts) if texts else None

        def key(atom: Atom) -> int | None:
            index = ids.get(atom.text)
            return None if index is None else index + (0 if atom.prefix else len(texts))

        self.plans = [_plan(query.root, key) for query in queries]
        self._checks = [_check(plan) for plan in self.plans]
        self._always: list[int] = []  # queries with no anchor (none that parse_query makes): checked every time
        self._by_anchor: dict[int, list[int]] = {}
        for number, found in enumerate(found_anchors):
            if found is None:
                self._always.append(number)
            for text in found or ():
                self._by_anchor.setdefault(ids[text], []).append(number)
        # The anchors alone, looked for first: an article holding none (two in three of bench/newsfeeds.py's) can
        # match no query, and this smaller automaton finds a seventh of the hits the whole one finds in it (most
        # are the words that only a query's other terms need: "official", "ties", "first"). None when a query
        # has no anchor (it must be checked every time) or every atom is an anchor.
        self._anchors = (
            AhoCorasick(sorted(needed)) if needed and len(needed) < len(texts) and not self._always else None
        )

    def _holds_an_anchor(self, folded: str) -> bool:
        """Whether an anchor starts where a word can start in `folded` (as `present` counts a hit), or there is
        nothing to tell by anchors."""
        if self._anchors is None:
            return True
        for _, start, _ in self._anchors.find_matches_as_indexes(folded, overlapping=True):
            if not start:
                return True
            before = folded[start - 1]
            if not before.isalnum() or "\u05d0" <= before <= "\u05ea" or "\u0621" <= before <= "\u064a":
                return True
        return False

    def present(self, folded: str, *, whole_words: bool = True) -> set[int]:
        """The atom ids found in `folded` (see the class docstring), what the queries' plans are checked against."""
        hits = self._automaton.find_matches_as_indexes(folded, overlapping=True) if self._automaton else ()
        count, end = self._count, len(folded)
        present: set[int] = set()
        for index, start, stop in hits:
            if start:
                before = folded[start - 1]
                if before.isalnum() and not ("\u05d0" <= before <= "\u05ea" or "\u0621" <= before <= "\u064a"):
                    continue  # inside a word, and not behind a Hebrew or Arabic clitic letter
            present.add(index)
            if not whole_words or stop == end or not folded[stop].isalnum():
                present.add(index + count)
        return present

    def possible(self, folded: str, *, whole_words: bool = True) -> list[int]:
        """The queries (by index) that may match an article whose folded title and summary, joined by a line
        break, are `folded`: a superset of those that do. Without `whole_words`, where a word of the text ends is
        not asked, so that the text may be longer than the article's (`TopicMatcher.may_match`)."""
        if not self._holds_an_anchor(folded):
            return []  # no query's anchor: none is a candidate
        present = self.present(folded, whole_words=whole_words)
        candidates = set(self._always)
        by_anchor = self._by_anchor
        for index in present:
            if index in by_anchor:
                candidates.update(by_anchor[index])
        checks = self._checks
        return [number for number in candidates if checks[number](present)]


def _fold(title: str, summary: str) -> tuple[str, int]:
    """The folded title and summary joined by a line break, and where the break is: folded in one call (folding
    never makes a line break, nor looks across one), or in two when the title holds a line break itself."""
    if "\n" in title:
        folded_title = normalize(title)
        return f"{folded_title}\n{normalize(summary)}", len(folded_title)
    folded = normalize(f"{title}\n{summary}")
    return folded, folded.index("\n")


class TopicMatcher:
    """Matches articles against a set of topics: the default topic first (unless `include_default` is False: the
    poll composes its own set), then the given ones (a name used twice keeps its first query). Topics that share a
    query are matched once; the prefilter is rebuilt only when the topics change."""

    def __init__(self, topics: Sequence[Topic] = (), *, include_default: bool = True) -> None:
        self._include_default = include_default
        self._topics: tuple[Topic, ...] = ()
        self._queries: list[Query] = []
        self._names: list[list[int]] = []  # per distinct query, the indexes of its topics
        self._prefilter = _Prefilter([])
        self.set_topics(topics)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its topics (the automaton is native and rebuilt), so a worker process can receive it."""
        return (_rebuilt, (self._topics,))

    @property
    def topics(self) -> tuple[Topic, ...]:
        return self._topics

    def set_topics(self, topics: Sequence[Topic]) -> None:
        chosen: dict[str, Topic] = {}
        for topic in ((default_topic(),) if self._include_default else ()) + tuple(topics):
            chosen.setdefault(topic.name, topic)
        ordered = tuple(chosen.values())
        if ordered == self._topics:
            return
        by_query: dict[Query, list[int]] = {}
        for index, topic in enumerate(ordered):
            by_query.setdefault(topic.query, []).append(index)
        self._topics = ordered
        self._queries = list(by_query)  # the default topic's first
        self._names = list(by_query.values())
        self._prefilter = _Prefilter(self._queries)

    def candidates(self, title: str, summary: str) -> tuple[str, ...]:
        """The topics the prefilter lets through to real matching, in order: a superset of those `tag` finds."""
        folded, _ = _fold(title, summary)
        passed = sorted(index for number in self._prefilter.possible(folded) for index in self._names[number])
        return tuple(self._topics[index].name for index in passed)

    def may_match(self, title: str, words: str) -> bool:
        """Whether an article may match a topic, from its title and a text holding every word of its summary, each
        starting where it starts in the summary (bot.news.parse.Draft.summary_words): False only when `tag`
        finds no topic.

        Why it holds: every atom the prefilter finds in the folded summary starts where a word starts and is read
        from there; the text holds that word there, so the atom as well (a word may go on further in the text, so
        where one ends is not asked); the prefilter's plans only ask for atoms to be present. Folding maps each
        character alone but for two steps that join neighbours (composition and Hebrew geresh marks), which a space
        or a change of spaces never takes part in. Why: most articles match nothing, and cleaning a summary (spaces,
        footers, length) costs more than this check spares."""
        return bool(self._prefilter.possible(normalize(f"{title}\n{words}"), whole_words=False))

    def tag(self, title: str, summary: str) -> Tagging:
        """The topics `title` and `summary` match, with their terms; countries and event when any matched."""
        folded, cut = _fold(title, summary)
        possible = self._prefilter.possible(folded)
        if not possible:
            return NO_MATCH
        document = Document.of_normalized(folded[:cut], folded[cut + 1 :])
        if 0 not in possible:
            # the event detector checks the default topic again: the prefilter has already proved it does not match
            self._queries[0].rule_out(document)
        found: dict[int, tuple[str, ...]] = {}  # topic index -> its matched terms
        for number in possible:
            match = self._queries[number].match_document(document)
            if match is not None:
                for index in self._names[number]:
                    found[index] = match.terms
        if not found:
            return NO_MATCH
        topics = tuple(self._topics[index].name for index in sorted(found))
        terms = tuple(dict.fromkeys(term for index in sorted(found) for term in found[index]))
        found_mentions = mentions(document, title, summary)
        countries = rank(found_mentions)
        event = detect_event(title, summary, countries, document=document, found_mentions=found_mentions)
        return Tagging(topics, terms, countries, event)


def _rebuilt(topics: tuple[Topic, ...]) -> TopicMatcher:
    """A matcher of exactly these topics (what a pickled matcher held, the default topic already among them)."""
    return TopicMatcher(topics, include_default=False)


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
