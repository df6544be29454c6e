"""The accords knowledge as values: members, timeline events, and the whole set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from bot.countries import Country

Confidence = Literal["confirmed", "reported"]


class Status(StrEnum):
    """Where a country stands. Only the first two are members of the Abraham Accords."""

    IN_FORCE = "in_force"  # signed and in force (UAE, Bahrain, Morocco)
    SIGNED_NOT_RATIFIED = "signed_not_ratified"  # Sudan: the Declaration with the U.S., nothing ratified
    ANNOUNCED_INTENT = "announced_intent"  # Kazakhstan (2025-11-06); Somaliland's declared wish
    RELATED = "related"  # Kosovo: a related deal, not a signatory

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_member(self) -> bool:
        return self in (Status.IN_FORCE, Status.SIGNED_NOT_RATIFIED, Status.ANNOUNCED_INTENT)


_LABELS = {
    Status.IN_FORCE: "Signed, in force",
    Status.SIGNED_NOT_RATIFIED: "Signed, not ratified",
    Status.ANNOUNCED_INTENT: "Announced intent to join",
    Status.RELATED: "Related, not a signatory",
}


@dataclass(frozen=True, slots=True)
class KeyDate:
    date: date
    what: str  # "announced", "Declaration signed", "ratified by the UAE cabinet"...


@dataclass(frozen=True, slots=True)
class Member:
    country: Country
    status: Status
    since: date  # the date it joined, signed or announced: what /members shows first
    signed: str  # one line on what exactly was signed (or announced, for intent)
    key_dates: tuple[KeyDate, ...]
    sources: tuple[str, ...]  # at least one URL
    note: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    date: date
    countries: tuple[Country, ...]
    kind: str
    summary: str
    source_url: str
    confidence: Confidence
    outlets: tuple[str, ...] = ()  # for events reported by the news engine: the outlets that reported it


@dataclass(frozen=True, slots=True)
class Knowledge:
    members: tuple[Member, ...]
    events: tuple[TimelineEvent, ...]  # newest first
    kinds: tuple[str, ...] = field(default=())  # every kind used by an event, sorted
