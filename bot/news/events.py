"""What a normalization article reports (its event kind) and which countries the event is about.

Only articles with a normalization angle (the default topic matches) get an event, so a Gaza truce that names
Israel and Egypt, a Sudan peace deal with rebels or a "normalised" in another sense yield None.

Kinds follow who does what. The title is read first, the summary only when the title holds no cue; in one part the
first rule below that fits wins, whatever the order of the words, because some cues change the meaning of others:
1. no event: a title that asks a question or announces analysis ("What's happening with...?", "Analysis:"). An
   explainer reports no event, and its summary tells background, not news.
2. statement, a stance: a threat, warning, refusal, rejection, denial or ban, a negated act ("will not
   recognise", "won't join", "not to make peace"), or an act under a condition ("if", "unless"). Words are not
   deeds: a threat to suspend is not a suspension, "will not recognize Israel without a Palestinian state" is not
   a recognition, a bill to criminalise normalization is not an agreement.
3. suspension: suspend, freeze, pause, halt, shelve, put on ice or on hold, cut or sever ties, recall or expel an
   ambassador (not "suspend annexation"). A suspension is done when reported: "freezes talks until the war ends"
   stays a suspension, and a protest or a condemnation beside it does not make it a statement.
4. statement, a reaction against or a condition: an accusation, condemnation or denunciation ("Iran accuses the
   UAE of betrayal over its deal" is not an intent to join), or terms ("depends on", "without", "conditions").
5. ratification; 6. signing; 7. intent_to_join ("to join", "will join"); 8. joined ("joins", "accession");
9. intent_to_join, an agreement reached: agreed, established, restored, finalized or sealed relations or a deal
   ("agree to normalize", "finalize text of peace agreement", "to normalise ties"). The country has said yes but
   signed nothing yet (the UAE announced on 2020-08-13 and signed on 09-15); a deal only "in reach" is not one.
   Rules 5-9 are prospective: an effort, a bargain or talks named before the act ("urges X to join", "vow to work
   together to normalise", "offers its price to normalize", "in talks to join") make the article talks, as the
   deal is being sought.
10. talks: talks, negotiations, discussions, visits, meetings, a delegation (official visits are talks), and one
    leader telling another's ("deal in reach, Netanyahu tells Biden"): an exchange between two states.
11. recognition: recognize/recognise + Israel, a state or sovereignty.
12. statement, reported speech (says, tells, suggests, welcomes, praises) when its speaker is named just before
    the verb: "Saudi crown prince says normalization gets closer" is Saudi Arabia's statement. A welcome does not
    hide the act it welcomes (rules 5-11 come first), so a reaction that reports the deal joins the deal's story;
    words with no speaker we can place ("..., envoy says") are commentary, not a country's statement.
13. talks, a prospect: closer, near, within reach ("Israel, Saudi Arabia closer to a deal, officials say"); after
    reported speech, because what a named country says of its prospects is its statement. An article with no cue
    at all carries no event and joins the story it comments on (bot.news.stories).

The countries of an act: Israel and the US are the counterparties of every accord and the Palestinians a party to
the conflict, not candidates for normalization, so none of them is the subject of an act unless it is the only
country named before the cue ("Israel and US hold talks"), and an accession never names them ("Trump says another
country will join" names no country, not the United States); the Palestinians can be the actor of a suspension
("Palestinians recall envoy to UAE"). Among the others, those named before the cue in the same part are the
subjects ("UAE, Bahrain and Israel sign"), else the first one after it ("Knesset approves UAE peace deal"); when
that part names none, the other part may ("See the question Trump asked Netanyahu", whose summary names Sudan).
Egypt and Jordan, whose treaties with Israel (1979, 1994) precede the accords, are subjects of an accession only
when no other country is a candidate ("Egypt's peace treaty" never makes Egypt a member), but of anything else
like any country: Jordan recalling its ambassador is Jordan's suspension.
A statement belongs to its speaker, the country named just before the first verb of saying ("Iran's president
warns", "Erdogan condemns UAE-Israel deal, threatens..." is Turkey's), Israel and the US included, followed by the
country it is about when that is another one: (IR, SA) for "Iran warns Saudi Arabia not to make peace with Israel".
So statements of different speakers are different events (see bot.news.stories).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bot.native import pickled_by_fields
from bot.news.gazetteer import Mention, mentions
from bot.news.models import DetectedEvent, EventKind
from bot.news.textnorm import Atom, Document, PatternIndex, pattern
from bot.news.topics import default_query

_COUNTERPARTIES = frozenset({"IL", "US"})
_NOT_PARTNERS = _COUNTERPARTIES | {"PS"}
_OLD_TREATIES = frozenset({"EG", "JO"})
_ACCESSION = frozenset({EventKind.INTENT_TO_JOIN, EventKind.JOINED, EventKind.SIGNING, EventKind.RATIFICATION})
_SPEAKER_REACH = 3  # a speaker is named at most this many words before the verb of saying

_Pattern = tuple[Atom, ...]

# A title that asks a question or labels itself commentary reports no event.
_COMMENTARY = re.compile(
    r"\?\s*$|^\s*(analysis|opinion|explainer|comment|editorial|q&a|what to know|the big picture)\s*[:|-]", re.I
)


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: EventKind
    groups: tuple[tuple[_Pattern, ...], ...]  # one term of every group must occur; the first group is the trigger
    unless: tuple[_Pattern, ...] = ()  # none of these may occur in the same part
    spoken: bool = False  # the trigger is a verb of saying: the event belongs to its speaker
    needs_speaker: bool = False  # reported speech is a statement only when its speaker is named
    addressed: bool = False  # the speaker addresses another country's leader right after the verb
    prospective: bool = False  # an act not done yet: an effort or bargain named before it makes it talks


def _patterns(terms: str) -> tuple[_Pattern, ...]:
    return tuple(pattern(term) for term in terms.split("|") if term)


def _rule(kind: EventKind, *groups: str, unless: str = "", **flags: bool) -> _Rule:
    return _Rule(kind, tuple(_patterns(group) for group in groups), _patterns(unless), **flags)


_JOIN_OBJECT = "accord*|declaration|abraham|اتفاق*|ابراهام|הסכמ*|אברהם|соглашени*|авраам*"
_DEAL = "accord*|declaration|treaty|deal|agreement|pact|communique|اتفاق*|معاهده|اعلان|הסכם*|הצהר*|соглашени*|договор*"
_NEGATED_ACTS = "|".join(
    f"{negation} {act}"
    for negation in ("not", "not to", "won't", "never", "cannot", "can't", "no")
    for act in ("join*", "recogni*", "normali*", "make peace", "sign", "establish*")
)
# An effort or a bargain: the act after it is sought, not done.
_EFFORT = (
    "vow|vows|vowed|pledg*|work to|works to|working to|work toward*|works toward*|work together|push*|seek*|hope*"
    "|aim*|try|tries|trying|effort*|bid to|urg*|press*|call on|calls on|called on|price|in exchange|encourag*"
    "|persuad*|convinc*|talks|negotiat*|يحث|حث|تسعى|يسعى|דוחק|מנסה|призв*|призыва*|добива*"
)


@cache
def _rules() -> tuple[_Rule, ...]:
    return (
        _rule(
            EventKind.STATEMENT,
            "threaten*|warn|warns|warned|rules out|ruled out|rule out|refus*|reject*|deni*|deny|dismiss*|oppose"
            "|opposes|opposed|forbid*|to ban|bans|banned|banning|outlaw*|criminalis*|criminaliz*"
            "|يرفض|ترفض|تحذر|يحذر|מאיים|מזהיר|דוחה|угрож*|предупред*|отказ*",
            spoken=True,
        ),
        _rule(EventKind.STATEMENT, f"if|unless|provided|{_NEGATED_ACTS}"),
        _rule(
            EventKind.SUSPENSION,
            "suspend*|suspension|freez*|froze|frozen|paus*|recall*|expel*|halt*|sever|severs|severed|severing"
            "|cut ties|cuts ties|shelv*|on hold|on ice|downgrad*|withdraws ambassador|withdraws envoy"
            "|تعليق|تعلق|تجميد|تجمد|استدعاء|قطع|השעי*|השעה|הקפא*|מקפיא*|החזיר*|приостанов*|замороз*|отозвал*|разорв*",
            unless="annex*|sovereignty|ضم|סיפוח|аннекс*",
        ),
        _rule(
            EventKind.STATEMENT,
            "accus*|blam*|condemn*|denounc*|slam*|decr*|criticis*|criticiz*|betray*|lambast*|ادان*|تدين|גינה|осудил*",
            spoken=True,
        ),
        _rule(
            EventKind.STATEMENT,
            "depends on|depend on|dependent on|conditional|conditions|condition|precondition*|without|requires"
            "|require|demand*|مشروط|שתנאי|תנאי|услови*",
        ),
        _rule(
            EventKind.RATIFICATION,
            "ratif*|knesset approv*|cabinet approv*|parliament approv*|knesset vot*|knesset passes|cabinet ratif*"
            "|صادق*|مصادقه|يصادق|אשרר*|אישרה|אישר|ратифиц*",
            prospective=True,
        ),
        _rule(
            EventKind.SIGNING,
            "sign|signs|signed|signing|inks|inked|وقع*|توقع*|توقيع|חתמ*|חותמ*|חתימ*|подпис*",
            _DEAL,
            unless="sign of|signs of|علامه|סימן|признак*",
            prospective=True,
        ),
        _rule(
            EventKind.INTENT_TO_JOIN,
            "to join|will join|would join|agreed to join|agrees to join|agree to join|in principle|set to join"
            "|plans to join|ready to join|intends to join|intention to join|decision to join|poised to join"
            "|ستنضم*|تنضم*|سينضم*|ينضم*|תצטרף|יצטרף|יצטרפו|присоединится|присоединятся|намерен*",
            _JOIN_OBJECT,
            prospective=True,
        ),
        _rule(
            EventKind.JOINED,
            "joins|joined|has joined|join|accession|انضم*|انضمت|הצטרפ*|присоединил*|присоединени*",
            _JOIN_OBJECT,
            prospective=True,
        ),
        _rule(
            EventKind.INTENT_TO_JOIN,
            "agree|agrees|agreed|agreeing|establish*|restor*|resum*|reached|reaches|seal|seals|sealed|clinch*"
            "|finaliz*|finalis*|to normalise|to normalize|will normalise|will normalize|normalises|normalizes"
            "|normalised|normalized|decision to normalise"
            "|decision to normalize|اتفق*|اقامه|استئناف|הסכימ*|כינון|договорил*|установ*",
            "normali*|relations|ties|deal|agreement|accord*|treaty|pact|peace|تطبيع|علاقات|اتفاق*|נורמליזצי*|יחסים"
            "|הסכם*|нормализ*|отношени*|соглашени*",
            unless="talks|negotiat*|محادثات|مفاوضات|שיחות|משא ומתן|переговор*",
            prospective=True,
        ),
        _rule(
            EventKind.TALKS,
            "talks|negotiat*|discuss*|visit*|meet|meets|met|meeting|delegation|arriv*|trip|push|drive|mediat*"
            "|محادثات|مفاوضات|زياره|يزور|يلتقي|שיחות|מגעים|משא ומתן|ביקור|נפגש|переговор*|визит*|встреч*",
        ),
        _rule(EventKind.TALKS, "tells|told|tell|assures|assured|אמר ל|сказал*", addressed=True),
        _rule(
            EventKind.RECOGNITION,
            "recogni*|اعتراف|اعترف*|تعترف|הכיר*|הכרה|מכיר*|призна*",
            "Israel|state|sovereignty|independen*|Somaliland|اسرائيل*|دوله|سياده|ישראל*|מדינה|ריבונות|израил*"
            "|государств*|суверенитет*",
        ),
        _rule(
            EventKind.STATEMENT,
            "says|said|say|statement|told|tells|tell|suggest*|insist*|affirm*|confirm*|welcom*|prais*|hail*|calls"
            "|interview|قال|تقول|يقول|بيان|رحب*|יאמר|אמר|אומר|הודיע*|заявил*|заявлени*|сказал*|приветств*",
            spoken=True,
            needs_speaker=True,
        ),
        _rule(EventKind.TALKS, "closer|close to|near*|within reach|in reach|on track|imminent|prospect*"),
    )


@cache
def _effort() -> tuple[_Pattern, ...]:
    return _patterns(_EFFORT)


class _Vocabulary:
    """Every pattern of the rules, indexed once (`PatternIndex`): which of them may occur in an article is one
    look-up, so a group is searched only for its patterns that may occur (about 26 searches a group before, for the
    ~1 that occurs)."""

    def __init__(self, groups: list[tuple[_Pattern, ...]]) -> None:
        patterns = list(dict.fromkeys(found for group in groups for found in group))
        ids = {found: number for number, found in enumerate(patterns)}
        self.index = PatternIndex(patterns)
        self._groups = groups  # kept alive: `members` is keyed by their identity
        self.members = {id(group): tuple((ids[found], found) for found in group) for group in groups}

    def present(self, document: Document) -> frozenset[int]:
        return document.derived(self, lambda indexed: frozenset(self.index.candidates(indexed)))


@cache
def _vocabulary() -> _Vocabulary:
    return _Vocabulary([group for rule in _rules() for group in (*rule.groups, rule.unless)] + [_effort()])


def _positions(document: Document, patterns: tuple[_Pattern, ...]) -> list[int]:
    """Where any of the patterns (a group of `_rules`, or `_effort`) starts, in the title or the summary: found
    once per article, as the rules ask of each part in turn."""

    def compute(indexed: Document) -> list[int]:
        vocabulary = _vocabulary()
        present = vocabulary.present(indexed)
        members = vocabulary.members[id(patterns)]
        return [at for number, found in members if number in present for at in indexed.find(found)]

    return document.derived(patterns, compute)


def _hits(document: Document, patterns: tuple[_Pattern, ...], in_title: bool) -> list[int]:
    end = document.title_end
    return [position for position in _positions(document, patterns) if (position < end) == in_title]


def _first_hit(document: Document, rule: _Rule, in_title: bool) -> int | None:
    """Where the rule's trigger first occurs in one part of the article, if all its groups occur there and none of
    its exceptions. The trigger is asked first: most articles lack it, and then nothing else is looked for."""
    trigger = _hits(document, rule.groups[0], in_title)
    if not trigger:
        return None
    if not all(_hits(document, group, in_title) for group in rule.groups[1:]):
        return None
    if _hits(document, rule.unless, in_title):
        return None
    return min(trigger)


def _speaker(part: list[Mention], trigger: int) -> Mention | None:
    """The country named just before a verb of saying (the nearest within a few words), if any."""
    near = [m for m in part if 0 <= trigger - m.position <= _SPEAKER_REACH]
    return max(near, key=lambda m: m.position) if near else None


def _partner_subjects(part: list[Mention], trigger: int, kind: EventKind) -> tuple[str, ...]:
    """The partners an act is about: those named before the cue, else the first one after it. The Palestinians
    count only as the actor of a suspension ("Palestinians recall envoy to UAE")."""
    actors = _COUNTERPARTIES if kind is EventKind.SUSPENSION else _NOT_PARTNERS
    candidates = [m for m in part if m.key not in actors]
    if kind in _ACCESSION and any(m.key not in _OLD_TREATIES for m in candidates):
        candidates = [m for m in candidates if m.key not in _OLD_TREATIES]
    before = [m.key for m in candidates if m.position < trigger]
    after = [m.key for m in candidates if m.position >= trigger and m.key not in _NOT_PARTNERS]
    return tuple(dict.fromkeys(before or after[:1]))


def _subjects(found: list[Mention], in_title: bool, trigger: int, kind: EventKind) -> tuple[str, ...]:
    """The countries an act is about (see the module docstring): partners in the part that holds the cue, else in
    the other part; else Israel or the US when named before the cue, and never for an accession."""
    part = [m for m in found if m.in_title == in_title]
    subjects = _partner_subjects(part, trigger, kind)
    if not subjects:
        other = [m for m in found if m.in_title != in_title and m.key not in _NOT_PARTNERS]
        subjects = _partner_subjects(other, 1 << 30, kind)[:1]
    if subjects or kind in _ACCESSION:
        return subjects
    return tuple(m.key for m in part if m.key in _COUNTERPARTIES and m.position < trigger)[:1]


def _statement(
    document: Document, found: list[Mention], in_title: bool, trigger: int, kind: EventKind
) -> tuple[str, ...]:
    """A statement's countries: its speaker, then the country it is about when that is another one. The speaker is
    named before the first verb of saying in the part ("Erdogan condemns UAE-Israel deal, threatens to recall
    envoy" is Turkey's, not Israel's)."""
    part = [m for m in found if m.in_title == in_title]
    first = min(
        (p for rule in _rules() if rule.spoken for p in _hits(document, rule.groups[0], in_title)), default=trigger
    )
    speaker = _speaker(part, min(first, trigger))
    if speaker is None:
        return _subjects(found, in_title, trigger, EventKind.STATEMENT)[:1]
    about = [m.key for m in part if m.key not in _NOT_PARTNERS and m.key != speaker.key]
    return (speaker.key, *about[:1])


def _read(document: Document, found: list[Mention], in_title: bool) -> DetectedEvent | None:
    """The event one part of the article (title or summary) reports, by the first rule that fits."""
    part = [m for m in found if m.in_title == in_title]
    for rule in _rules():
        trigger = _first_hit(document, rule, in_title)
        if trigger is None:
            continue
        speaker = _speaker(part, trigger) if rule.needs_speaker or rule.addressed else None
        if rule.needs_speaker and speaker is None:
            continue
        if rule.addressed and not (
            speaker is not None and any(m.position == trigger + 1 and m.key != speaker.key for m in part)
        ):
            continue
        kind = rule.kind
        if rule.prospective and any(position < trigger for position in _hits(document, _effort(), in_title)):
            kind = EventKind.TALKS
        if rule.spoken:
            return DetectedEvent(kind, _statement(document, found, in_title, trigger, kind))
        subjects = _subjects(found, in_title, trigger, kind)
        return DetectedEvent(kind, subjects[:1] if kind is EventKind.STATEMENT else subjects)
    return None


def detect_event(
    title: str,
    summary: str,
    countries: tuple[str, ...],
    *,
    document: Document | None = None,
    found_mentions: tuple[Mention, ...] | None = None,
) -> DetectedEvent | None:
    """The event an article reports and the countries it is about, or None (see the module docstring).

    `countries` are the article's tags (bot.news.gazetteer.tag_countries); the event's countries are drawn from
    them, placed by where the text names them. A caller that has already indexed the article
    (`Document(title, summary)`) and found its country mentions (`gazetteer.mentions`) passes them, so the
    article is normalised and scanned once; they must be of this same title and summary.
    """
    if _COMMENTARY.search(title):
        return None
    if document is None:
        document = Document(title, summary)
    if default_query().match_document(document) is None:
        return None
    if found_mentions is None:
        found_mentions = mentions(document, title, summary)
    allowed = set(countries)
    found = [mention for mention in found_mentions if not allowed or mention.key in allowed]
    for in_title in (True, False):
        event = _read(document, found, in_title)
        if event is not None:
            return event
    return None


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
