"""One style for every sentence the bot writes: counts with the right plural."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`1 story`, `2 stories`, `0 entries`: the number and the noun it takes."""
    if number == 1:
        return f"{number} {noun}"
    if plural is None:
        plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{number:,} {plural}"
