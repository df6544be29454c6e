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
        ("Turkey threatens to suspend UAE ties over deal with Israel", EventKind.STATEMENT, ("TR", "AE")),
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


def test_an_accession_never_names_israel_or_the_us() -> None:
    # they are the counterparties of every accord: an unnamed country's accession names no country
    assert detect("Israel and US sign Abraham Accords declaration") == DetectedEvent(EventKind.SIGNING, ())
    assert detect("Trump says another country will join the Abraham Accords soon") == DetectedEvent(
        EventKind.INTENT_TO_JOIN, ()
    )
    # when they are the only ones named before the cue, they may hold talks
    assert detect("Israel and US hold talks on Abraham Accords expansion") == DetectedEvent(EventKind.TALKS, ("IL",))


@pytest.mark.parametrize(
    ("title", "summary", "kind", "countries"),
    [
        # refusals and conditions are statements, not the act they refuse or condition
        ("Indonesia will not recognise Israel without a Palestinian state", "", EventKind.STATEMENT, ("ID",)),
        ("Indonesia ready to recognise Israel if it recognises Palestine", "", EventKind.STATEMENT, ("ID",)),
        ("Mauritania rules out normalization with Israel", "", EventKind.STATEMENT, ("MR",)),
        ("Algeria's parliament moves to ban normalization with Israel", "", EventKind.STATEMENT, ("DZ",)),
        # an accusation about a deal is its accuser's statement, not an intent to join
        ("Iran accuses UAE of betrayal over normalization deal with Israel", "", EventKind.STATEMENT, ("IR", "AE")),
        # a threat is words; a suspension is done, whatever its conditions or the protest beside it
        (
            "Saudi Arabia freezes normalization talks with Israel until the war ends",
            "",
            EventKind.SUSPENSION,
            ("SA",),
        ),
        ("Jordan recalls its ambassador to Israel over Gaza", "", EventKind.SUSPENSION, ("JO",)),
        # official visits and negotiations are talks
        ("Israeli tourism minister visits Saudi Arabia", "", EventKind.TALKS, ("SA",)),
        ("Moroccan foreign minister makes first official visit to Israel", "", EventKind.TALKS, ("MA",)),
        ("Israeli foreign minister in Khartoum to discuss normalization", "", EventKind.TALKS, ("SD",)),
        # an effort or a bargain before the act: the deal is sought, not made
        ("US presses Saudi Arabia to normalize relations with Israel", "", EventKind.TALKS, ("SA",)),
        ("Saudi Arabia names its price to normalise ties with Israel", "", EventKind.TALKS, ("SA",)),
        # a leader telling another's is an exchange between states
        ("Saudi peace deal within reach, Netanyahu tells Biden", "", EventKind.TALKS, ("SA",)),
        # an agreement reached, not signed, is an announced accession
        ("Israel and Sudan finalise text of peace agreement", "", EventKind.INTENT_TO_JOIN, ("SD",)),
        ("Bahrain defies warnings and normalises ties with Israel", "", EventKind.INTENT_TO_JOIN, ("BH",)),
        # a noun is no deed: a threat named beside the act does not make it a statement
        ("Saudi-Israel normalization talks go on despite Houthi threat", "", EventKind.TALKS, ("SA",)),
        # a welcome does not hide the act it welcomes
        ("Egypt welcomes UAE and Israel agreement to normalize relations", "", EventKind.INTENT_TO_JOIN, ("AE",)),
        # the Palestinians are no candidate for normalization, but they can recall an envoy
        ("Palestinians recall envoy to UAE over Israel deal", "", EventKind.SUSPENSION, ("PS",)),
        # talks before the act, or a prospect: the deal is sought
        ("Azerbaijan in talks to join Abraham Accords, sources say", "", EventKind.TALKS, ("AZ",)),
        ("Israel, Saudi Arabia closer to normalization deal, officials say", "", EventKind.TALKS, ("SA",)),
        # a statement belongs to the speaker named before the (first) verb of saying, then to its subject
        ("Erdogan condemns UAE-Israel deal, threatens to recall envoy", "", EventKind.STATEMENT, ("TR", "AE")),
        ("Netanyahu says normalization with Saudi Arabia is close", "", EventKind.STATEMENT, ("IL", "SA")),
        ("Iran's president warns Bahrain against peace with Israel", "", EventKind.STATEMENT, ("IR", "BH")),
    ],
)
def test_kinds_follow_who_does_what(title: str, summary: str, kind: EventKind, countries: tuple[str, ...]) -> None:
    assert detect(title, summary) == DetectedEvent(kind, countries)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # explainers and analysis report no event (their summary tells background)
        ("Will Saudi Arabia normalise ties with Israel?", "Riyadh agreed to normalize ties, reports say."),
        ("Analysis: what the UAE-Israel normalization deal means", "The UAE agreed to normalise relations."),
        # reported words with no speaker we can place are commentary, not a country's statement
        ("Kazakhstan joining gives the Abraham Accords momentum, envoy says", ""),
    ],
)
def test_commentary_reports_no_event(title: str, summary: str) -> None:
    assert detect(title, summary) is None


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
