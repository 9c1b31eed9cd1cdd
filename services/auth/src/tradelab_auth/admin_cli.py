"""``tradelab-admin``: operator commands, the auth service's ``users`` and the dead letters.

``tradelab-admin users list [--role admin]`` lists accounts with their roles;
``tradelab-admin users promote EMAIL`` makes an account an admin and ``users demote EMAIL`` a
plain user again. A change takes effect at the account's next login or token refresh (an access
token keeps its role until it expires, ``AUTH_ACCESS_TOKEN_TTL_S``). ``tradelab-admin
dead-letters ...`` is `tradelab_runtime.admin`'s. The database is ``DATABASE_URL``, as the
services read it; every change is written to the auth schema's audit log.
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.auth import UserRole
from tradelab_runtime import admin
from tradelab_runtime.clock import SystemClock
from tradelab_runtime.outbox import Outbox

from .adapters.repository import SqlAuthStore
from .adapters.tables import SCHEMA, users
from .service.roles import set_role

LIST_LIMIT = 1000


def parser() -> argparse.ArgumentParser:
    """The command line: ``users`` and ``dead-letters``."""
    root = argparse.ArgumentParser(prog="tradelab-admin", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    accounts = commands.add_parser("users", help="list accounts, promote or demote one")
    actions = accounts.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list accounts and their roles")
    listing.add_argument("--role", choices=[r.value for r in UserRole], help="only this role")
    for name, role in (("promote", "admin"), ("demote", "user")):
        change = actions.add_parser(name, help=f"make an account {role}")
        change.add_argument("email")
    admin.add_dead_letters(commands)
    return root


async def _list(engine: AsyncEngine, role: str | None) -> int:
    stmt = sa.select(users.c.id, users.c.email, users.c.role, users.c.created_at)
    if role is not None:
        stmt = stmt.where(users.c.role == role)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(users.c.created_at).limit(LIST_LIMIT))).all()
    for row in rows:
        print(f"{row.id}  {row.role:<5}  {row.created_at:%Y-%m-%d %H:%M:%S}  {row.email}")
    if not rows:
        print("no accounts")
    return 0


async def _change(engine: AsyncEngine, email: str, role: UserRole) -> int:
    async def never(_: object) -> None:  # nothing to publish: a role change is no event
        raise RuntimeError("tradelab-admin does not publish")

    store = SqlAuthStore(engine, Outbox(engine, SCHEMA, never))
    user = await set_role(store, SystemClock(), email, role)
    if user is None:
        print(f"no account {email}", file=sys.stderr)
        return 1
    print(f"{user.email} is {user.role.value} (from its next login or token refresh)")
    return 0


async def users_command(engine: AsyncEngine, args: argparse.Namespace) -> int:
    """Run a parsed ``users`` command; return the exit status."""
    if args.action == "list":
        return await _list(engine, args.role)
    role = UserRole.ADMIN if args.action == "promote" else UserRole.USER
    return await _change(engine, args.email, role)


async def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = parser().parse_args(argv)
    engine = admin.database_engine()
    try:
        if args.command == "users":
            return await users_command(engine, args)
        return await admin.dead_letters(engine, args)
    finally:
        await engine.dispose()


def main() -> None:
    """Entry point of ``tradelab-admin``."""
    sys.exit(asyncio.run(run()))
