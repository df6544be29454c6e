import pytest

from bot.news.events import detect_event
from bot.news.gazetteer import mentions, rank, tag_countries
from bot.news.models import DetectedEvent, EventKind
from bot.news.textnorm import Document


def detect(title: str, summary: str = "") -> DetectedEvent | None:
    return detect_event(title, summary, tag_countries(title, summary))


@pytest.mark.parametrize(
    ("title", "kind", "countries"),
    [
        ("Kazakhstan to join Abraham Accords, Trump says", EventKind.INTENT_TO_JOIN, ("KZ",)),
        (
            "Kazakhstan, which already has relations with Israel, to join Abraham Accords",
            EventKind.INTENT_TO_JOIN,
            ("KZ",),
        ),
        ("Kazakhstan joins Abraham Accords", EventKind.JOINED, ("KZ",)),
        ("Saudi Arabia pauses normalization talks with Israel", EventKind.SUSPENSION, ("SA",)),
        ("Bahrain recalls ambassador from Israel", EventKind.SUSPENSION, ("BH",)),
        ("Knesset approves UAE peace deal", EventKind.RATIFICATION, ("AE",)),
        ("Morocco, Israel agree to normalize relations in latest US-brokered deal", EventKind.INTENT_TO_JOIN, ("MA",)),
        ("Sudan signs Abraham Accords declaration", EventKind.SIGNING, ("SD",)),
        ("UAE, Bahrain and Israel sign historic accords at White House event", EventKind.SIGNING, ("AE", "BH")),
        ("Trump urges Syria's al-Sharaa to join Abraham Accords", EventKind.TALKS, ("SY",)),
        ("US and Saudi Arabia advance talks on Israel normalization", EventKind.TALKS, ("SA",)),
        ("Israel recognizes Somaliland as independent state", EventKind.RECOGNITION, ("SOMALILAND",)),
        ("Sharaa rules out Syria joining the Abraham Accords anytime soon", EventKind.STATEMENT, ("SY",)),
        ("Turkey threatens to suspend UAE ties over deal with Israel", EventKind.STATEMENT, ("TR",)),
        ("Saudi crown prince says kingdom wants to be part of Abraham Accords", EventKind.STATEMENT, ("SA",)),
        ("Israel signs historic deal with UAE that will 'suspend' West Bank annexation", EventKind.SIGNING, ("AE",)),
        ("كازاخستان تنضم إلى اتفاقيات أبراهام", EventKind.INTENT_TO_JOIN, ("KZ",)),
        ("السعودية تعلق محادثات التطبيع مع إسرائيل", EventKind.SUSPENSION, ("SA",)),
        ("קזחסטן תצטרף להסכמי אברהם", EventKind.INTENT_TO_JOIN, ("KZ",)),
        ("Казахстан присоединится к Авраамовым соглашениям", EventKind.INTENT_TO_JOIN, ("KZ",)),
    ],
)
def test_headlines(title: str, kind: EventKind, countries: tuple[str, ...]) -> None:
    assert detect(title) == DetectedEvent(kind, countries)


def test_subject_may_come_from_the_summary() -> None:
    event = detect(
        "See the uncomfortable question Trump asked Netanyahu",
        "After announcing that Israel and Sudan have agreed to normalize relations, Trump asked Netanyahu...",
    )
    assert event == DetectedEvent(EventKind.INTENT_TO_JOIN, ("SD",))


def test_counterparties_only_when_alone() -> None:
    assert detect("Israel and US sign Abraham Accords declaration") == DetectedEvent(EventKind.SIGNING, ("IL",))


def test_gaza_ceasefire_with_israel_and_egypt_is_not_normalization() -> None:
    assert (
        detect(
            "Egypt brokers Gaza ceasefire between Israel and Hamas",
            "Egyptian mediators said Israel and Hamas agreed a truce deal; Qatar also helped.",
        )
        is None
    )


def test_egypts_old_peace_treaty_does_not_make_egypt_a_member() -> None:
    event = detect(
        "Israel and UAE agree to normalize relations, the first since Egypt's peace treaty in 1979 and Jordan's in 1994"
    )
    assert event == DetectedEvent(EventKind.INTENT_TO_JOIN, ("AE",))
    assert detect("Egypt's peace treaty with Israel turns 40", "Egypt signed the treaty with Israel in 1979.") is None


def test_other_senses_and_other_peace_deals() -> None:
    assert detect("Premier League normalised as fans return", "Football has normalised") is None
    assert detect("Sudan government agrees to peace deal with five rebel groups", "Sudan signed the deal") is None


def test_countries_given_by_the_caller_bound_the_result() -> None:
    assert detect_event("UAE, Bahrain and Israel sign historic accords", "", ("BH", "IL")) == DetectedEvent(
        EventKind.SIGNING, ("BH",)
    )


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("UAE, Bahrain and Israel sign historic accords at White House event", ""),
        (
            "See the uncomfortable question Trump asked Netanyahu",
            "After announcing that Israel and Sudan have agreed to normalize relations, Trump asked Netanyahu...",
        ),
        ("Egypt brokers Gaza ceasefire between Israel and Hamas", "Israel and Hamas agreed a truce deal"),
        ("U.S. says Saudi Arabia pauses normalization talks with Israel", "The KSA and the U.A.E. said so."),
    ],
)
def test_a_prebuilt_document_and_mentions_give_the_same_event(title: str, summary: str) -> None:
    document = Document(title, summary)
    found = mentions(document, title, summary)
    countries = rank(found)
    alone = detect_event(title, summary, countries)
    assert detect_event(title, summary, countries, document=document) == alone
    assert detect_event(title, summary, countries, document=document, found_mentions=found) == alone
