"""What a normalization article reports (its event kind) and which country the event is about.

Only articles with a normalization angle (the default topic matches) get an event, so a Gaza truce that names
Israel and Egypt, a Sudan peace deal with rebels or a "normalised" in another sense yield None.

The mapping (rules tried in this order on the title, then on the summary; the first that fits wins):
- statement: a threat, warning or refusal ("threatens to suspend", "rules out joining", "will not join") — a
  threat to suspend is words, not a suspension;
- ratification: "ratif*", "Knesset/cabinet/parliament approves";
- suspension: suspend, freeze, pause, recall an ambassador or envoy, halt or cut ties (not "suspend annexation");
- signing: sign/signs/signed/signing/inks + accord, declaration, treaty, deal, agreement, pact or communique
  (not in a part that says "sign of", the noun);
- talks: someone is urged or pressed to join;
- intent_to_join: "to join", "will join", "agreed in principle", "plans/ready/set to join" — not yet a member;
- joined: "joins"/"joined"/"accession";
- intent_to_join again: an announced agreement to normalize ("agree to normalize relations", "deal to
  normalise", "establish full diplomatic relations", "to normalise ties"). The country has said yes but
  signed nothing yet (the UAE announced on 2020-08-13 and signed on 09-15), so it is not reported as joined;
  this is how the labelled corpus reads those announcements too;
- talks: talks, negotiations, "normalization push";
- recognition: recognize/recognise + Israel, a state or sovereignty;
- statement: says, statement, condemns, welcomes, denies and the like.

The country: IL and US are the counterparties of every accord, so they are left out unless they are the only
ones. Among the others, those named before the trigger word in the same part (title or summary) are the subjects
("UAE, Bahrain and Israel sign"), else the first one after it ("Knesset approves UAE peace deal"); a statement
has one subject, its speaker. Egypt and Jordan, whose treaties with Israel (1979, 1994) precede the accords,
are subjects only when no other country is a candidate, so "Egypt's peace treaty" never makes Egypt a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from bot.news.gazetteer import Mention, mentions
from bot.news.models import DetectedEvent, EventKind
from bot.news.textnorm import Atom, Document, pattern
from bot.news.topics import default_query

_COUNTERPARTIES = frozenset({"IL", "US"})
_OLD_TREATIES = frozenset({"EG", "JO"})

_Pattern = tuple[Atom, ...]


def _pattern(term: str) -> tuple[Atom, ...]:
    return pattern(term)


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: EventKind
    groups: tuple[tuple[_Pattern, ...], ...]  # one term of every group must occur; the first group is the trigger
    unless: tuple[_Pattern, ...] = ()  # none of these may occur in the same part


def _rule(kind: EventKind, *groups: str, unless: str = "") -> _Rule:
    return _Rule(
        kind,
        tuple(tuple(_pattern(term) for term in group.split("|")) for group in groups),
        tuple(_pattern(term) for term in unless.split("|") if term),
    )


_JOIN_OBJECT = "accord*|declaration|abraham|اتفاق*|ابراهام|הסכמ*|אברהם|соглашени*|авраам*"
_DEAL = "accord*|declaration|treaty|deal|agreement|pact|communique|اتفاق*|معاهده|اعلان|הסכם*|הצהר*|соглашени*|договор*"


@cache
def _rules() -> tuple[_Rule, ...]:
    return (
        _rule(
            EventKind.STATEMENT,
            "threaten*|threat|warn*|rules out|ruled out|rule out|not join|won't join|will not join|refus*|reject*"
            "|deni*|deny|يرفض|ترفض|تحذر|يحذر|מאיים|מזהיר|דוחה|угрож*|предупред*|отказ*",
        ),
        _rule(
            EventKind.RATIFICATION,
            "ratif*|knesset approv*|cabinet approv*|parliament approv*|knesset vot*|knesset passes|cabinet ratif*"
            "|صادق*|مصادقه|يصادق|אשרר*|אישרה|אישר|ратифиц*",
        ),
        _rule(
            EventKind.SUSPENSION,
            "suspend*|suspension|freez*|froze|frozen|paus*|recall*|halt*|sever*|cut ties|cuts ties|shelv*|on hold"
            "|on ice|downgrad*|تعليق|تعلق|تجميد|تجمد|استدعاء|قطع|השעי*|השעה|הקפא*|מקפיא*|החזיר*|приостанов*"
            "|замороз*|отозвал*|разорв*",
            unless="annex*|sovereignty|ضم|סיפוח|аннекс*",
        ),
        _rule(
            EventKind.SIGNING,
            "sign|signs|signed|signing|inks|inked|وقع*|توقع*|توقيع|חתמ*|חותמ*|חתימ*|подпис*",
            _DEAL,
            unless="sign of|signs of|علامه|סימן|признак*",
        ),
        _rule(
            EventKind.TALKS,
            "urg*|press*|push*|call* on|يحث|حث|דוחק|призв*|призыва*",
            "join*|انضم*|تنضم*|הצטרפ*|присоедин*",
        ),
        _rule(
            EventKind.INTENT_TO_JOIN,
            "to join|will join|would join|agreed to join|agrees to join|agree to join|in principle|set to join"
            "|plans to join|ready to join|intends to join|intention to join|decision to join|poised to join"
            "|ستنضم*|تنضم*|سينضم*|ينضم*|תצטרף|יצטרף|יצטרפו|присоединится|присоединятся|намерен*",
            _JOIN_OBJECT,
        ),
        _rule(
            EventKind.JOINED,
            "joins|joined|has joined|join|accession|انضم*|انضمت|הצטרפ*|присоединил*|присоединени*",
            _JOIN_OBJECT,
        ),
        _rule(
            EventKind.INTENT_TO_JOIN,
            "normali*|full relations|diplomatic relations|diplomatic ties|formal relations|تطبيع|נורמליזצי*"
            "|יחסים דיפלומטיים|علاقات دبلوماسيه|нормализ*|дипломатическ* отношени*",
            "agree*|deal|establish*|strike|strikes|struck|reach*|to normalise|to normalize"
            "|اتفق*|اتفاق|اقامه|הסכימ*|הסכם|כינון|договорил*|соглас*|установ*",
            unless="talks|negotiat*|محادثات|مفاوضات|שיחות|משא ומתן|переговор*",
        ),
        _rule(
            EventKind.TALKS,
            "talks|negotiat*|push|drive|محادثات|مفاوضات|שיחות|מגעים|משא ומתן|переговор*",
        ),
        _rule(
            EventKind.RECOGNITION,
            "recogni*|اعتراف|اعترف*|تعترف|הכיר*|הכרה|מכיר*|призна*",
            "Israel|state|sovereignty|independen*|Somaliland|اسرائيل*|دوله|سياده|ישראל*|מדינה|ריבונות|израил*"
            "|государств*|суверенитет*",
        ),
        _rule(
            EventKind.STATEMENT,
            "says|said|say|statement|told|tells|decr*|condemn*|denounc*|slam*|criticis*|criticiz*|welcom*|prais*"
            "|hail*|insist*|affirm*|confirm*|calls|قال|تقول|يقول|بيان|ادان*|تدين|رحب*|יאמר|אמר|אומר|הודיע*|גינה"
            "|заявил*|заявлени*|сказал*|осудил*|приветств*",
        ),
    )


def _first_hit(document: Document, rule: _Rule, in_title: bool) -> int | None:
    """Where the rule's trigger first occurs in one part of the article, if all its groups occur there."""

    def hits(pattern: _Pattern) -> list[int]:
        return [position for position in document.find(pattern) if document.in_title(position) == in_title]

    if any(hits(pattern) for pattern in rule.unless):
        return None
    trigger = [position for pattern in rule.groups[0] for position in hits(pattern)]
    if not trigger:
        return None
    if not all(any(hits(pattern) for pattern in group) for group in rule.groups[1:]):
        return None
    return min(trigger)


def _subjects(found: list[Mention], trigger: int, kind: EventKind) -> tuple[str, ...]:
    partners = [mention for mention in found if mention.key not in _COUNTERPARTIES]
    if any(mention.key not in _OLD_TREATIES for mention in partners):
        partners = [mention for mention in partners if mention.key not in _OLD_TREATIES]
    if not partners:
        return ()
    before = [mention.key for mention in partners if mention.position < trigger]
    chosen = before or [partners[0].key]
    if kind is EventKind.STATEMENT:
        chosen = chosen[:1]
    return tuple(dict.fromkeys(chosen))


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
    if document is None:
        document = Document(title, summary)
    if default_query().match_document(document) is None:
        return None
    if found_mentions is None:
        found_mentions = mentions(document, title, summary)
    allowed = set(countries)
    found = [mention for mention in found_mentions if not allowed or mention.key in allowed]
    for in_title in (True, False):
        for rule in _rules():
            trigger = _first_hit(document, rule, in_title)
            if trigger is None:
                continue
            part = [mention for mention in found if mention.in_title == in_title]
            subjects = _subjects(part, trigger, rule.kind)
            if not subjects and in_title:
                # "See the question Trump asked Netanyahu" names no partner: the summary may
                summary_partners = _subjects([m for m in found if not m.in_title], 1 << 30, rule.kind)
                subjects = summary_partners[:1]
            if not subjects:
                subjects = tuple(dict.fromkeys(m.key for m in part if m.key in _COUNTERPARTIES))[:1]
            return DetectedEvent(rule.kind, subjects)
    return None
