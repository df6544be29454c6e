"""Who a message pings: the mentions written in it, filtered by `allowed_mentions` and the sender's permissions.

Only what is written in the content (or, in a Components V2 message, in its text displays) can ping; embeds
never do. `allowed_mentions` then narrows it: `parse` lets every mention of a kind through, `users` / `roles`
list the ids allowed one by one. Without `allowed_mentions`, a channel message parses every kind and an
interaction response or followup only users (Discord's defaults). A role pings only if it is mentionable or the
sender may Mention Everyone in the channel; @everyone and @here need that permission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.discord_emulator.components import texts
from tests.discord_emulator.validation import IS_COMPONENTS_V2
from tests.discord_emulator.world import PERMISSIONS, Channel, Guild

USER = re.compile(r"<@!?(\d{1,20})>")
ROLE = re.compile(r"<@&(\d{1,20})>")
EVERYONE = re.compile(r"@(everyone|here)")
CHANNEL_DEFAULT = ("users", "roles", "everyone")
INTERACTION_DEFAULT = ("users",)


@dataclass(frozen=True, slots=True)
class Pings:
    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()
    everyone: bool = False


def _ids(values: Any) -> set[int]:
    return {int(value) for value in values or []}


def resolve(
    body: dict[str, Any], flags: int, *, guild: Guild, channel: Channel, sender: int, interaction: bool
) -> Pings:
    """The users, roles and @everyone/@here that `body` (already validated) pings when `sender` posts it."""
    v2 = flags & IS_COMPONENTS_V2
    text = "\n".join(texts(body.get("components"))) if v2 else str(body.get("content") or "")
    allowed = body.get("allowed_mentions")
    if allowed is None:
        allowed = {"parse": list(INTERACTION_DEFAULT if interaction else CHANNEL_DEFAULT)}
    parse = set(allowed.get("parse") or [])
    may_mention_everyone = bool(guild.channel_permissions(sender, channel) & PERMISSIONS["mention_everyone"])

    users: list[int] = []
    listed_users = _ids(allowed.get("users"))
    for match in USER.finditer(text):
        user_id = int(match.group(1))
        if user_id in guild.members and ("users" in parse or user_id in listed_users) and user_id not in users:
            users.append(user_id)

    roles: list[int] = []
    listed_roles = _ids(allowed.get("roles"))
    for match in ROLE.finditer(text):
        role = guild.roles.get(int(match.group(1)))
        if role is None or role.id == guild.id or role.id in roles:
            continue
        if ("roles" in parse or role.id in listed_roles) and (role.mentionable or may_mention_everyone):
            roles.append(role.id)

    everyone = bool(EVERYONE.search(text)) and "everyone" in parse and may_mention_everyone
    return Pings(tuple(users), tuple(roles), everyone)
