from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.news.events import detect_event
from bot.news.gazetteer import tag_countries
from bot.news.models import Article, DetectedEvent, EventKind, Story
from bot.news.stories import Clusterer, overlap, score, summarize, title_words, window_ranges

T0 = datetime(2020, 8, 13, 16, 0, tzinfo=UTC)


def article(
    title: str,
    url: str,
    outlet: str,
    *,
    at: datetime = T0,
    summary: str = "",
    tagged: bool = True,
    event: DetectedEvent | None = None,
    countries: tuple[str, ...] = (),
) -> Article:
    """An article as the pipeline makes it: countries and event from the real taggers unless given."""
    if tagged:
        countries = tag_countries(title, summary)
        event = detect_event(title, summary, countries)
    return Article(
        url=url,
        title=title,
        summary=summary,
        outlet=outlet,
        published=at,
        first_seen=at,
        source_url="https://feeds.example/" + outlet,
        countries=countries,
        event=event,
        topics=("accords",),
    )


UAE_1 = article("Israel and UAE agree to normalise relations in US-brokered deal", "https://bbc.co.uk/a", "BBC")
UAE_2 = article(
    "Israel, UAE agree to establish full diplomatic ties, Trump announces",
    "https://cnn.com/b",
    "CNN",
    at=T0 + timedelta(hours=1),
)
UAE_3 = article(
    "UAE and Israel to normalize relations in historic deal brokered by Trump",
    "https://www.theguardian.com/c",
    "The Guardian",
    at=T0 + timedelta(hours=3),
)


def test_the_same_event_from_three_outlets_is_one_story() -> None:
    clusterer = Clusterer()
    placements = [clusterer.place(a) for a in (UAE_1, UAE_2, UAE_3)]
    assert [p.new_story for p in placements] == [True, False, False]
    assert {p.cluster for p in placements} == {0}
    (draft,) = clusterer.drafts(T0 + timedelta(hours=4))
    assert draft.story_id is None
    assert draft.facts.outlet_count == 3
    assert draft.facts.title == UAE_1.title
    assert set(draft.facts.countries[:2]) == {"AE", "IL"}
    # the three agree on the event the detector reads ("agree to normalise": an announced accession)
    assert draft.facts.event is not None
    assert draft.facts.event.kind in {EventKind.INTENT_TO_JOIN, EventKind.JOINED}
    assert draft.facts.event.countries[0] == "AE"


def test_two_different_events_on_one_day_are_two_stories() -> None:
    bahrain = article(
        "Bahrain agrees to normalize ties with Israel, Trump says",
        "https://reuters.com/bh",
        "Reuters",
        at=T0 + timedelta(hours=2),
    )
    clusterer = Clusterer()
    first, second = clusterer.place(UAE_1), clusterer.place(bahrain)
    assert first.new_story
    assert second.new_story
    assert first.cluster != second.cluster


def test_same_country_but_another_event_is_another_story() -> None:
    suspension = article(
        "UAE suspends talks with Israel",
        "https://reuters.com/s",
        "Reuters",
        tagged=False,
        countries=("AE", "IL"),
        event=DetectedEvent(EventKind.SUSPENSION, ("AE",)),
    )
    joined = article(
        "UAE and Israel sign accord",
        "https://reuters.com/j",
        "Reuters",
        tagged=False,
        countries=("AE", "IL"),
        event=DetectedEvent(EventKind.SIGNING, ("AE",)),
    )
    clusterer = Clusterer()
    assert clusterer.place(suspension).new_story
    assert clusterer.place(joined).new_story


def test_articles_outside_the_window_start_a_new_story() -> None:
    late = article(UAE_2.title, "https://cnn.com/late", "CNN", at=T0 + timedelta(hours=49))
    inside = article(UAE_2.title, "https://cnn.com/inside", "CNN", at=T0 + timedelta(hours=48))
    clusterer = Clusterer()
    clusterer.place(UAE_1)
    assert not clusterer.place(inside).new_story
    assert clusterer.place(late).new_story


def test_the_window_follows_the_articles_own_times_and_the_story_span() -> None:
    # an article 47 h after the first and one 47 h before it: each fits alone, but not both in one story
    clusterer = Clusterer(window=timedelta(hours=48))
    clusterer.place(UAE_1)
    after = article(UAE_2.title, "https://cnn.com/after", "CNN", at=T0 + timedelta(hours=47))
    before = article(UAE_3.title, "https://guardian.com/before", "Guardian", at=T0 - timedelta(hours=47))
    assert not clusterer.place(after).new_story
    assert clusterer.place(before).new_story


def test_existing_stories_are_joined_and_reported_as_updated() -> None:
    existing = Story(
        id=7,
        title=UAE_1.title,
        url=UAE_1.url,
        first_seen=T0,
        last_seen=T0,
        published=T0,
        countries=UAE_1.countries,
        event=UAE_1.event,
        topics=("accords",),
        score=1.0,
        articles=(UAE_1,),
    )
    clusterer = Clusterer([existing])
    assert not clusterer.place(UAE_2).new_story
    (draft,) = clusterer.drafts(T0)
    assert draft.story_id == 7
    assert draft.added == (UAE_2,)
    assert len(draft.articles) == 2


def test_a_shared_link_joins_whatever_the_title() -> None:
    clusterer = Clusterer()
    clusterer.place(UAE_1)
    again = article("Completely different words here", UAE_1.url, "BBC", tagged=False)
    placement = clusterer.place(again)
    assert not placement.new_story
    assert placement.reason == "already in this story"


def test_unrelated_titles_do_not_join() -> None:
    clusterer = Clusterer()
    clusterer.place(article("Morocco court rules on football", "https://x.ma/1", "X", tagged=False))
    other = clusterer.place(article("Kazakhstan wheat harvest record", "https://y.kz/2", "Y", tagged=False))
    assert other.new_story


def test_title_similarity_is_the_overlap_of_content_words() -> None:
    a, b = title_words("Israel and the UAE agree to normalize ties"), title_words("UAE, Israel agree normalization")
    sim, shared = overlap(a, b)
    assert shared == 4  # israel, uae, agree, normal*
    assert sim == 1.0
    assert overlap(frozenset(), b) == (0.0, 0)


def test_score_ranks_by_kind_outlets_and_recency() -> None:
    now = T0
    big_join = score(EventKind.JOINED, 8, now, now)
    small_join = score(EventKind.JOINED, 1, now, now)
    big_statement = score(EventKind.STATEMENT, 8, now, now)
    old_join = score(EventKind.JOINED, 8, now - timedelta(days=3), now)
    assert big_join > small_join
    assert big_join > big_statement
    assert big_join > old_join
    assert big_join == 12.0  # 3 x (1 + log2 8) / (1 + 0)
    assert old_join == 3.0  # the same story three days older: / (1 + 3)
    assert score(None, 1, now + timedelta(days=1), now) == 0.8  # a future time counts as now


def test_summary_takes_the_most_reported_event_and_countries_by_frequency() -> None:
    talks = DetectedEvent(EventKind.TALKS, ("SA",))
    joined = DetectedEvent(EventKind.JOINED, ("AE",))
    articles = [
        article("a", "https://a.com/1", "A", tagged=False, event=talks, countries=("SA", "IL")),
        article("b", "https://b.com/1", "B", tagged=False, event=talks, countries=("IL", "SA", "US")),
        article("c", "https://c.com/1", "C", tagged=False, event=joined, countries=("IL",)),
    ]
    # count x weight: talks 2 x 1.5 = 3 ties with joined 1 x 3: the tie goes to the more important kind
    assert summarize(articles, T0).event == joined
    more = [*articles, article("d", "https://d.com/1", "D", tagged=False, event=talks, countries=("SA",))]
    facts = summarize(more, T0)
    assert facts.event == talks  # 3 x 1.5 > 1 x 3
    assert facts.countries == ("SA", "IL", "US")
    assert facts.outlet_count == 4


def test_window_ranges_merge_overlapping_times() -> None:
    day = timedelta(days=1)
    ranges = window_ranges([T0, T0 + day, T0 + 10 * day], timedelta(hours=48))
    assert ranges == [
        (T0 - 2 * day, T0 + 3 * day),
        (T0 + 8 * day, T0 + 12 * day),
    ]
