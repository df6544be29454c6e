"""Topics: a small, familiar query language matched against an article's title and summary.

Syntax: words (`Israel`), quoted phrases (`"Abraham Accords"`), a trailing `*` for a prefix (`normali*`),
implicit AND between terms (or `AND`), `OR` or `|`, `-term` or `NOT term` to exclude, parentheses. Operators are
upper case; `or` in lower case is a word. Matching is case-, accent- and script-insensitive (bot.news.textnorm).

No user regular expressions: a term is compared with indexed words (a dictionary look-up or a binary search for
a prefix), so a match costs about (terms x words) at worst whatever the query, and the caps below bound the terms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from ahocorasick_rs import AhoCorasick

from bot.native import pickled_by_fields
from bot.news.textnorm import Atom, Document, normalize, term_core, words

MAX_LENGTH = 500
MAX_TERMS = 50
MAX_DEPTH = 10

DEFAULT_TOPIC_NAME = "accords"

# The built-in topic: what makes an article about normalization with Israel. Scored on ../shared/corpus (2020 and 2023:
# bench/judgment.py, tests/news/test_corpus.py). Each clause, and why:
# 1. the accords by name, in four languages;
# 2. normalization and Israel: the word is rare in other senses next to Israel;
# 3. recognition of Israel (granted, refused or conditioned: all are news of the relation), or by Israel;
# 4. a country breaking or downgrading relations with Israel (recalling or expelling an ambassador, cutting or
#    suspending ties), whatever the country: Jordan has a treaty and is not a partner, yet its recall is news;
# 5. with a plausible partner named: a relation bound to Israel in one phrase ("ties with Israel", "Israel deal",
#    "deal between Israel and", "Israel signs"), Israel and the partner as joint subjects of an act of relations
#    ("Israel and Morocco sign", "Bahrain and Israel open embassies"), diplomatic relations, an Israeli official's
#    visit, or a peace agreement agreed, signed, finalized or approved. Binding the relation word to Israel is what
#    keeps out news that only names Israel and a Gulf state side by side: a strike, an arms sale, a summit, an
#    Aramco deal, a boycott. Partners leave out Egypt, Jordan and Qatar, which broker Gaza truces and have old
#    treaties, not new ties. A ceasefire, truce or hostage deal, or a deal between Israel and Hamas or Hezbollah, is
#    war diplomacy, and a peace agreement next to Gaza, Hamas, Hezbollah, a truce or hostages is that war's.
_ISRAEL = "(Israel* OR Knesset OR Netanyahu OR اسرائيل* OR ישראל* OR израил*)"
# Clause 5 in English, then in Arabic, Hebrew and Russian, each starting with Israel and the partners.
_PARTNERS_EN = (
    '(UAE OR Emirat* OR "Abu Dhabi" OR Bahrain* OR Manama OR Morocc* OR Rabat OR Sudan* OR Khartoum OR Kazakh*'
    " OR Kosovo* OR Somaliland* OR Saudi* OR Riyadh OR Oman* OR Mauritania* OR Indonesia* OR Azerbaijan* OR Uzbek*"
    " OR Gulf)"
)
# Headlines name the two sides with a comma as often as with "and" ("Israel, Morocco sign ..."): the same pairs
# side by side (a comma is not a word, so the phrase "Israel Morocc*" reads "Israel, Morocco").
_SIDE_BY_SIDE = " OR ".join(
    f'"Israel {partner}" OR "{partner} Israel"'
    for partner in ("UAE", "Emirat*", "Bahrain*", "Morocc*", "Sudan*", "Saudi*", "Kosovo*", "Somaliland*", "Oman*")
)
_RELATIONS_EN = (
    '"ties with Israel" OR "relations with Israel" OR "peace with Israel" OR "deal with Israel"'
    ' OR "agreement with Israel" OR "accord* with Israel" OR "treaty with Israel" OR "pact with Israel"'
    ' OR "ties to Israel" OR "deal between Israel" OR "Israel ties" OR "Israel relations" OR "Israel deal"'
    ' OR "Israel accord*" OR "Israel agreement" OR "Israel treaty" OR "Israel peace" OR "embassy in Israel"'
    ' OR "ambassador to Israel" OR "envoy to Israel" OR "Israeli embassy" OR "Israeli ambassador*"'
    ' OR "Israeli envoy*" OR "Israel sign*" OR "Israel to sign" OR "sign* with Israel"'
    ' OR "diplomatic relations" OR "diplomatic ties" OR "full relations" OR "formal relations"'
    ' OR "liaison office*"'
    ' OR (("Israel and the UAE" OR "Israel and UAE" OR "UAE and Israel" OR "Israel and Emirat*"'
    ' OR "Emirat* and Israel" OR "Israel and Bahrain*" OR "Bahrain* and Israel" OR "Israel and Morocc*"'
    ' OR "Morocc* and Israel" OR "Israel and Sudan*" OR "Sudan* and Israel" OR "Israel and Saudi*"'
    ' OR "Saudi* and Israel" OR "Israel and Kosovo*" OR "Kosovo* and Israel" OR "Israel and Somaliland*"'
    ' OR "Somaliland* and Israel" OR "Israel and Oman*" OR "Oman* and Israel" OR "Israel and Indonesia*"'
    ' OR "Indonesia* and Israel" OR "Israel and Mauritania*" OR "Mauritania* and Israel" OR '
    + _SIDE_BY_SIDE
    + ") (sign* OR ink* OR agree* OR establish* OR embass*))"
    ' OR (("Israeli minister*" OR "Israeli foreign minister" OR "Israeli prime minister" OR "Israeli president"'
    ' OR "Israeli official*" OR "Israeli delegation*" OR "Israeli cabinet" OR "Israeli tourism minister"'
    ' OR "Israeli defence minister" OR "Israeli defense minister" OR "first visit" OR "first public visit"'
    ' OR "first official visit" OR "historic visit") (visit* OR arriv* OR trip OR lands OR landed))'
    ' OR (("peace agreement" OR "peace deal" OR "peace treaty" OR "peace accord*")'
    " (agree* OR sign OR signs OR signed OR signing OR finaliz* OR finalis* OR reach* OR strike* OR struck"
    " OR seal* OR clinch* OR establish* OR approv* OR ratif*)"
    " -(Hamas OR Gaza* OR Hezbollah OR ceasefire OR truce OR hostage*))"
)
_WAR_DEALS = (
    '("between Israel and Hamas" OR "between Israel and Hezbollah"'
    ' OR "ceasefire deal" OR "ceasefire agreement" OR "truce deal" OR "truce agreement" OR "hostage* deal")'
)
_PARTNERS_OTHER = (
    "(الامارات OR اماراتي* OR البحرين OR المغرب OR السودان OR السعودي* OR كازاخستان OR האמירויות OR בחריין OR מרוקו"
    " OR סודן OR סעודי* OR קזחסטן OR ОАЭ OR Эмират* OR Бахрейн* OR Марокк* OR Судан* OR Саудовск* OR Казахстан*)"
)
_RELATIONS_OTHER = (
    '"علاقات مع اسرائيل*" OR "اتفاق* مع اسرائيل*" OR "سلام مع اسرائيل*" OR "علاقات دبلوماسيه" OR יחסים'
    ' OR "הסכם שלום" OR "отношени* с израил*" OR "соглашени* с израил*" OR "сделк* с израил*" OR "мир* с израил*"'
    ' OR "дипломатическ* отношени*"'
)
# Each clause starts with a few words that most articles lack (the accords' name, "recogni*"), so that they are
# rejected after a few look-ups: every clause of the query is tried on every article that may match.
DEFAULT_TOPIC = (
    '((Abraham* OR ابراهام OR الابراهيمية OR אברהם OR Авраам*) ("Abraham Accord*" OR "Abraham Agreement*"'
    ' OR "Abraham Declaration" OR "Abrahamic Accord*" OR "اتفاقيات ابراهام" OR "اتفاقات ابراهام" OR "اتفاق ابراهام"'
    ' OR "الاتفاقيات الابراهيمية" OR "הסכמי אברהם" OR "הסכם אברהם" OR "Авраам* соглашени*" OR "соглашени* Авраама"))'
    ' OR "Middle East peace deal"'
    f" OR ((normali* OR تطبيع OR التطبيع OR נורמליזצי* OR нормализ*) {_ISRAEL})"
    ' OR ((recogni* OR الاعتراف OR הכרה OR признани*) ("recogni* Israel" OR "recognition of Israel"'
    ' OR "Israel recogni*" OR "الاعتراف باسرائيل" OR "הכרה בישראל" OR "признани* Израиля"))'
    " OR (((recall* OR expel* OR استدعاء OR استدعت OR отозвал*) (ambassador* OR envoy* OR سفير* OR השגריר OR посл*)"
    ' OR (("ties with Israel" OR "relations with Israel")'
    " (cut OR cuts OR sever* OR suspend* OR break OR breaks OR broke OR freez* OR froze OR downgrad* OR restor*)))"
    f" {_ISRAEL})"
    f" OR ((Israel OR Israeli OR Israelis OR Knesset OR Netanyahu) {_PARTNERS_EN} ({_RELATIONS_EN}) -{_WAR_DEALS})"
    f" OR ((اسرائيل* OR ישראל* OR израил*) {_PARTNERS_OTHER} ({_RELATIONS_OTHER}))"
)


class QueryError(ValueError):
    """A query that cannot be used; `position` is the 0-based column of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep a user's query cheap; the built-in topic is trusted with larger ones."""

    length: int = MAX_LENGTH
    terms: int = MAX_TERMS
    depth: int = MAX_DEPTH


USER_LIMITS = Limits()
BUILTIN_LIMITS = Limits(length=5000, terms=450, depth=MAX_DEPTH)


@dataclass(frozen=True, slots=True)
class Match:
    """Why an article matched: the terms (as written in the query) that were found."""

    terms: tuple[str, ...]


# --- the syntax tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    source: str  # as the user wrote it (without quotes)
    atoms: tuple[Atom, ...]
    phrase: bool

    def render(self) -> str:
        return f'"{self.source}"' if self.phrase else self.source


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or


def _render(node: Node, parent: Literal["and", "or", "not", "top"] = "top") -> str:
    if isinstance(node, Term):
        return node.render()
    if isinstance(node, Not):
        return "-" + _render(node.child, "not")
    if isinstance(node, And):
        text = " ".join(_render(child, "and") for child in node.children)
        return f"({text})" if parent == "not" else text
    text = " OR ".join(_render(child, "or") for child in node.children)
    return text if parent in ("top", "or") else f"({text})"


def _positive(node: Node) -> bool:
    """Whether the node can only match by finding something (a query of exclusions alone would match all)."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_positive(child) for child in node.children)
    return all(_positive(child) for child in node.children)


def _evaluate(node: Node, document: Document) -> list[str] | None:
    """Matched terms, or None when the node does not match. Every OR branch is tried, to explain fully.

    The definition of a query's match: what `_compile` makes of a query gives the same answer, faster.
    """
    if isinstance(node, Term):
        return [node.render()] if document.contains(node.atoms) else None
    if isinstance(node, Not):
        return None if _evaluate(node.child, document) is not None else []
    if isinstance(node, And):
        found: list[str] = []
        for child in node.children:
            if isinstance(child, Term):
                result = [child.render()] if document.contains(child.atoms) else None
            else:
                result = _evaluate(child, document)
            if result is None:
                return None
            found.extend(result)
        return found
    matched: list[str] | None = None
    for child in node.children:
        if isinstance(child, Term):
            result = [child.render()] if document.contains(child.atoms) else None
        else:
            result = _evaluate(child, document)
        if result is not None:
            matched = (matched or []) + result
    return matched


Evaluator = Callable[[Document], list[str] | None]


def _compile(root: Node) -> Evaluator:
    """`_evaluate` of this tree as Python code of its own: a function per AND, OR and NOT, in which each term is a
    test written out: a word is a dictionary look-up, a prefix a set look-up (every prefix of the query is found in
    one automaton pass over the document's words, `Document.prefixes`), and a phrase is looked for only when each
    of its words is there.

    Why: the built-in topic, about four hundred terms, is tried in full on every article that may match it; walking
    its tree asked each node's type and called the document for each term and each prefix: 0.11 ms an article,
    a third of `tag`'s time on bench/newsfeeds.py's articles that may match (0.04 ms compiled). The code holds only
    names of our own: the words, phrases and terms as written are constants it names."""
    constants: dict[str, object] = {}
    functions: list[str] = []
    prefixes: dict[str, int] = {}

    def constant(value: object) -> str:
        name = f"c{len(constants)}"
        constants[name] = value
        return name

    def present(atom: Atom) -> str:
        if not atom.prefix:
            return f"{constant(atom.text)} in P"
        if not atom.text:
            return "False"  # Document.find finds nothing of an empty word
        return f"{prefixes.setdefault(atom.text, len(prefixes))} in Q"

    def holds(term: Term) -> str:
        """`Document.contains` of the term, written out."""
        atoms = term.atoms
        if len(atoms) == 1:
            return present(atoms[0])
        return " and ".join([*(present(atom) for atom in atoms), f"D.contains({constant(atoms)})"])

    def function(node: And | Or | Not) -> str:
        name = f"n{len(functions)}"
        functions.append("")  # its place, before its children's
        lines = [f"def {name}(P, Q, D):"]
        if isinstance(node, Not):
            child = node.child
            found = holds(child) if isinstance(child, Term) else f"{function(child)}(P, Q, D) is not None"
            lines.append(f"    return None if {found} else []")
        elif isinstance(node, And):
            lines.append("    r = []")
            for child in node.children:
                if isinstance(child, Term):
                    lines.append(f"    if not ({holds(child)}): return None")
                    lines.append(f"    r.append({constant(child.render())})")
                else:
                    lines.append(f"    x = {function(child)}(P, Q, D)")
                    lines.append("    if x is None: return None")
                    lines.append("    r += x")
            lines.append("    return r")
        else:
            lines.extend(("    r = []", "    hit = False"))
            for child in node.children:
                if isinstance(child, Term):
                    lines.append(f"    if {holds(child)}: hit = True; r.append({constant(child.render())})")
                else:
                    lines.append(f"    x = {function(child)}(P, Q, D)")
                    lines.append("    if x is not None: hit = True; r += x")
            lines.append("    return r if hit else None")
        functions[int(name[1:])] = "\n".join(lines)
        return name

    if isinstance(root, Term):
        functions.append(f"def n0(P, Q, D):\n    return [{constant(root.render())}] if {holds(root)} else None")
    else:
        function(root)
    namespace: dict[str, Any] = {"__builtins__": {}, **constants}
    exec("\n".join(functions), namespace)  # code of our own: names and numbers, never a user's text
    top = namespace["n0"]
    if not prefixes:
        return lambda document: top(document.positions, (), document)
    automaton = AhoCorasick([" " + prefix for prefix in prefixes])
    return lambda document: top(document.positions, document.prefixes(automaton), document)


# Each query's compiled match, by the query's identity (hashing a query's tree costs about as much as matching
# it), with the query itself so that the identity cannot be reused; past `_MOST_EVALUATORS` it starts again.
_evaluators: dict[int, tuple[Query, Evaluator]] = {}
_MOST_EVALUATORS = 4096


def _evaluator(query: Query) -> Evaluator:
    found = _evaluators.get(id(query))
    if found is not None and found[0] is query:
        return found[1]
    evaluator = _compile(query.root)
    if len(_evaluators) >= _MOST_EVALUATORS:
        _evaluators.clear()
    _evaluators[id(query)] = (query, evaluator)
    return evaluator


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed topic query. `text` is its canonical source: parsing it again gives the same query."""

    root: Node

    @property
    def text(self) -> str:
        return _render(self.root)

    def match(self, title: str, summary: str = "") -> Match | None:
        return self.match_document(Document(title, summary))

    def match_document(self, document: Document) -> Match | None:
        """Match an already indexed article (to test many topics against one article cheaply). The result is
        kept on the document, so a second caller (the event detector checks the default topic) gets it free."""
        return document.derived(self, self._match)

    def rule_out(self, document: Document) -> None:
        """Record that this query does not match the document, as a prefilter proved (bot.news.matching), so
        that `match_document` answers None without matching."""
        document.remember(self, None)

    def _match(self, document: Document) -> Match | None:
        found = _evaluator(self)(document)
        if found is None:
            return None
        return Match(tuple(dict.fromkeys(found)))


# --- the lexer and parser --------------------------------------------------------------------------------------

_Kind = Literal["(", ")", "OR", "AND", "NOT", "-", "word", "phrase", "end"]
_SPECIAL = frozenset('()"|')


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))  # type: ignore[arg-type]
            i += 1
        elif ch == "|":
            tokens.append(_Token("OR", ch, i))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError("unterminated quote", i)
            tokens.append(_Token("phrase", text[i + 1 : end], i))
            i = end + 1
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in ")|":
            tokens.append(_Token("-", ch, i))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            word = text[start:i]
            kind: _Kind = word if word in ("OR", "AND", "NOT") else "word"  # type: ignore[assignment]
            tokens.append(_Token(kind, word, start))
    tokens.append(_Token("end", "", n))
    return tokens


def _term(token: _Token) -> Term:
    """A word or phrase as atoms; `*` may only end a word, after at least two characters."""
    source = token.text.strip()
    atoms: list[Atom] = []
    offset = token.position + (1 if token.kind == "phrase" else 0)
    for piece in re.finditer(r"\S+", token.text):
        raw, column = piece.group(), offset + piece.start()
        star = raw.find("*")
        if star >= 0 and star != len(raw) - 1:
            raise QueryError("'*' is only allowed at the end of a word", column + star)
        parts = words(normalize(raw.rstrip("*")))
        if not parts:
            raise QueryError(f"nothing to search for in {raw!r}", column)
        if star >= 0 and len(parts[-1]) < 2:
            raise QueryError("a prefix needs at least two letters before '*'", column + star)
        atoms.extend(Atom(term_core(part)) for part in parts[:-1])
        atoms.append(Atom(term_core(parts[-1]), prefix=star >= 0))
    if not atoms:
        raise QueryError("empty phrase", token.position)
    return Term(source, tuple(atoms), token.kind == "phrase")


class _Parser:
    def __init__(self, tokens: list[_Token], limits: Limits) -> None:
        self.tokens = tokens
        self.index = 0
        self.limits = limits
        self.terms = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise QueryError("empty query", 0)
        node = self.or_expr(0)
        token = self.peek()
        if token.kind != "end":
            raise QueryError(f"unexpected {token.text!r}", token.position)
        return node

    def or_expr(self, depth: int) -> Node:
        children = [self.and_expr(depth)]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.and_expr(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int) -> Node:
        children = [self.unary(depth)]
        while self.peek().kind in ("AND", "NOT", "-", "(", "word", "phrase"):
            if self.peek().kind == "AND":
                self.take()
            children.append(self.unary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, depth: int) -> Node:
        token = self.peek()
        if token.kind in ("NOT", "-"):
            self.take()
            if self.peek().kind in ("NOT", "-"):
                raise QueryError("a negation cannot be negated", self.peek().position)
            return Not(self.primary(depth, after=token))
        return self.primary(depth)

    def primary(self, depth: int, after: _Token | None = None) -> Node:
        token = self.take()
        if token.kind == "(":
            if depth + 1 > self.limits.depth:
                raise QueryError(f"parentheses nested deeper than {self.limits.depth}", token.position)
            if self.peek().kind == ")":
                raise QueryError("empty parentheses", token.position)
            node = self.or_expr(depth + 1)
            close = self.take()
            if close.kind != ")":
                raise QueryError("missing ')'", close.position)
            return node
        if token.kind in ("word", "phrase"):
            self.terms += 1
            if self.terms > self.limits.terms:
                raise QueryError(f"more than {self.limits.terms} terms", token.position)
            return _term(token)
        if token.kind == "end":
            what = f"a term after {after.text!r}" if after else "a term"
            raise QueryError(f"expected {what} but the query ended", token.position)
        raise QueryError(f"unexpected {token.text!r}", token.position)


def _flatten(node: Node) -> Node:
    """Merge nested ANDs and ORs, so a canonical text parses back to the same tree."""
    if isinstance(node, Term):
        return node
    if isinstance(node, Not):
        return Not(_flatten(node.child))
    kind = type(node)
    children: list[Node] = []
    for child in node.children:
        flat = _flatten(child)
        if isinstance(flat, kind):
            children.extend(flat.children)
        else:
            children.append(flat)
    return kind(tuple(children))


def parse_query(text: str, *, limits: Limits = USER_LIMITS) -> Query:
    """Parse a topic query; raises QueryError saying what is wrong and where."""
    if len(text) > limits.length:
        raise QueryError(f"query longer than {limits.length} characters", limits.length)
    control = next(
        (i for i, ch in enumerate(text) if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r"), None
    )
    if control is not None:
        raise QueryError("a query cannot hold control characters", control)
    root = _flatten(_Parser(_lex(text), limits).parse())
    if not _positive(root):
        raise QueryError("a query needs at least one term to look for, not only exclusions", 0)
    return Query(root)


@cache
def default_query() -> Query:
    """The built-in topic, parsed once on first use."""
    return parse_query(DEFAULT_TOPIC, limits=BUILTIN_LIMITS)


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
