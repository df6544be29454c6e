import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.news.textnorm import (
    Atom,
    Document,
    PatternIndex,
    normalize,
    pattern,
    reference_normalize,
    tokenize,
    variants,
    words,
)

# Characters where folding is easy to get wrong: curly quotes and dashes, a backquote, combining marks, Hangul jamo
# and two-part Indic vowels (NFC joins them across characters), İ and ß (casefold gives two characters), a Greek
# varia (NFKD gives a backquote), a black-letter H (NFKD gives an upper-case H), Hebrew and Arabic letters, niqqud,
# geresh and the clitic letters, an Arabic tatweel, a lone surrogate, underscores, digits and apostrophes.
TRICKY = (
    "aAs'_ 1x\n\"`’‘“”–—\u00a0\u2026é\u0301ÉİΣςßẞ\u1100\u1161\u11a8\u0b47\u0b3e\u1fef\u210c½ﬁ"
    "אבוהלשמכםןץ\u05bc\u05f3'\"ابلكفوالةىأإآ\u064e\u0640ё\ud800"
)
tricky_text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=60)


def test_folds_case_accents_and_typography() -> None:
    assert normalize("Türkiye’s “Élysée” — ёлка") == 'turkiye\'s "elysee" - елка'
    assert normalize("Israel’s ‘deal’ – “done”") == "israel's 'deal' - \"done\""  # typography alone: ASCII after it
    assert normalize("ג’ורג’ and ארה“ב") == reference_normalize("ג’ורג’ and ארה“ב") == "גורג and ארהב"


def test_arabic_harakat_tatweel_and_letter_variants() -> None:
    assert tokenize("مَعَ إِسْرَائِيلَ") == tokenize("مع اسرائيل")
    assert tokenize("التطـــبيع") == ["التطبيع"]
    assert tokenize("مدينة") == tokenize("مدينه")
    assert tokenize("مصطفى") == tokenize("مصطفي")


def test_hebrew_niqqud_final_letters_and_geresh() -> None:
    assert tokenize("שָׁלוֹם") == tokenize("שלום")
    assert tokenize("הסכם") == ["הסכמ"]
    assert tokenize("אזרבייג'ן") == tokenize("אזרבייגן")
    assert tokenize('ארה"ב') == tokenize("ארה״ב")


def test_possessive_is_dropped_and_apostrophe_splits() -> None:
    assert tokenize("Israel's deal") == ["israel", "deal"]
    assert tokenize("N'Djamena") == ["n", "djamena"]


def test_clitic_prefixes_give_variants() -> None:
    assert "ישראל" in variants(tokenize("ובישראל")[0])
    assert "اسراييل" in variants(tokenize("بإسرائيل")[0])
    assert "امارات" in variants(tokenize("وللإمارات")[0])
    assert variants("israel") == ("israel",)


def test_document_phrases_do_not_cross_title_and_summary() -> None:
    document = Document("Talks on Abraham", "Accords signed")
    assert document.find((Atom("abraham"), Atom("accords"))) == []
    assert document.find((Atom("accord", prefix=True),)) != []
    assert document.in_title(document.find((Atom("talks"),))[0])


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_fast_path_agrees_with_the_general_one(text: str) -> None:
    # a trailing "é" sends the same text through the general path, where it folds to "e" and touches nothing else
    assert normalize(text) + "e" == normalize(text + "é")


def test_pattern_index_candidates_hold_every_pattern_found() -> None:
    patterns = [
        pattern(term)
        for term in ("Abraham Accord*", "Israel", "UAE", "normali*", "Saudi Arabia", "ישראל*", "اسرائيل*", "Oman")
    ]
    patterns.append((Atom(""),))  # never found
    document = Document("Israel and UAE normalise ties", "ובישראל said the Abraham Accords; بإسرائيل")
    candidates = PatternIndex(patterns).candidates(document)
    found = [index for index, each in enumerate(patterns) if document.find(each)]
    assert found == [0, 1, 2, 3, 5, 6]
    assert set(found) <= set(candidates)
    assert candidates == sorted(candidates)
    assert 4 not in candidates  # "Saudi" is not in the article
    assert 7 not in candidates


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(tricky_text)
def test_normalize_is_exactly_its_reference_definition(text: str) -> None:
    assert normalize(text) == reference_normalize(text)


@settings(max_examples=1000)
@given(tricky_text.filter(lambda text: "\n" not in text), tricky_text)
def test_folding_never_looks_across_a_line_break(title: str, summary: str) -> None:
    # what lets the topic matcher fold a title and its summary in one call
    assert normalize(f"{title}\n{summary}") == f"{normalize(title)}\n{normalize(summary)}"


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def _words_as_specified(normalized: str) -> list[str]:
    """Tokens as the module docstring defines them: apostrophes split words, a possessive `s` is dropped."""
    out: list[str] = []
    for match in _WORD.finditer(normalized):
        first, *rest = match.group().split("'")
        out.append(first)
        out.extend(part for part in rest if part != "s")
    return out


@settings(max_examples=2000)
@given(st.text(alphabet=st.sampled_from("as's'_ 1B\u05d0'\u0628é-") | st.characters(), max_size=40))
def test_words_follow_the_specification(text: str) -> None:
    assert words(text) == _words_as_specified(text)
    assert words(normalize(text)) == _words_as_specified(normalize(text))


def _positions_as_specified(tokens: list[str], form: str) -> list[int]:
    return [index for index, token in enumerate(tokens) if token and form in variants(token)]


CLITIC_WORDS = ["ישראל", "בישראל", "ובישראל", "ובהסכם", "בהסכם", "הסכם", "اسرائيل", "باسرائيل", "وللامارات", "للامارات"]


@settings(max_examples=500)
@given(
    st.lists(st.sampled_from([*CLITIC_WORDS, "israel", "deal", "בisrael"]), max_size=8),
    st.lists(st.sampled_from([*CLITIC_WORDS, "abraham", "accords", "deal"]), max_size=8),
)
def test_document_finds_every_form_of_every_token(title: list[str], summary: list[str]) -> None:
    document = Document(" ".join(title), " ".join(summary))
    tokens = list(document.tokens)
    for form in {form for token in tokens if token for form in variants(token)}:
        assert document.find((Atom(form),)) == _positions_as_specified(tokens, form)
        assert document.contains((Atom(form),))
        prefix = Atom(form[:2], prefix=True)
        expected = sorted({i for i, t in enumerate(tokens) if t and any(v.startswith(form[:2]) for v in variants(t))})
        assert document.find((prefix,)) == expected
        assert document.contains((prefix,))
    assert not document.contains((Atom("absent"),))
    assert not document.contains((Atom(""),))


def _phrase_as_specified(tokens: list[str], phrase: tuple[Atom, ...]) -> list[int]:
    def fits(token: str, atom: Atom) -> bool:
        forms = variants(token) if token else ()
        return any(form.startswith(atom.text) if atom.prefix else form == atom.text for form in forms)

    if not phrase or not all(atom.text for atom in phrase):
        return []
    return [
        start
        for start in range(len(tokens) - len(phrase) + 1)
        if all(fits(tokens[start + offset], atom) for offset, atom in enumerate(phrase))
    ]


PHRASE_WORDS = ["israel", "and", "the", "uae", "deal", "בישראל", "ישראל", "abraham", "accords"]


@settings(max_examples=500)
@given(
    st.lists(st.sampled_from(PHRASE_WORDS), max_size=10),
    st.lists(st.sampled_from(PHRASE_WORDS), max_size=10),
    st.lists(st.tuples(st.sampled_from([*PHRASE_WORDS, "absent", "is", "ישר", ""]), st.booleans()), max_size=4),
)
def test_a_phrase_is_found_where_its_words_follow_one_another(
    title: list[str], summary: list[str], phrase: list[tuple[str, bool]]
) -> None:
    """Including phrases with a word the article lacks, which `find` rejects before gathering any positions."""
    document = Document(" ".join(title), " ".join(summary))
    atoms = tuple(Atom(text, prefix) for text, prefix in phrase)
    assert document.find(atoms) == _phrase_as_specified(list(document.tokens), atoms)


@settings(max_examples=500)
@given(tricky_text, tricky_text)
def test_a_document_of_folded_text_is_the_document_of_the_text(title: str, summary: str) -> None:
    direct = Document(title, summary)
    folded = Document.of_normalized(normalize(title), normalize(summary))
    assert (folded.tokens, folded.title_end) == (direct.tokens, direct.title_end)
    for token in set(direct.tokens) - {""}:
        for atom in (Atom(token), Atom(token[:2], prefix=True)):
            assert folded.find((atom,)) == direct.find((atom,))


def test_values_derived_from_a_document_are_computed_once_per_owner() -> None:
    document = Document("Israel and UAE normalise ties")
    owner, other = object(), object()
    calls: list[object] = []

    def compute(seen: Document) -> int:
        calls.append(seen)
        return len(seen.tokens)

    assert document.derived(owner, compute) == document.derived(owner, compute) == 6  # five words and the gap
    assert calls == [document]
    document.remember(other, None)
    assert document.derived(other, compute) is None
    assert calls == [document]


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(["israel", "israeli", "uae", "normalise", "saudi", "arabia", "oman", "woman"]), max_size=12
    )
)
def test_pattern_index_candidates_are_a_superset_of_what_is_found(text: list[str]) -> None:
    terms = ("Israel*", "Israeli", "UAE", "normali*", "Saudi Arabia", "Oman*", "Arab*", "woman")
    patterns = [pattern(term) for term in terms]
    document = Document(" ".join(text))
    candidates = PatternIndex(patterns).candidates(document)
    assert candidates == sorted(candidates)
    assert {index for index, each in enumerate(patterns) if document.find(each)} <= set(candidates)
