"""Persistence: one SQLAlchemy Core code path over SQLite (aiosqlite) and PostgreSQL (asyncpg)."""
