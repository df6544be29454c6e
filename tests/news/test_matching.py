"""The topic matcher gives exactly what matching every topic on every article gives, while its prefilter turns
ordinary news away before any word index is built.

The reference below is the plain definition: each topic's query matched on a fresh Document of the raw text, then
the gazetteer and the event detector on their own. The matcher must agree with it on random text built from the
words that trip prefilters (possessives, clitics, accents, words inside words), on the real corpora, and on the
realistic benchmark feeds with a hundred servers' topics.
"""

from __future__ import annotations

import html
import pickle
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

from bench.newsfeeds import EVENTS, FOREIGN, address, kind_of, make_feed, server_topics
from bot.news.events import detect_event
from bot.news.gazetteer import tag_countries
from bot.news.matching import NO_MATCH, Tagging, Topic, TopicMatcher, _check, default_topic, holds
from bot.news.models import Entry, ParsedFeed, Source
from bot.news.parse import Draft, clean_summary, markup_text, parse_feed, strip_controls
from bot.news.textnorm import Document, normalize
from bot.news.topics import QueryError, parse_query
from bot.news.urls import split_outlet_suffix

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def reference(topics: list[Topic], title: str, summary: str) -> Tagging:
    chosen: dict[str, Topic] = {}
    for topic in (default_topic(), *topics):
        chosen.setdefault(topic.name, topic)
    document = Document(title, summary)  # of the raw text, its own
    names: list[str] = []
    terms: list[str] = []
    for topic in chosen.values():
        found = topic.query.match_document(document)
        if found is not None:
            names.append(topic.name)
            terms.extend(found.terms)
    if not names:
        return NO_MATCH
    countries = tag_countries(title, summary)
    return Tagging(tuple(names), tuple(dict.fromkeys(terms)), countries, detect_event(title, summary, countries))


def assert_agrees(matcher: TopicMatcher, topics: list[Topic], title: str, summary: str) -> None:
    expected = reference(topics, title, summary)
    assert matcher.tag(title, summary) == expected, (title, summary)
    assert set(expected.topics) <= set(matcher.candidates(title, summary)), (title, summary)


# --- random text from words that trip prefilters ------------------------------------------------------------------

TEXT_WORDS = [
    *("Israel", "Israel's", "Israeli", "ISRAELIS", "Israel’s", "woman", "Oman", "Omani", "according", "accord"),
    *("ideal", "deal", "dealt", "ties", "parties", "normalise", "normalization", "Abraham", "Accords", "Middle"),
    *("East", "peace", "UAE", "Saudi", "Gulf", "Türkiye", "Ёлка", "recognition", "agreement", "Knesset"),
    *("sign", "signs", "joins", "suspends", "talks", "Kazakhstan", "Bahrain", "Morocco", "Sudan", "US"),
    *("ישראל", "בישראל", "ובישראל", "הסכמי", "אברהם", "נורמליזציה", "التطبيع", "تطبيع", "إسرائيل", "بإسرائيل"),
    *("اتفاقيات", "أبراهام", "Израиль", "нормализация", "соглашения", "Авраама"),
    *("’", "“", "”", "—", ",", "'s", "_", "-", ":", "é", "\u0301", "\n"),
    *("of", "the", "in", "и", "de", "Gulf's", "there"),  # function words, which the prefilter takes as present
]
QUERY_TERMS = [
    *("Israel", "Israel*", "Oman*", "deal", "ties", "accord*", '"Abraham Accords"', '"Middle East peace deal"'),
    *("normali*", "ישראל*", "הסכם", "اسرائيل*", "التطبيع", "Türkiye", "елка", "UAE", "Gulf", '"Israel\'s deal"'),
    *("woman", "Kazakh*", "נורמליזצי*"),
    *('"normalization of ties"', '"in the Gulf"', "the", '"of the"', "the*", '"и Израиль"'),
]

texts = st.lists(st.sampled_from(TEXT_WORDS), max_size=14).map(" ".join)


@st.composite
def queries(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(QUERY_TERMS))]
    for _ in range(draw(st.integers(0, 3))):
        operator = draw(st.sampled_from([" ", " OR ", " -", " AND ", " ("]))
        parts.append(operator + draw(st.sampled_from(QUERY_TERMS)) + (")" if operator == " (" else ""))
    return "".join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries(), min_size=1, max_size=4), texts, texts)
def test_tagging_is_exactly_the_reference_on_tricky_text(written: list[str], title: str, summary: str) -> None:
    try:
        topics = [Topic(f"1:t{number}", parse_query(text)) for number, text in enumerate(written)]
    except QueryError:
        reject()  # not a query: nothing to compare
    assert_agrees(TopicMatcher(topics), topics, title, summary)


# --- a summary's words in place of the summary (bot.news.parse.Draft.summary_words) --------------------------------

# What a feed's summary markup holds around and inside the words: tags inline (removed: the words around them join)
# and block-level (a space), entities of letters and of spaces and quotes, comments, CDATA marks, scripts, spaces of
# every kind, control characters (their removal joins words), and the ends that cleaning cuts (footers, "Read more").
MARKUP_PIECES = [
    *("<b>", "</b>", "<a href='https://israel.example/deal'>", "</a>", "<p>", "</p>", "<br/>", "<li>", "<td>"),
    *("&nbsp;", "&#8217;", "&rsquo;", "&quot;", "&amp;", "&lt;b&gt;", "&#73;", "&eacute;", "&#1497;", "&shy;"),
    *("<!-- Israel -->", "<![CDATA[", "]]>", "<script>Israel</script>", "\t", "\u2003", "\u3000", "\x85"),
    *("\x01", "\x1f", "\x00", "The post Israel deal appeared first on Gulf News.", "Read more »", "…"),
    *("Isr", "ael", "i", "Abra", "ham", " "),  # parts of words, which markup or a control character may join
]
markup = st.lists(st.sampled_from(TEXT_WORDS) | st.sampled_from(MARKUP_PIECES), max_size=24).map("".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries(), min_size=1, max_size=4), texts, markup, st.just(0) | st.integers(1800, 2000))
# the summary's end cut inside a word, or before a footer or a "Read more" glued to its last word; a control
# character inside a word
@example(["Israel"], "", "Israeli", 2000 - len("Israel"))
@example(["Israel"], "", "Peace with IsraelThe post Israel deal appeared first on Gulf News.", 0)
@example(["Israel"], "", "Peace with IsraelRead more »", 0)
@example(["Israel"], "", "Isr\x01ael signs", 0)
def test_a_summarys_words_let_through_every_article_its_summary_may_match(
    written: list[str], title: str, fragment: str, padding: int
) -> None:
    """The prefilter on the summary's words (markup removed, spaces and end as they are) lets through every article
    the prefilter on the clean summary lets through, long summaries (cut) and footers included."""
    try:
        topics = [Topic(f"1:t{number}", parse_query(text)) for number, text in enumerate(written)]
    except QueryError:
        reject()
    fragment = "-" * padding + fragment  # then past SUMMARY_MAX_CHARS, the summary is cut, often inside a word
    draft = Draft(ParsedFeed(None, None, (Entry(title, "https://feed.example/a"),)), markup=[fragment])
    matcher = TopicMatcher(topics)
    summary, words = draft.summary(0), draft.summary_words(0)
    assert summary == strip_controls(clean_summary(fragment))
    if words is None:
        assert re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", markup_text(fragment))
    elif matcher.candidates(title, summary):
        assert matcher.may_match(title, words), (title, fragment)


def test_a_summarys_words_turn_away_ordinary_news_and_let_the_topics_news_through() -> None:
    matcher = TopicMatcher()
    ordinary = "<p>Fewer patients in <b>hospital</b> beds&nbsp;– officials say the <i>deal</i>ing goes on.</p>"
    assert not matcher.may_match("Clinics reopen", markup_text(ordinary))
    relevant = "<p>Is<b>rael</b> and the UAE sign the <a href='x'>Abraham</a> Accords.</p>"
    assert matcher.may_match("Historic day", markup_text(relevant))
    assert matcher.tag("Historic day", clean_summary(relevant)).topics


# --- the prefilter's plans, compiled ------------------------------------------------------------------------------

ids = st.frozensets(st.integers(0, 12), min_size=1, max_size=4)
plans = st.recursive(
    st.tuples(st.sampled_from(["all", "any"]), ids) | st.sampled_from([("true",), ("false",)]),
    lambda children: st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=1, max_size=4).map(tuple)),
    max_leaves=20,
)


@settings(max_examples=500)
@given(plans, st.sets(st.integers(0, 12)))
def test_a_compiled_plan_holds_exactly_when_its_definition_does(plan: tuple[object, ...], present: set[int]) -> None:
    assert _check(plan)(present) is holds(plan, present)


def test_the_topics_compiled_plans_agree_with_their_definition_on_realistic_items() -> None:
    prefilter = TopicMatcher(_server_topics(4))._prefilter
    checks = [_check(plan) for plan in prefilter.plans]
    held = 0
    for title, summary in _feed_items(range(0, 400, 7)):
        present = prefilter.present(normalize(f"{title}\n{summary}"))
        for plan, check in zip(prefilter.plans, checks, strict=True):
            assert check(present) is holds(plan, present), title
            held += holds(plan, present)
    assert held > 50  # the plans were met, not only failed


# --- real and realistic items -------------------------------------------------------------------------------------


def _corpus_items() -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for path in sorted(CORPUS.glob("20*/*/*.xml")):
        for item in ET.parse(path).getroot().iter("item"):
            description = item.findtext("description") or ""
            summary = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", description)).split())
            items.append((item.findtext("title") or "", summary))
    return items


def _feed_items(feeds: range) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for index in feeds:
        feed = parse_feed(make_feed(index), source=Source(f"https://feed{index}.example/rss", "bench"))
        items.extend((split_outlet_suffix(e.title, e.outlet)[0], e.summary) for e in feed.entries)
    return items


def _server_topics(servers: int) -> list[Topic]:
    return [Topic(name, parse_query(text)) for name, text in server_topics(servers, 25)]


@pytest.mark.skipif(not (CORPUS / "labels.jsonl").exists(), reason="the shared corpus is not here")
def test_tagging_is_exactly_the_reference_on_the_corpora() -> None:
    topics = _server_topics(1)
    matcher = TopicMatcher(topics)
    items = _corpus_items()
    assert len(items) > 4000  # 2020 and 2023
    for title, summary in items:
        assert_agrees(matcher, topics, title, summary)


def test_tagging_is_exactly_the_reference_on_realistic_feeds_with_many_servers_topics() -> None:
    topics = _server_topics(30)
    matcher = TopicMatcher(topics)
    items = _feed_items(range(0, 400, 20))  # every kind of feed, the foreign ones included
    matched = 0
    for title, summary in items:
        assert_agrees(matcher, topics, title, summary)
        matched += bool(matcher.tag(title, summary).topics)
    assert matched > 50  # not vacuous


def test_ordinary_news_with_the_topics_words_is_turned_away_before_indexing() -> None:
    matcher = TopicMatcher()
    for title, summary in (
        ("EU and Japan reach trade agreement after years of talks", "The middle class will gain, officials say."),
        ("Woman, 34, charged after stabbing in Kraków", "According to police, the woman was known to them."),
        ("Facial recognition cameras to be rolled out – police", "The impact on the parties is ideal, critics say."),
        (
            "Israel’s Knesset passes bill on judicial appointments",
            "Netanyahu’s coalition partners had threatened to quit.",
        ),
    ):
        assert matcher.candidates(title, summary) == (), title
        assert matcher.tag(title, summary) == NO_MATCH
    assert matcher.candidates("Kazakhstan to join Abraham Accords", "") == ("accords",)


class _Counted:
    """An automaton that counts the texts it is asked to search."""

    def __init__(self, automaton: object) -> None:
        self.automaton = automaton
        self.searched = 0

    def find_matches_as_indexes(self, text: str, overlapping: bool) -> list[tuple[int, int, int]]:
        self.searched += 1
        return self.automaton.find_matches_as_indexes(text, overlapping=overlapping)  # type: ignore[attr-defined]


def test_an_article_without_any_querys_anchor_is_not_searched_for_the_other_terms() -> None:
    """The anchors ("Israel", "normali*", "Abraham"...) are looked for first, alone: ordinary news that uses the
    topics' other words ("ties", "official", "agreement") costs one search of a small automaton."""
    matcher = TopicMatcher(_server_topics(2))
    prefilter = matcher._prefilter
    counted = _Counted(prefilter._automaton)
    prefilter._automaton = counted  # type: ignore[assignment]
    ordinary = ("Officials sign trade agreement, first in years", "The pact between the parties ties in the Gulf.")
    assert matcher.candidates(*ordinary) == ()
    assert counted.searched == 0
    assert matcher.candidates("Kazakhstan to join Abraham Accords", "")[0] == "accords"
    assert counted.searched == 1


def test_on_realistic_feeds_only_what_may_match_is_indexed() -> None:
    """The former prefilter (one anchor word each: "agreement", "middle", "Israel"...) sent 51% of these items to
    a word index; this one sends those that match, and a few more (the built-in topic binds words within a phrase,
    which a check of what occurs anywhere in the text cannot see: about a fifth more)."""
    matcher = TopicMatcher()
    items = _feed_items(range(60))
    passed = sum(1 for title, summary in items if matcher.candidates(title, summary))
    matched = sum(1 for title, summary in items if matcher.tag(title, summary).topics)
    assert matched > 60
    assert passed <= 1.25 * matched


def test_topics_sharing_a_query_all_match_in_order_and_the_first_name_wins() -> None:
    saudi = parse_query('Saudi "normalization"')
    topics = [
        Topic("2:saudi", saudi),
        Topic("1:gulf", parse_query("Saudi OR Bahrain")),
        Topic("3:same", saudi),
        Topic("2:saudi", parse_query("Oman")),  # the name is taken: ignored
    ]
    matcher = TopicMatcher(topics)
    tagging = matcher.tag("Saudi Arabia weighs normalization with Israel", "")
    assert tagging.topics == ("accords", "2:saudi", "1:gulf", "3:same")
    assert tagging == reference(topics, "Saudi Arabia weighs normalization with Israel", "")
    assert [topic.name for topic in matcher.topics] == ["accords", "2:saudi", "1:gulf", "3:same"]


def test_a_matcher_survives_pickling_for_a_worker_process() -> None:
    topics = _server_topics(2)
    matcher = TopicMatcher(topics)
    copy = pickle.loads(pickle.dumps(matcher))
    assert copy.topics == matcher.topics
    for title, summary in _feed_items(range(3)):
        assert copy.tag(title, summary) == matcher.tag(title, summary)


def test_the_benchmark_feeds_are_realistic() -> None:
    """What bench/ingest.py and bench/responsiveness.py measure rests on this: real feeds are mostly non-ASCII,
    use the topic's words in other senses, and hold a few relevant items, each on a host of its own."""
    relevant_titles = {title for event in EVENTS for title in event.headlines}
    relevant_titles |= {title for language in FOREIGN.values() for title in language["relevant"]}
    matcher = TopicMatcher()
    feeds = range(40)
    assert len({address(index) for index in range(2000)}) == 2000
    assert {kind_of(index) for index in feeds} == {"short", "long", "atom", "google", "foreign"}
    assert make_feed(3) == make_feed(3)
    items = _feed_items(feeds)
    assert len(items) > 40 * 40
    assert sum(not (title + summary).isascii() for title, summary in items) > 0.6 * len(items)
    text = " ".join(title + " " + summary for title, summary in items).lower()
    for word in ("agreement", "middle", "israel", "netanyahu", "recognition", "declaration", "woman", "according"):
        assert word in text, word
    relevant = [(title, summary) for title, summary in items if title in relevant_titles]
    assert 40 <= len(relevant) <= 3 * 40
    assert all(matcher.tag(title, summary).topics == ("accords",) for title, summary in relevant)
