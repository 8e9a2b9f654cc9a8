"""`python -m services.api keys create|list|revoke|ensure-dev`: manage API keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

from shared.repositories import api_keys
from shared.settings import Settings


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        if args.command == "create":
            created, plaintext = await api_keys.create_key(conn, args.name)
            print(f"created key {created.id} ({created.name}); keep it now, it is not shown again:")
            print(plaintext)
        elif args.command == "list":
            for key in await api_keys.list_keys(conn):
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                print(f"{key.id}  {key.prefix}…  {key.name}  {state}")
        elif args.command == "revoke":
            if not await api_keys.revoke_key(conn, args.key):
                print(f"no active key with id or prefix {args.key!r}", file=sys.stderr)
                return 1
            print("revoked")
        elif args.command == "ensure-dev":
            file = Path(args.file)
            kept = file.read_text().strip() if file.exists() else None  # noqa: ASYNC240 (a CLI)
            dev_key = await _ensure_dev_key(conn, kept, settings)
            if dev_key != kept and not settings.static_api_keys:
                file.write_text(dev_key + "\n")  # noqa: ASYNC240
                file.chmod(0o600)  # noqa: ASYNC240
            print(dev_key)
        return 0
    finally:
        await conn.close()


async def _ensure_dev_key(conn: asyncpg.Connection, kept: str | None, settings: Settings) -> str:
    """A key for development: one from VCS_API_KEYS, the kept one if still active, or a new one."""
    if settings.static_api_keys:
        return settings.static_api_keys[0]
    if kept and await api_keys.active_key_id(conn, kept):
        return kept
    _, key = await api_keys.create_key(conn, "development (make run)")
    return key


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.api keys")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who or what the key is for")
    commands.add_parser("list", help="list keys (never their plaintext)")
    revoke = commands.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    dev = commands.add_parser("ensure-dev", help="print a development key, creating one if needed")
    dev.add_argument("--file", default=".dev-api-key")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args, Settings()))
