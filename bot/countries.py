"""The countries the bot knows, with stable keys, shared by the accords knowledge and the news engine.

A key is the ISO 3166-1 alpha-2 code where one exists. Kosovo uses the user-assigned `XK` (as the EU and most
APIs do) and Somaliland, recognised by almost no one, the key `SOMALILAND`; both have `iso2 = None` because ISO
assigns them no code. Multilingual matching terms live in the news gazetteer; this module is identity only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, slots=True)
class Country:
    key: str
    iso2: str | None
    name: str
    aliases: tuple[str, ...] = ()


_COUNTRIES: tuple[Country, ...] = (
    Country("IL", "IL", "Israel"),
    Country("US", "US", "United States", ("USA", "U.S.", "US", "United States of America", "America")),
    Country("AE", "AE", "United Arab Emirates", ("UAE", "U.A.E.", "Emirates")),
    Country("BH", "BH", "Bahrain"),
    Country("MA", "MA", "Morocco"),
    Country("SD", "SD", "Sudan"),
    Country("KZ", "KZ", "Kazakhstan"),
    Country("XK", None, "Kosovo"),
    Country("SOMALILAND", None, "Somaliland"),
    Country("EG", "EG", "Egypt"),
    Country("JO", "JO", "Jordan"),
    Country("SA", "SA", "Saudi Arabia", ("KSA", "Saudi")),
    Country("SY", "SY", "Syria"),
    Country("LB", "LB", "Lebanon"),
    Country("ID", "ID", "Indonesia"),
    Country("MR", "MR", "Mauritania"),
    Country("AZ", "AZ", "Azerbaijan"),
    Country("UZ", "UZ", "Uzbekistan"),
    Country("TM", "TM", "Turkmenistan"),
    Country("TJ", "TJ", "Tajikistan"),
    Country("KG", "KG", "Kyrgyzstan"),
    Country("AM", "AM", "Armenia"),
    Country("NE", "NE", "Niger"),
    Country("SO", "SO", "Somalia"),
    Country("KM", "KM", "Comoros"),
    Country("OM", "OM", "Oman"),
    Country("QA", "QA", "Qatar"),
    Country("KW", "KW", "Kuwait"),
    Country("IQ", "IQ", "Iraq"),
    Country("IR", "IR", "Iran"),
    Country("YE", "YE", "Yemen"),
    Country("LY", "LY", "Libya"),
    Country("TN", "TN", "Tunisia"),
    Country("DZ", "DZ", "Algeria"),
    Country("TR", "TR", "Turkey", ("Türkiye", "Turkiye")),
    Country("PS", "PS", "Palestinian territories", ("Palestine", "State of Palestine")),
    Country("RS", "RS", "Serbia"),
    Country("PK", "PK", "Pakistan"),
    Country("MY", "MY", "Malaysia"),
    Country("BD", "BD", "Bangladesh"),
    Country("AF", "AF", "Afghanistan"),
    Country("TD", "TD", "Chad"),
    Country("ML", "ML", "Mali"),
    Country("DJ", "DJ", "Djibouti"),
    Country("ET", "ET", "Ethiopia"),
    Country("ER", "ER", "Eritrea"),
    Country("SS", "SS", "South Sudan"),
    Country("RU", "RU", "Russia", ("Russian Federation",)),
    Country("CN", "CN", "China"),
    Country("IN", "IN", "India"),
    Country("GB", "GB", "United Kingdom", ("UK", "U.K.", "Britain", "Great Britain")),
    Country("FR", "FR", "France"),
    Country("DE", "DE", "Germany"),
    Country("CY", "CY", "Cyprus"),
    Country("GR", "GR", "Greece"),
    Country("UA", "UA", "Ukraine"),
)


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for lookups ("Türkiye" and "turkiye" meet)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def all_countries() -> tuple[Country, ...]:
    return _COUNTRIES


@cache
def _index() -> dict[str, Country]:
    index: dict[str, Country] = {}
    for country in _COUNTRIES:
        for term in (country.key, country.iso2 or "", country.name, *country.aliases):
            if term:
                index.setdefault(fold(term), country)
    return index


def by_key(key: str) -> Country:
    """The country with this key; KeyError when there is none."""
    for country in _COUNTRIES:
        if country.key == key:
            return country
    raise KeyError(key)


def lookup(text: str) -> Country | None:
    """The country a user or a data file means: key, ISO code, name or English alias, any case or accent."""
    return _index().get(fold(text))


def keys(countries: Iterable[Country]) -> tuple[str, ...]:
    return tuple(country.key for country in countries)
