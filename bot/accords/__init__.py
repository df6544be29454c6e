"""The accords knowledge: a curated, sourced dataset of members and timeline events, and its queries."""

from bot.accords.dataset import DatasetError, load_knowledge
from bot.accords.model import Confidence, KeyDate, Knowledge, Member, Status, TimelineEvent
from bot.accords.queries import (
    MembersView,
    TimelineResult,
    country_choices,
    find_events,
    kind_choices,
    list_members,
    resolve_country,
    with_reported,
)

__all__ = [
    "Confidence",
    "DatasetError",
    "KeyDate",
    "Knowledge",
    "Member",
    "MembersView",
    "Status",
    "TimelineEvent",
    "TimelineResult",
    "country_choices",
    "find_events",
    "kind_choices",
    "list_members",
    "load_knowledge",
    "resolve_country",
    "with_reported",
]
