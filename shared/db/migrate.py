"""Create the database when missing and apply the SQL files in `migrations/` once each, in order.

Run as `python -m shared.db.migrate`. Safe to run from several processes at once: an advisory
lock serialises them.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

from shared.logging import configure_logging
from shared.settings import Settings

log = structlog.get_logger()
_LOCK_KEY = 0x7663_735F_6D69  # "vcs_mi": any constant shared by every migrating process


def _maintenance_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path="/postgres")), name


async def create_database_if_missing(database_url: str) -> bool:
    """Create the database named in `database_url`; True if it had to be created."""
    maintenance_url, name = _maintenance_url(database_url)
    conn = await asyncpg.connect(maintenance_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("shared.db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text()) for f in files]


async def apply_migrations(database_url: str) -> list[str]:
    """Apply the migrations not applied yet; returns their names."""
    conn = await asyncpg.connect(database_url)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
    finally:
        await conn.close()
    return applied


async def migrate(database_url: str) -> None:
    created = await create_database_if_missing(database_url)
    applied = await apply_migrations(database_url)
    log.info("database ready", created=created, migrations_applied=applied)


def main() -> None:
    settings = Settings()
    configure_logging("migrate", settings.log_level, settings.log_format)
    asyncio.run(migrate(settings.database_url))


if __name__ == "__main__":
    main()
