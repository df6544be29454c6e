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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeVar

from ahocorasick_rs import AhoCorasick

from bot.native import pickled_by_fields

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
# split at runs of ASCII (kept in the result): twice as fast as finding the runs of other characters, which sre
# tests one by one against a negated class, and no call back into Python for each run
_ASCII_RUNS = re.compile(r"([\x00-\x7f]+)")
# `[^\W_]` is a letter or digit of any script: tokens are runs of them, split at apostrophes; an English possessive
# is an apostrophe and a lone `s` right after a word (the `s` is dropped, so "Israel's" gives "israel")
_TOKEN = re.compile(r"[^\W_]+")
_ASCII_TOKEN = re.compile(r"[0-9A-Za-z]+")  # the same on ASCII text, a third faster (no Unicode look-ups)
_POSSESSIVE = re.compile(r"(?<=[^\W_])'s(?![^\W_])")

_HEBREW_PREFIXES = frozenset("והלבשמכ")
_ARABIC_CONJ = frozenset("وف")
_ARABIC_PREP = frozenset("بلك")
_ARABIC_ARTICLE = "\u0627\u0644"  # ال

_T = TypeVar("_T")


def _fold_characters(text: str) -> str:
    """The folding that works character by character: typography, case, compatibility forms, marks, letters.

    NFKD splits precomposed letters (é, ё, أ, آ, ؤ, ئ) into base + combining mark; the marks then go, together
    with Arabic harakat and Hebrew niqqud, which are combining marks already. Every step maps one character
    without looking at its neighbours (canonical reordering only moves combining marks, which all go), so folding
    a text is folding each of its characters: what the table of `_FOLD` relies on.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_PUNCT).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_LETTERS)


def _compose(folded: str) -> str:
    """The steps that look at neighbours: NFC (Hangul jamo, two-part Indic vowels) and Hebrew geresh marks."""
    return _HEBREW_MARK.sub("", unicodedata.normalize("NFC", folded))


def reference_normalize(text: str) -> str:
    """What `normalize` computes, step by step over the whole text: its definition, about 5 times slower.

    `normalize` must return exactly this for every text; tests/news/test_textnorm.py checks it on random Unicode.
    """
    return _compose(_fold_characters(text))


class CharacterTable(dict[int, str]):
    """What `convert` makes of each code point, computed on first sight, for `str.translate`.

    News uses a few hundred distinct characters, so a table stays small; past `LIMIT` entries (a feed of every
    code point) a character is converted without being kept, so memory stays bounded.
    """

    LIMIT: Final = 1 << 16  # Final: compiled, a class constant (unmarked, mypyc makes it an instance attribute)

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, code: int) -> str:
        converted = self._convert(chr(code))
        if len(self) < self.LIMIT:
            self[code] = converted
        return converted


_FOLD = CharacterTable(_fold_characters)


# The typography of nearly every English article (curly quotes, en and em dashes, no-break spaces, ellipses) and what
# each folds to, replaced before the fold of the other non-ASCII runs: a pass each at C speed, cheaper than folding
# each run through the table (5.9 runs an item in bench/newsfeeds.py's news, most of them these; without these passes
# `normalize` takes a fifth longer there), and a text with no other non-ASCII character is then done.
_TYPOGRAPHY = tuple((char, _fold_characters(char)) for char in "\u2019\u2018\u201c\u201d\u2013\u2014\u00a0\u2026")


def normalize(text: str) -> str:
    """Fold text for matching: see the module docstring. Equal to `reference_normalize(text)`.

    Why three paths: folding character by character in Python cost 34.6 M generator steps for the 25,000 items
    of a 500-feed poll, and most items hold a non-ASCII character (a curly quote, a dash, an accented name).
    ASCII text only lowers (it has no decompositions, marks or Hebrew letters, and casefolds as it lowers: of the
    rest only the backquote remains). Other text is lowered as UTF-8 bytes (which lowers ASCII letters and
    leaves every other byte alone), and its non-ASCII runs are folded through a table of characters; the steps
    that look at neighbours run only when the folded text is still not ASCII (Arabic, Hebrew, Cyrillic...).
    """
    if text.isascii():
        return text.lower().replace("`", "'")
    lowered = text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass").replace("`", "'")
    for char, folded_char in _TYPOGRAPHY:
        lowered = lowered.replace(char, folded_char)
    if lowered.isascii():
        return lowered
    parts = _ASCII_RUNS.split(lowered)  # the runs of other characters at even indexes
    parts[::2] = [part.translate(_FOLD) for part in parts[::2]]
    folded = "".join(parts)
    return folded if folded.isascii() else _compose(folded)


def words(normalized: str) -> list[str]:
    """Tokens of already-normalised text (apostrophes split words; a possessive `s` is dropped)."""
    if "'" in normalized:
        normalized = _POSSESSIVE.sub("", normalized)  # the apostrophe is not a word character: only `s` goes
    return (_ASCII_TOKEN if normalized.isascii() else _TOKEN).findall(normalized)


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
    not depend on how it is written, and there is no backtracking. A document does not change once built, so
    values derived from it (a query's match) are kept on it (`derived`).
    """

    __slots__ = ("_derived", "_forms", "_heads", "_positions", "title_end", "tokens")

    def __init__(self, title: str, summary: str = "", *, folded: bool = False) -> None:
        if folded:
            self._index(words(title), words(summary))
        else:
            self._index(tokenize(title), tokenize(summary))

    @classmethod
    def of_normalized(cls, title: str, summary: str = "") -> Document:
        """The Document of a title and summary already folded by `normalize`: an article is folded only once
        when its folded text is also scanned for other reasons (the topic prefilter)."""
        return cls(title, summary, folded=True)

    def _index(self, title_tokens: list[str], summary_tokens: list[str]) -> None:
        self.title_end = len(title_tokens)
        # the gap token "" is never produced by the tokenizer, so a phrase cannot run from title into summary
        tokens = self.tokens = (*title_tokens, "", *summary_tokens)
        by_token: dict[str, list[int]] = {}
        for index, token in enumerate(tokens):
            found = by_token.get(token)
            if found is None:
                by_token[token] = [index]
            else:
                found.append(index)
        del by_token[""]
        # A form is a token, or a Hebrew or Arabic token without its clitic letters (`variants`); a form reached
        # from several tokens lists the positions of all, unordered, which `find` does not mind. The lists are
        # never changed in place, so each token's own list stays its own.
        positions = dict(by_token)
        for token, indexes in by_token.items():
            if "\u05d0" <= token[0] <= "\u064a":  # only a Hebrew or Arabic word has other forms
                for form in variants(token)[1:]:
                    positions[form] = positions[form] + indexes if form in positions else indexes
        self._positions = positions
        self._forms = sorted(positions)
        self._derived: dict[int, tuple[object, object]] = {}
        self._heads: str | None = None

    def derived(self, owner: object, compute: Callable[[Document], _T]) -> _T:
        """`compute(self)`, computed once for each `owner` (a query matched against this document).

        Kept by the owner's identity, with the owner itself so that the identity cannot be reused: hashing a
        query's tree would cost about as much as matching it.
        """
        entry = self._derived.get(id(owner))
        if entry is not None and entry[0] is owner:
            return entry[1]  # type: ignore[return-value]
        value = compute(self)
        self._derived[id(owner)] = (owner, value)
        return value

    def remember(self, owner: object, value: object) -> None:
        """Record what `derived` returns for `owner`, known without computing it (a prefilter ruled a query out)."""
        self._derived[id(owner)] = (owner, value)

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

    def prefixes(self, automaton: AhoCorasick) -> set[int]:
        """The patterns of `automaton` (each a space, then a prefix) that start one of the document's forms: one
        pass over them all, where a binary search for each prefix costs a call each (bot.news.topics)."""
        if self._heads is None:
            self._heads = " " + " ".join(self._forms)  # a form holds no space, so " " + prefix only starts one
        return {index for index, _, _ in automaton.find_matches_as_indexes(self._heads, overlapping=True)}

    @property
    def positions(self) -> Mapping[str, Collection[int]]:
        """Each form the document holds (`find`), with its positions: read only (bot.news.topics looks words up)."""
        return self._positions

    def has_prefix(self, prefix: str) -> bool:
        index = bisect.bisect_left(self._forms, prefix)
        return index < len(self._forms) and self._forms[index].startswith(prefix)

    def contains(self, pattern: tuple[Atom, ...]) -> bool:
        """Whether `find` finds the pattern, answered without listing positions where that is cheaper."""
        if len(pattern) == 1:
            part = pattern[0]
            if not part.prefix:
                return part.text in self._positions  # "" is never a form
            return bool(part.text) and self.has_prefix(part.text)
        return bool(self.find(pattern))

    def find(self, pattern: tuple[Atom, ...]) -> list[int]:
        """Start positions where the words of `pattern` occur in a row (sorted)."""
        if len(pattern) == 1:  # most patterns: one word, often absent
            part = pattern[0]
            if not part.prefix:
                found = self._positions.get(part.text)
                return sorted(found) if found and part.text else []
            return sorted(self._prefix_positions(part.text)) if part.text else []
        if not pattern:
            return []
        positions = self._positions
        for part in pattern:
            # every word present first (a look-up each), before any positions are gathered: most phrases tried
            # lack one of their words, and their common words ("and", "the") have many positions
            if not part.text or (part.prefix and not self.has_prefix(part.text)):
                return []
            if not part.prefix and part.text not in positions:
                return []
        first = self._atom_positions(pattern[0])
        if not first:
            return []
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
    hundred distinct words. A pattern can only occur where its first atom does, so the candidates are the
    patterns whose exact first atom is one of the article's words (a set intersection) or whose prefix first atom
    starts one of them (one pass of an Aho-Corasick automaton over the words, each behind a space, which a word
    never holds: 0.02 ms an article where a binary search for each of the gazetteer's 170 prefixes took 0.24 ms);
    only they need `Document.find`.
    """

    __slots__ = ("_automaton", "_exact", "_prefixed")

    def __init__(self, patterns: Sequence[tuple[Atom, ...]]) -> None:
        exact: dict[str, list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        for index, found in enumerate(patterns):
            if not found or not all(part.text for part in found):
                continue  # Document.find never finds it
            head = found[0]
            (prefixes if head.prefix else exact).setdefault(head.text, []).append(index)
        self._exact = exact
        self._prefixed = list(prefixes.values())
        self._automaton = AhoCorasick([" " + head for head in prefixes]) if prefixes else None

    def candidates(self, document: Document) -> list[int]:
        """Indexes (ascending) of the patterns whose first atom occurs in the document: a superset of those found."""
        found: list[int] = []
        exact = self._exact
        for form in exact.keys() & document._positions.keys():  # the Document's own index (same module)
            found.extend(exact[form])
        if self._automaton is not None:
            for head in document.prefixes(self._automaton):
                found.extend(self._prefixed[head])
        found.sort()
        return found


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
