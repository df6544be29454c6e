"""The one text normaliser every matcher shares (topics, gazetteer, events), so a query and an article meet.

Folding: casefold, accents and diacritics removed (Latin accents, Arabic harakat, Hebrew niqqud, Russian ё→е),
Arabic tatweel dropped and alef/hamza/ya/ta-marbuta variants unified, Hebrew final letters unified (so a
wildcard such as `הסכמ*` also meets `הסכם`), a geresh inside a Hebrew word dropped, typographic quotes and
dashes made ASCII.

Tokens are Unicode words. An apostrophe splits a word, and a lone `s` after it (the English possessive) is
dropped, so "Israel's" gives "israel". Hebrew and Arabic glue one-letter clitics (ו ה ל ב ש מ כ; و ف ب ل ك)
and the article ال to the next word: `variants` lists a token with those prefixes taken off, and a matcher
accepts a term equal to any variant.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u0060": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)

_LETTERS = str.maketrans(
    {
        "\u0640": None,  # Arabic tatweel (kashida): a stretch, not a letter
        "\u05f3": None,  # Hebrew geresh, inside abbreviations such as ארה״ב
        "\u05f4": None,  # Hebrew gershayim
        "\u0629": "\u0647",  # ta marbuta -> ha
        "\u0649": "\u064a",  # alef maqsura -> ya
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u06cc": "\u064a",  # Farsi ya -> ya
        "\u06a9": "\u0643",  # keheh -> kaf
        "\u05da": "\u05db",  # Hebrew final kaf
        "\u05dd": "\u05de",  # final mem
        "\u05df": "\u05e0",  # final nun
        "\u05e3": "\u05e4",  # final pe
        "\u05e5": "\u05e6",  # final tsadi
    }
)

# a geresh or gershayim typed as an ASCII apostrophe or quote inside a Hebrew word (ג'ורג', ארה"ב) is a letter
# mark, not a word break
_HEBREW_MARK = re.compile("(?<=[\u05d0-\u05ea])(?:'|\"(?=[\u05d0-\u05ea]))")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

_HEBREW_PREFIXES = frozenset("והלבשמכ")
_ARABIC_CONJ = frozenset("وف")
_ARABIC_PREP = frozenset("بلك")
_ARABIC_ARTICLE = "\u0627\u0644"  # ال


def normalize(text: str) -> str:
    """Fold text for matching: see the module docstring. Idempotent."""
    if text.isascii():
        # ASCII has no decompositions, marks or Hebrew letters, and casefolds as it lowers: of all the folding
        # only the backquote remains (most English news; 15 times faster than the general path)
        return text.lower().replace("`", "'")
    text = text.translate(_PUNCT).casefold()
    # NFKD splits precomposed letters (é, ё, أ, آ, ؤ, ئ) into base + combining mark; the marks then go,
    # together with Arabic harakat and Hebrew niqqud, which are combining marks already.
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _HEBREW_MARK.sub("", unicodedata.normalize("NFC", stripped.translate(_LETTERS)))


def words(normalized: str) -> list[str]:
    """Tokens of already-normalised text (apostrophes split words; a possessive `s` is dropped)."""
    if "'" not in normalized:
        return _WORD.findall(normalized)  # no apostrophe, nothing to split
    out: list[str] = []
    for match in _WORD.finditer(normalized):
        first, *rest = match.group().split("'")
        out.append(first)
        out.extend(part for part in rest if part != "s")
    return out


def tokenize(text: str) -> list[str]:
    """Normalise and split into words."""
    return words(normalize(text))


def _is_hebrew(ch: str) -> bool:
    return "\u05d0" <= ch <= "\u05ea"


def _is_arabic(ch: str) -> bool:
    return "\u0621" <= ch <= "\u064a"


@lru_cache(maxsize=65536)
def variants(token: str) -> tuple[str, ...]:
    """The token and its forms with Hebrew/Arabic clitic prefixes removed (most specific first)."""
    if not token:
        return (token,)
    forms = [token]
    if _is_hebrew(token[0]):
        # up to two one-letter prefixes ("ובישראל" = ו + ב + ישראל); keep at least two letters
        for cut in (1, 2):
            if len(token) - cut >= 2 and all(ch in _HEBREW_PREFIXES for ch in token[:cut]):
                forms.append(token[cut:])
    elif _is_arabic(token[0]):
        rest = token
        if rest[0] in _ARABIC_CONJ and len(rest) > 3:
            rest = rest[1:]
            forms.append(rest)
        if rest[0] in _ARABIC_PREP and len(rest) > 3:
            if rest.startswith("\u0644\u0644") and len(rest) > 4:  # لل = li + al (the alef drops)
                forms.append(rest[1:])
                forms.append(rest[2:])
            rest = rest[1:]
            forms.append(rest)
        if rest.startswith(_ARABIC_ARTICLE) and len(rest) - 2 >= 3:
            forms.append(rest[2:])
    return tuple(dict.fromkeys(forms))


def term_core(term: str) -> str:
    """The form a query term is compared in: an Arabic article on the term itself is optional."""
    if term.startswith(_ARABIC_ARTICLE) and len(term) - 2 >= 3:
        return term[2:]
    return term


@dataclass(frozen=True, slots=True)
class Atom:
    """One word of a pattern: an exact word, or a prefix when `prefix` (a trailing `*`)."""

    text: str
    prefix: bool = False

    def __str__(self) -> str:
        return self.text + ("*" if self.prefix else "")


def atom(raw: str) -> Atom:
    """An atom from a user's word, normalised; a trailing `*` makes it a prefix."""
    prefix = raw.endswith("*")
    text = normalize(raw.rstrip("*"))
    return Atom(term_core(text), prefix)


def pattern(term: str) -> tuple[Atom, ...]:
    """A fixed term (gazetteer, event vocabulary) as atoms: each word may end with `*` to be a prefix."""
    atoms: list[Atom] = []
    for raw in term.split():
        parts = tokenize(raw.rstrip("*"))
        atoms.extend(Atom(term_core(part)) for part in parts)
        if raw.endswith("*") and parts:
            atoms[-1] = Atom(atoms[-1].text, prefix=True)
    return tuple(atoms)


class Document:
    """An article's title and summary indexed once, so many patterns are matched without rescanning.

    Positions run through the title, then, after a gap that no phrase can cross, the summary. Finding an exact
    word is a dictionary look-up, a prefix a binary search over the sorted forms: the cost of a pattern does
    not depend on how it is written, and there is no backtracking.
    """

    __slots__ = ("_forms", "_positions", "title_end", "tokens")

    def __init__(self, title: str, summary: str = "") -> None:
        title_tokens = tokenize(title)
        summary_tokens = tokenize(summary)
        self.title_end = len(title_tokens)
        # the gap token "" is never produced by the tokenizer, so a phrase cannot run from title into summary
        self.tokens: tuple[str, ...] = (*title_tokens, "", *summary_tokens)
        by_token: dict[str, list[int]] = {}
        for index, token in enumerate(self.tokens):
            if token:
                by_token.setdefault(token, []).append(index)
        # each distinct token's variants once (an article repeats its words); a form reached from two tokens
        # lists the positions of both, unordered, which `find` does not mind
        positions: dict[str, list[int]] = {}
        for token, indexes in by_token.items():
            for form in variants(token):
                if form in positions:
                    positions[form].extend(indexes)
                else:
                    positions[form] = indexes if form == token else list(indexes)
        self._positions = positions
        self._forms = sorted(positions)

    def _atom_positions(self, part: Atom) -> Collection[int]:
        """Positions of one atom, unordered: for an exact word the index's own list (not to be changed)."""
        if not part.prefix:
            return self._positions.get(part.text, ())
        return self._prefix_positions(part.text)

    def _prefix_positions(self, prefix: str) -> set[int]:
        forms = self._forms
        found: set[int] = set()
        index = bisect.bisect_left(forms, prefix)
        while index < len(forms) and forms[index].startswith(prefix):
            found.update(self._positions[forms[index]])
            index += 1
        return found

    def _has_prefix(self, prefix: str) -> bool:
        index = bisect.bisect_left(self._forms, prefix)
        return index < len(self._forms) and self._forms[index].startswith(prefix)

    def find(self, pattern: tuple[Atom, ...]) -> list[int]:
        """Start positions where the words of `pattern` occur in a row (sorted)."""
        if not pattern:
            return []
        for part in pattern:
            if not part.text:
                return []
        first = self._atom_positions(pattern[0])
        if not first or len(pattern) == 1:
            return sorted(first)
        starts = set(first)
        for offset, part in enumerate(pattern[1:], start=1):
            following = self._atom_positions(part)
            if not following:
                return []
            if not isinstance(following, set):
                following = set(following)
            starts = {start for start in starts if start + offset in following}
            if not starts:
                return []
        return sorted(starts)

    def in_title(self, position: int) -> bool:
        return position < self.title_end


class PatternIndex:
    """Many fixed patterns (the gazetteer's) and a quick test of which ones may occur in an article.

    Why: trying each of a thousand patterns on every article costs a look-up each, while an article has a few
    hundred distinct words. A pattern can only occur where its first atom does, so the candidates are found from
    the article's words (an exact first atom) and by a binary search for each distinct prefix first atom; only
    they need `Document.find`.
    """

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, patterns: Sequence[tuple[Atom, ...]]) -> None:
        exact: dict[str, list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        for index, found in enumerate(patterns):
            if not found or not all(part.text for part in found):
                continue  # Document.find never finds it
            head = found[0]
            (prefixes if head.prefix else exact).setdefault(head.text, []).append(index)
        self._exact = exact
        self._prefixes = prefixes

    def candidates(self, document: Document) -> list[int]:
        """Indexes (ascending) of the patterns whose first atom occurs in the document: a superset of those found."""
        found: list[int] = []
        exact = self._exact
        positions = document._positions  # the Document's own index (same module)
        if len(positions) < len(exact):
            for form in positions:
                if form in exact:
                    found.extend(exact[form])
        else:
            for text, indexes in exact.items():
                if text in positions:
                    found.extend(indexes)
        for text, indexes in self._prefixes.items():
            if document._has_prefix(text):
                found.extend(indexes)
        found.sort()
        return found
