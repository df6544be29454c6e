"""The servers the bot is in: recorded on join, marked on removal (delivery deletes their data after a grace)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.database import transaction
from bot.store.schema import guilds


async def record_guild(engine: AsyncEngine, guild_id: int, name: str, now: datetime) -> None:
    """Insert or refresh a server; a server that comes back is no longer marked removed."""
    async with transaction(engine) as connection:
        exists = (await connection.execute(select(guilds.c.id).where(guilds.c.id == guild_id))).first()
        if exists:
            await connection.execute(
                update(guilds).where(guilds.c.id == guild_id).values(name=name[:100], removed_at=None)
            )
        else:
            await connection.execute(guilds.insert().values(id=guild_id, name=name[:100], joined_at=now))


async def mark_removed(engine: AsyncEngine, guild_id: int, now: datetime) -> None:
    async with transaction(engine) as connection:
        await connection.execute(update(guilds).where(guilds.c.id == guild_id).values(removed_at=now))


async def active_guild_ids(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(guilds.c.id).where(guilds.c.removed_at.is_(None)))
        return {row.id for row in rows}
