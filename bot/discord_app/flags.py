"""Flag emoji from country keys: regional-indicator pairs for ISO codes, nothing for the rest."""

from __future__ import annotations

from bot.countries import Country


def flag(country: Country) -> str:
    if country.iso2 is None or len(country.iso2) != 2 or not country.iso2.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in country.iso2.upper())


def with_flag(country: Country) -> str:
    mark = flag(country)
    return f"{mark} {country.name}" if mark else country.name
