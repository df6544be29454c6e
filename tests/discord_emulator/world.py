"""Guilds, channels, roles, users and the permission arithmetic Discord applies to them.

The state is mutable on purpose (the control API changes it); every payload the gateway or REST sends is built
here so both always describe the same world.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Discord's permission bits (developers/topics/permissions), by the names discord.py uses.
PERMISSIONS: dict[str, int] = {
    "create_instant_invite": 1 << 0,
    "kick_members": 1 << 1,
    "ban_members": 1 << 2,
    "administrator": 1 << 3,
    "manage_channels": 1 << 4,
    "manage_guild": 1 << 5,
    "add_reactions": 1 << 6,
    "view_audit_log": 1 << 7,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "use_external_emojis": 1 << 18,
    "manage_roles": 1 << 28,
    "manage_webhooks": 1 << 29,
    "use_application_commands": 1 << 31,
    "send_messages_in_threads": 1 << 38,
}
ALL_PERMISSIONS = (1 << 51) - 1
EVERYONE_DEFAULT = (
    "view_channel",
    "send_messages",
    "read_message_history",
    "use_application_commands",
    "add_reactions",
)
BOT_ROLE = ("view_channel", "send_messages", "embed_links", "read_message_history")
ADMIN_ROLE = ("manage_guild", "view_channel", "send_messages", "embed_links", "read_message_history")
# Permissions that mean nothing once Send Messages is denied in a text channel (Discord's implicit denial).
NEEDS_SEND = ("embed_links", "attach_files", "mention_everyone", "send_messages_in_threads")
DISCORD_EPOCH_MS = 1420070400000


class UnknownPermission(ValueError):
    pass


def bits(names: list[str] | tuple[str, ...]) -> int:
    value = 0
    for name in names:
        if name not in PERMISSIONS:
            raise UnknownPermission(name)
        value |= PERMISSIONS[name]
    return value


def iso(moment: datetime) -> str:
    return moment.isoformat()


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that receives a guild's events (Discord's sharding formula)."""
    return (guild_id >> 22) % shard_count


class Snowflakes:
    """Ids that sort by creation time, as Discord's do (discord.py reads created_at from them)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._last_ms = 0

    def next(self, shard: tuple[int, int] | None = None) -> int:
        """A new id; with `shard` (id, count), one whose guild would be on that shard (its time part is moved
        forward by less than `count` milliseconds, so ids still sort by creation)."""
        ms = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, self._last_ms)
        if shard is not None:
            wanted, count = shard
            ms += (wanted - ms) % count
        self._last_ms = ms
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class User:
    id: int
    username: str
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": None if self.bot else self.username.capitalize(),
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int
    managed: bool = False
    mentionable: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite; kind 0 for a role, 1 for a member."""

    id: int
    kind: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.kind, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    position: int
    overwrites: dict[int, Overwrite] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "permission_overwrites": [overwrite.payload() for overwrite in self.overwrites.values()],
        }


@dataclass(frozen=True, slots=True)
class CommandPermission:
    """An override from the server's Integrations settings: allow or deny a role, a user or a channel."""

    target: int  # role id (the guild id is @everyone), user id, or channel id (guild id - 1: every channel)
    kind: int  # 1 role, 2 user, 3 channel
    allow: bool

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.target), "type": self.kind, "permission": self.allow}


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    joined_at: datetime
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids (besides @everyone)
    # command id (or the application id: every command without its own) -> overrides
    command_permissions: dict[int, list[CommandPermission]] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def system_channel_id(self) -> str | None:
        """Where Discord posts system messages: a new server's `general`, as long as it exists."""
        general = next((c for c in self.channels.values() if c.name == "general"), None)
        return str(general.id) if general is not None else None

    def base_permissions(self, user_id: int) -> int:
        """Guild-level permissions: @everyone and the member's roles; owner and administrator get all."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone.permissions
        for role_id in self.members.get(user_id, []):
            value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & PERMISSIONS["administrator"] else value

    def channel_permissions(self, user_id: int, channel: Channel) -> int:
        """Discord's order: @everyone overwrite, then all role overwrites together, then the member's own."""
        value = self.base_permissions(user_id)
        if value & PERMISSIONS["administrator"]:
            return ALL_PERMISSIONS
        everyone = channel.overwrites.get(self.id)
        if everyone is not None:
            value = (value & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in self.members.get(user_id, []):
            overwrite = channel.overwrites.get(role_id)
            if overwrite is not None and overwrite.kind == 0:
                allow |= overwrite.allow
                deny |= overwrite.deny
        value = (value & ~deny) | allow
        own = channel.overwrites.get(user_id)
        if own is not None and own.kind == 1:
            value = (value & ~own.deny) | own.allow
        if not value & PERMISSIONS["view_channel"]:
            return 0
        if not value & PERMISSIONS["send_messages"]:
            value &= ~bits(NEEDS_SEND)
        return value

    def may_use_command(
        self, user_id: int, channel: Channel, command_id: int, application_id: int, default: int | None
    ) -> bool:
        """Whether Discord shows the command to this member in this channel.

        Administrators (and the owner) use every command. Otherwise the channel overrides decide first (the
        command's own, else the application-wide ones; a channel's own override before "every channel"); then the
        member's overrides: the command's own if it has any for this member (the user's before their roles',
        where an allowing role wins over a denying one, then @everyone), else the application-wide ones the same
        way; only when none applies does the command's default_member_permissions decide.
        """
        base = self.base_permissions(user_id)
        if base & PERMISSIONS["administrator"]:
            return True
        scopes = [self.command_permissions.get(command_id, []), self.command_permissions.get(application_id, [])]
        channel_rules = [
            rule.allow
            for target in (channel.id, self.id - 1)
            for scope in scopes
            for rule in scope
            if rule.kind == 3 and rule.target == target
        ]
        if channel_rules and not channel_rules[0]:
            return False
        roles = set(self.members.get(user_id, []))
        for scope in scopes:
            own = [o.allow for o in scope if o.kind == 2 and o.target == user_id]
            if own:
                return own[0]
            by_role = [o.allow for o in scope if o.kind == 1 and o.target in roles]
            if by_role:
                return any(by_role)
            everyone = [o.allow for o in scope if o.kind == 1 and o.target == self.id]
            if everyone:
                return everyone[0]
        if default is None:
            return True
        return (self.channel_permissions(user_id, channel) & default) == default and default != 0

    def member_payload(self, user: User, *, permissions: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "user": user.payload(),
            "roles": [str(role_id) for role_id in self.members.get(user.id, [])],
            "joined_at": iso(self.joined_at),
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload

    def payload(self, bot: User) -> dict[str, Any]:
        """The full guild as GUILD_CREATE carries it (only the bot's member: no privileged intents)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": self.system_channel_id(),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [role.payload() for role in self.roles.values()],
            "channels": [channel.payload() for channel in self.channels.values()],
            "threads": [],
            "members": [self.member_payload(bot)],
            "member_count": len(self.members),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": iso(self.joined_at),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "premium_progress_bar_enabled": False,
        }


class World:
    """Everything that exists: users, guilds with their channels and roles, and where each channel lives."""

    def __init__(self, ids: Snowflakes) -> None:
        self.ids = ids
        self.bot = User(ids.next(), "Accord Watch", bot=True)
        self.owner = User(ids.next(), "owner")
        self.admin = User(ids.next(), "admin")
        self.member = User(ids.next(), "member")
        self.users: dict[int, User] = {u.id: u for u in (self.bot, self.owner, self.admin, self.member)}
        self.guilds: dict[int, Guild] = {}  # the guilds the bot is in
        self.departed: dict[int, Guild] = {}  # guilds that removed the bot (they still exist, without it)
        self.default_guild = self.add_guild("Accord Watch Test")

    def add_guild(self, name: str, shard: tuple[int, int] | None = None) -> Guild:
        """A new guild with the bot in it; `shard` (id, count) places it on that shard."""
        guild = Guild(self.ids.next(shard), name, owner_id=self.owner.id, joined_at=datetime.now(UTC))
        guild.roles[guild.id] = Role(guild.id, "@everyone", bits(EVERYONE_DEFAULT), 0)
        bot_role = Role(self.ids.next(), self.bot.username, bits(BOT_ROLE), 1, managed=True)
        admin_role = Role(self.ids.next(), "Admins", bits(ADMIN_ROLE), 2)
        guild.roles[bot_role.id] = bot_role
        guild.roles[admin_role.id] = admin_role
        guild.members = {self.bot.id: [bot_role.id], self.owner.id: [], self.admin.id: [admin_role.id]}
        guild.members[self.member.id] = []
        self.guilds[guild.id] = guild
        self.add_channel(guild, "general")
        self.add_channel(guild, "news")
        return guild

    def remove_bot(self, guild: Guild) -> None:
        """The guild removed the bot: it no longer sees it, its channels or its members."""
        del self.guilds[guild.id]
        self.departed[guild.id] = guild

    def rejoin(self, guild: Guild) -> None:
        """The bot is added back to a guild that had removed it."""
        del self.departed[guild.id]
        guild.joined_at = datetime.now(UTC)
        guild.members.setdefault(self.bot.id, [self.bot_role(guild).id])
        self.guilds[guild.id] = guild

    def add_role(self, guild: Guild, name: str, permissions: int, *, mentionable: bool = False) -> Role:
        position = max(role.position for role in guild.roles.values()) + 1
        role = Role(self.ids.next(), name, permissions, position, mentionable=mentionable)
        guild.roles[role.id] = role
        return role

    def add_channel(self, guild: Guild, name: str) -> Channel:
        channel = Channel(self.ids.next(), guild.id, name, position=len(guild.channels))
        guild.channels[channel.id] = channel
        return channel

    def add_user(self, username: str, guild: Guild | None = None) -> User:
        user = User(self.ids.next(), username)
        self.users[user.id] = user
        for target in [guild] if guild else self.guilds.values():
            target.members[user.id] = []
        return user

    def channel(self, channel_id: int) -> Channel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return None

    def departed_channel(self, channel_id: int) -> Channel | None:
        """A channel of a guild that removed the bot: it exists, and the bot may not see it (50001)."""
        return next((g.channels[channel_id] for g in self.departed.values() if channel_id in g.channels), None)

    def bot_role(self, guild: Guild) -> Role:
        return next(role for role in guild.roles.values() if role.managed)

    def general(self, guild: Guild) -> Channel:
        return next(channel for channel in guild.channels.values() if channel.name == "general")
