from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bench.newsfeeds import make_feed
from bot.news import stories
from bot.news.events import detect_event
from bot.news.gazetteer import tag_countries
from bot.news.matching import TopicMatcher
from bot.news.models import Article, DetectedEvent, EventKind, Source, Story
from bot.news.parse import parse_feed
from bot.news.stories import (
    Accession,
    Clusterer,
    is_follow_up,
    known_accessions,
    overlap,
    score,
    summarize,
    title_words,
    window_ranges,
)

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


def one_story(*titles: str, hours: int = 3) -> list[bool]:
    """Place articles of these titles a few hours apart, from distinct outlets: which started a new story."""
    clusterer = Clusterer()
    placed = [
        clusterer.place(
            article(title, f"https://outlet{i}.example/a", f"Outlet {i}", at=T0 + timedelta(hours=i * hours))
        )
        for i, title in enumerate(titles)
    ]
    return [p.new_story for p in placed]


def test_one_event_told_in_other_words_is_one_story() -> None:
    # talks and the agreement they produced, about one country, share only its name and Israel's
    assert one_story(
        "Israeli foreign minister in Khartoum to discuss normalization",
        "Sudan and Israel finalise text of peace agreement",
    ) == [True, False]
    # one speaker's words about one country, told twice
    assert one_story(
        "Saudi Arabia says a Palestinian state is crucial to any deal with Israel",
        "Saudi crown prince says normalization with Israel gets closer every day",
    ) == [True, False]


def test_a_leaders_visit_and_his_conditions_are_one_story() -> None:
    assert one_story(
        "Prabowo visits UAE, discusses ties with Israel",
        "Prabowo sets conditions for ties with Israel during UAE visit",
    ) == [True, False]


def test_an_event_whose_country_is_not_named_joins_by_similar_titles() -> None:
    # a misspelt country ("Sundan") is unknown, not another country
    assert one_story(
        "Israel and Sudan agree to normalize relations, says Israeli minister",
        "Israel and Sundan agree to normalize relations",
    ) == [True, False]


def test_a_placement_says_why_it_joined() -> None:
    clusterer = Clusterer()
    first, second = clusterer.place(UAE_1), clusterer.place(UAE_2)
    assert first.reason.startswith("new story: its event, ")
    assert second.reason.startswith("joined a story: same event as the story's article: ")
    assert UAE_1.event is not None
    assert second.reason.endswith(f"{UAE_1.event.kind.value} ({' '.join(UAE_1.event.countries)})")
    clusterer = Clusterer()
    clusterer.place(article("Morocco court rules on football transfers", "https://x.ma/1", "X", tagged=False))
    alike = clusterer.place(
        article("Morocco court rules on football transfer fees", "https://y.ma/2", "Y", tagged=False)
    )
    assert re.fullmatch(r"joined a story: similar titles \(1\.00, \d words shared\)", alike.reason)


def test_reactions_and_commentary_join_the_events_story() -> None:
    clusterer = Clusterer()
    clusterer.place(article("Kazakhstan to join Abraham Accords, Trump says", "https://a.example/kz", "A"))
    later = T0 + timedelta(hours=20)
    reaction = article(
        "Kazakhstan's move is more symbolic than it looks, analysts say",
        "https://b.example/kz",
        "B",
        at=later,
        summary="The Central Asian state already has ties with Israel; joining the Abraham Accords is symbolic.",
    )
    assert reaction.event is None
    placement = clusterer.place(reaction)
    assert not placement.new_story
    assert placement.reason.startswith("joined a story: no event of its own, about KZ like the story's ")
    assert placement.reason.endswith(": a reaction")


def test_what_others_say_about_a_country_is_not_what_it_says_or_does() -> None:
    # statements of two speakers about Saudi Arabia on one day
    assert one_story(
        "Saudi crown prince says normalization with Israel gets closer every day",
        "Iran's president warns Saudi Arabia against normalization with Israel",
    ) == [True, True]
    # a third country's threat over a deal is its own event, even with words of the deal's title
    assert one_story(
        "UAE and Israel sign deal to suspend annexation",
        "Turkey threatens to suspend UAE ties over Israel deal",
    ) == [True, True]


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


def test_score_ranks_by_kind_and_independent_outlets_whenever_it_is_computed() -> None:
    assert score(EventKind.JOINED, 8) == score(EventKind.JOINED, 3) == 7.755  # 3 x (1 + log2 3): confirmed
    assert score(EventKind.JOINED, 1) == 3.0
    assert score(EventKind.JOINED, 2) == 6.0
    assert score(EventKind.TALKS, 1) == 1.5
    assert score(None, 1) == 0.8
    # a new accession from one outlet outranks any follow-up, statement or commentary, however widely reported
    lone_accession = score(EventKind.INTENT_TO_JOIN, 1)
    for kind in (EventKind.STATEMENT, None, EventKind.SIGNING):
        assert score(kind, 50, follow_up=kind is EventKind.SIGNING) < lone_accession


def test_a_story_scores_the_same_whenever_it_is_summarized() -> None:
    early = summarize([UAE_1, UAE_2, UAE_3], T0)
    years_later = summarize([UAE_1, UAE_2, UAE_3], T0 + timedelta(days=2000))
    assert early == years_later
    assert early.score == 7.755  # a new accession (the UAE had announced nothing before) from three outlets


ACCESSIONS = {"AE": Accession(date(2020, 8, 13), date(2020, 9, 15)), "KZ": Accession(date(2025, 11, 6))}


@pytest.mark.parametrize(
    ("event", "day", "follow_up"),
    [
        (DetectedEvent(EventKind.INTENT_TO_JOIN, ("AE",)), date(2020, 8, 13), False),  # the announcement
        (DetectedEvent(EventKind.INTENT_TO_JOIN, ("AE",)), date(2020, 8, 17), True),  # news of it days later
        (DetectedEvent(EventKind.SIGNING, ("AE",)), date(2020, 9, 15), False),  # the signing itself
        (DetectedEvent(EventKind.SIGNING, ("AE",)), date(2022, 5, 31), True),  # a member's later deal
        (DetectedEvent(EventKind.SIGNING, ("KZ",)), date(2026, 2, 1), False),  # announced, signs later: new
        (DetectedEvent(EventKind.INTENT_TO_JOIN, ("SA",)), date(2026, 2, 1), False),  # never announced
        (DetectedEvent(EventKind.INTENT_TO_JOIN, ()), date(2026, 2, 1), True),  # "another country will join"
        (DetectedEvent(EventKind.SUSPENSION, ()), date(2023, 11, 1), True),  # a country the text does not name
        (DetectedEvent(EventKind.SUSPENSION, ("AE",)), date(2023, 11, 1), False),  # a member suspending is news
        (DetectedEvent(EventKind.STATEMENT, ("TR", "AE")), date(2020, 8, 14), False),
        (None, date(2020, 8, 14), False),
    ],
)
def test_a_new_accession_is_told_from_a_follow_up(event: DetectedEvent | None, day: date, follow_up: bool) -> None:
    published = datetime.combine(day, time(12), tzinfo=UTC)
    assert is_follow_up(event, published, ACCESSIONS) is follow_up


def test_known_accessions_come_from_the_curated_dataset() -> None:
    known = known_accessions()
    assert known["AE"] == Accession(date(2020, 8, 13), date(2020, 9, 15))
    assert known["SD"] == Accession(date(2020, 10, 23), date(2021, 1, 6))
    assert known["KZ"].signed is None
    assert "XK" not in known  # related, not a member


def test_follow_ups_rank_below_new_accessions_in_the_drafts() -> None:
    # the UAE's phone link, days after its announcement, against Bahrain's announcement from one outlet
    phone = article(
        "Israel and UAE open phone link after historic deal",
        "https://theguardian.com/phone",
        "The Guardian",
        at=datetime(2020, 8, 16, 12, tzinfo=UTC),
        summary="The link follows the agreement to establish diplomatic ties.",
    )
    again = article(
        "UAE and Israel phone link opens after deal to establish ties",
        "https://bbc.co.uk/phone",
        "BBC",
        at=datetime(2020, 8, 16, 13, tzinfo=UTC),
    )
    bahrain = article(
        "Bahrain agrees to normalize ties with Israel",
        "https://theguardian.com/bh",
        "The Guardian",
        at=datetime(2020, 9, 11, 18, tzinfo=UTC),
    )
    clusterer = Clusterer(accessions=ACCESSIONS)
    for item in (phone, again, bahrain):
        clusterer.place(item)
    scores = {draft.facts.title: draft.facts.score for draft in clusterer.drafts(T0)}
    assert scores[bahrain.title] > scores[phone.title]


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


def test_profiles_share_what_many_articles_have_alike() -> None:
    """The clustering holds a profile per article of the window (thousands in a first poll): articles about the
    same partners share one set of them, and a title naming no country has one set of words, not two."""
    clusterer = Clusterer()
    plain = article("Historic deal on trade agreed in talks", "https://a.example/1", "A", tagged=False)
    for item in (UAE_1, UAE_2, plain):
        clusterer.place(item)
    profiles = [profile for cluster in clusterer.clusters for profile in cluster.profiles]
    first, second, third = (next(p for p in profiles if p.article is item) for item in (UAE_1, UAE_2, plain))
    assert first.partners == second.partners == frozenset({"AE"})
    assert first.partners is second.partners
    assert third.content is third.words
    assert first.content != first.words


def test_event_relations_are_remembered_by_identity_and_stay_exact() -> None:
    """Equal events that are distinct objects, and objects seen before, get what the relation itself gives."""
    kinds = list(EventKind)
    countries = [(), ("AE",), ("AE", "IL"), ("SA",), ("IL", "US"), ("KZ", "IL"), ("TR", "AE")]
    events = [DetectedEvent(kind, where) for kind in kinds for where in countries]
    copies = [DetectedEvent(event.kind, tuple(event.countries)) for event in events]
    for relation in (stories._same_event, stories._related):
        for _ in range(2):  # the second time from memory
            for a, b in itertools.product(events + copies, repeat=2):
                assert relation(a, b) == relation.__wrapped__(a, b), (relation.__name__, a, b)  # type: ignore[attr-defined]


def _bench_articles(feeds: int) -> list[Article]:
    """The relevant articles of bench/newsfeeds.py's feeds, tagged as the poll tags them, with links shared across
    feeds now and then (the same article in two feeds)."""
    found: list[Article] = []
    matcher = TopicMatcher()
    for index in range(feeds):
        for entry in parse_feed(make_feed(index), source=Source("https://feeds.example/x", "x")).entries:
            tagging = matcher.tag(entry.title, entry.summary)
            if not tagging.topics:
                continue
            url = entry.link if len(found) % 7 else "https://shared.example/" + str(len(found) % 3)
            at = entry.published or T0
            found.append(
                article(
                    entry.title, url, "Outlet", at=at, tagged=False, countries=tagging.countries, event=tagging.event
                )
            )
    return found


def test_an_article_stops_looking_once_it_has_the_highest_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placing stops comparing at the highest affinity (stories._HIGHEST), which nothing exceeds and a tie does not
    replace: the placements are those of comparing with every candidate."""
    articles = sorted(_bench_articles(40), key=lambda a: (a.published, a.url))
    assert len(articles) > 60
    profiles = [stories._profile(a) for a in articles]
    for a, b in itertools.product(profiles, repeat=2):
        found = stories.affinity(a, b)
        assert found is None or found[0] <= stories._HIGHEST
    placed = stories.Clusterer()
    quick = [placed.place(a) for a in articles]
    monkeypatch.setattr(stories, "_HIGHEST", float("inf"))
    compared = stories.Clusterer()
    assert [compared.place(a) for a in articles] == quick


def test_a_link_already_placed_is_found_after_the_highest_affinity() -> None:
    """An article at the highest affinity with one story still goes where its link already is."""
    clusterer = stories.Clusterer()
    first = clusterer.place(UAE_1)
    other = clusterer.place(article("Morocco recalls its envoy from Algeria", "https://x.example/y", "AFP"))
    assert other.new_story
    assert other.cluster != first.cluster
    again = article(UAE_1.title, "https://x.example/y", "Reuters", at=T0 + timedelta(hours=1))
    highest = stories.affinity(stories._profile(again), stories._profile(UAE_1))
    assert highest is not None
    assert highest[0] == stories._HIGHEST
    assert clusterer.place(again) == stories.Placement(other.cluster, False, "already in this story")
