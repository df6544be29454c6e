"""The accords knowledge: a curated, sourced dataset of members and timeline events, and its queries."""

from bot.accords.model import Confidence, KeyDate, Knowledge, Member, Status, TimelineEvent

__all__ = ["Confidence", "KeyDate", "Knowledge", "Member", "Status", "TimelineEvent"]
