from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_app.render import (
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    MARKER,
    Item,
    build_embed,
    embed_size,
    paginate,
    shorten,
)

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000)


@given(texts, st.integers(min_value=1, max_value=2000))
def test_shorten_fits_and_marks_every_cut(text: str, limit: int) -> None:
    short = shorten(text, limit)
    assert len(short) <= limit
    if short != text.strip():
        assert short.endswith(MARKER)


def test_shorten_cuts_at_a_word_boundary() -> None:
    text = "Kazakhstan announced its intent to join the Abraham Accords on 6 November 2025"
    short = shorten(text, 40)
    assert short == "Kazakhstan announced its intent to join…"
    assert short[:-1] in text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=400), texts), max_size=80),
    st.integers(min_value=1, max_value=25),
)
def test_pages_cover_every_item_once_and_fit_the_limits(raw: list[tuple[str, str]], per_page: int) -> None:
    items = [Item(name, value) for name, value in raw]
    pages = paginate(items, per_page=per_page, budget=EMBED_TOTAL_LIMIT - 600)
    flat = [item for page in pages for item in page]
    assert flat == [item.clipped() for item in items]  # every item, once, in order
    for number, page in enumerate(pages, start=1):
        assert 1 <= len(page) <= per_page
        embed = build_embed(title="T" * 300, description="d" * 100, items=page, footer=f"Page {number}")
        assert embed_size(embed) <= EMBED_TOTAL_LIMIT
        assert all(len(f.name) <= FIELD_NAME_LIMIT and len(f.value) <= FIELD_VALUE_LIMIT for f in embed.fields)
        assert len(embed.title or "") <= 256


def test_an_oversized_embed_is_refused_not_sent() -> None:
    items = [Item("n" * 256, "v" * 1024) for _ in range(6)]
    with pytest.raises(ValueError, match="6000"):
        build_embed(title="x", items=items)
