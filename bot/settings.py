"""The bot's settings: environment variables and an optional `.env`, validated once at start.

Nothing here runs at import. `load_settings()` is called by the entry point; a bad value becomes a
`SettingsError` whose message names the variable and says how to fix it, never echoing a secret.
"""

from __future__ import annotations

import ipaddress
import logging
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite:///data/accord-watch.db"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
SUPPORTED_DATABASES = ("sqlite", "postgresql")

# How to fix each setting, shown after the problem in the one-line start-up error.
_HINTS: dict[str, str] = {
    "DISCORD_TOKEN": "set DISCORD_TOKEN in .env or the environment to your bot's token "
    "(Discord Developer Portal > your application > Bot > Reset Token)",
    "DATABASE_URL": "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname",
    "LOG_LEVEL": "use one of DEBUG, INFO, WARNING, ERROR",
    "DEV_GUILD_ID": "use the numeric id of your test server (Copy Server ID), or leave it unset",
    "DISCORD_API_BASE": "use an http(s) URL such as https://discord.com/api/v10",
    "DISCORD_GATEWAY_URL": "use a ws(s) URL such as wss://gateway.discord.gg/",
    "POLL_INTERVAL": "use a whole number of seconds, at least 1 (default 600)",
    "MAX_ARTICLE_AGE": "use a whole number of hours, 0 to turn the check off (default 72)",
    "SOURCES_FILE": "point it at a readable TOML file of [[source]] tables, or leave it unset",
    "SERVER_SOURCES_ALLOW": "use networks in CIDR form separated by commas, e.g. 10.20.0.0/16, or leave it unset",
    "SHARD_COUNT": "use the whole number of shards of the fleet, at least 1, or leave it unset (Discord's advice)",
    "SHARD_IDS": "use the shards this process runs, as 0-3 or 0,2,5, each below SHARD_COUNT, or leave it unset (all)",
    "REDIS_URL": "use redis://host:6379/0 (or rediss://), or leave it unset (each gateway takes its share)",
    "HEALTH_PORT": "use a free port from 1 to 65535, or leave it unset (no health or metrics endpoint)",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line, fit to print as is."""

    def __init__(self, variable: str, problem: str) -> None:
        hint = _HINTS.get(variable, "")
        super().__init__(f"{variable}: {problem}" + (f"; {hint}" if hint else ""))
        self.variable = variable


def parse_shard_ids(value: str) -> tuple[int, ...]:
    """`0-3`, `0,2,5` or `4`: the shards named, in order; ValueError says which part is not one."""
    shards: list[int] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(f"{part!r} is not a shard or a range of shards") from None
        if first < 0 or last < first:
            raise ValueError(f"{part!r} is not a shard or a range of shards")
        shards.extend(range(first, last + 1))
    if not shards:
        raise ValueError("no shard named")
    return tuple(dict.fromkeys(shards))


def _parse_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated CIDRs (a bare address is its /32 or /128); ValueError names the part that is not one."""
    networks = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not a network") from None
    return tuple(networks)


class Settings(BaseSettings):
    """Everything the operator can configure. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=True,
    )

    DISCORD_TOKEN: SecretStr | None = Field(default=None, description="Bot token; required to run")
    DATABASE_URL: str = Field(default=DEFAULT_DATABASE_URL, description="SQLite (default) or PostgreSQL URL")
    LOG_LEVEL: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    DEV_GUILD_ID: int | None = Field(default=None, description="Sync commands to this guild only", gt=0)
    DISCORD_API_BASE: str = Field(default=DEFAULT_API_BASE, description="Discord REST base (proxy, emulator)")
    DISCORD_GATEWAY_URL: str = Field(default=DEFAULT_GATEWAY_URL, description="Discord gateway URL")
    POLL_INTERVAL: int = Field(default=600, ge=1, description="Default seconds between polls of a source")
    MAX_ARTICLE_AGE: int = Field(default=72, ge=0, description="Hours; older articles are never delivered")
    POLL_WORKERS: int | None = Field(
        default=None, ge=1, le=64, description="Processes that parse and match feeds (default: one per core, 1 to 4)"
    )
    SOURCES_FILE: Path | None = Field(default=None, description="TOML file replacing the built-in sources")
    SERVER_SOURCES_ALLOW: str = Field(
        default="", description="Private networks servers' own sources may reach (CIDRs, comma-separated)"
    )
    SHARD_COUNT: int | None = Field(default=None, ge=1, description="Shards of the whole fleet (default: Discord's)")
    SHARD_IDS: str | None = Field(default=None, description="Shards this gateway runs, e.g. 0-3 (default: all)")
    REDIS_URL: str | None = Field(default=None, description="Redis for one rate budget shared by the gateways")
    HEALTH_PORT: int | None = Field(default=None, ge=1, le=65535, description="Port of /healthz and /metrics")

    @field_validator("LOG_LEVEL")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown level {value!r}")
        return level

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL") from None
        backend = url.get_backend_name()
        if backend not in SUPPORTED_DATABASES:
            raise ValueError(f"unsupported database {backend!r}")
        if backend == "sqlite" and not url.database:
            raise ValueError("a SQLite URL needs a file path")
        return value

    @field_validator("DISCORD_API_BASE")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value.rstrip("/")

    @field_validator("DISCORD_GATEWAY_URL")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("not a ws(s) URL")
        return value

    @field_validator("SOURCES_FILE")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file {str(value)!r}")
        return value

    @field_validator("SERVER_SOURCES_ALLOW")
    @classmethod
    def _networks(cls, value: str) -> str:
        _parse_networks(value)
        return value

    @field_validator("SHARD_IDS")
    @classmethod
    def _shard_ids(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shard_ids(value)
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a redis:// URL")
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        if self.SHARD_IDS is not None:
            if self.SHARD_COUNT is None:
                raise PydanticCustomError("shards", "SHARD_IDS: set SHARD_COUNT too (the fleet's number of shards)")
            too_big = [shard for shard in parse_shard_ids(self.SHARD_IDS) if shard >= self.SHARD_COUNT]
            if too_big:
                raise PydanticCustomError(
                    "shards", f"SHARD_IDS: shard {too_big[0]} is not below SHARD_COUNT={self.SHARD_COUNT}"
                )
        return self

    @property
    def shard_ids(self) -> tuple[int, ...] | None:
        """SHARD_IDS parsed, or None for all the shards."""
        return parse_shard_ids(self.SHARD_IDS) if self.SHARD_IDS is not None else None

    @property
    def uses_sqlite(self) -> bool:
        return make_url(self.DATABASE_URL).get_backend_name() == "sqlite"

    @property
    def allowed_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """SERVER_SOURCES_ALLOW parsed: the private networks the operator vouches for (an internal feed bridge)."""
        return _parse_networks(self.SERVER_SOURCES_ALLOW)

    @property
    def token(self) -> str:
        """The Discord token; raises SettingsError when it is not set (only running needs it)."""
        if self.DISCORD_TOKEN is None or not self.DISCORD_TOKEN.get_secret_value().strip():
            raise SettingsError("DISCORD_TOKEN", "not set")
        return self.DISCORD_TOKEN.get_secret_value().strip()


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and validate the settings; turn the first problem into a one-line SettingsError."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            variable = str(error["loc"][0])
        else:  # a check across settings names its variable first: "SHARD_IDS: ..."
            variable, _, message = message.partition(": ")
        # Never echo the input: it may be a secret.
        raise SettingsError(variable, message) from None


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
    # discord.py logs every gateway event at DEBUG; keep it readable unless asked.
    if level != "DEBUG":
        logging.getLogger("discord").setLevel(logging.WARNING)
    # The bot never joins voice: discord.py's warning that voice libraries are missing is noise here.
    logging.getLogger("discord.client").addFilter(lambda record: "voice will NOT" not in record.getMessage())
