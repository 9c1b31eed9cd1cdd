"""``tradelab-admin``: operator commands that work on any service's schema.

``tradelab-admin dead-letters list [--schema engine] [--all]`` lists parked messages (every
service schema by default); ``tradelab-admin dead-letters replay --schema engine ID`` puts one
back on its topic through that service's outbox (its relay publishes it while the service runs).
The database is ``DATABASE_URL`` (SQLAlchemy asyncpg form), as the services read it.

The ``tradelab-admin`` console script is installed by the auth service
(``tradelab_auth.admin_cli``), which adds its ``users`` commands to these: a library may not
import a service, so the command that knows both lives on the service's side.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .dead_letters import DeadLetter, list_dead_letters, replay_dead_letter
from .outbox import Outbox

SCHEMAS = ("auth", "datasets", "engine", "analytics")
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tradelab"


def _line(schema: str, letter: DeadLetter) -> str:
    where = f"{letter.topic}[{letter.partition}]@{letter.offset}"
    state = f"replayed {letter.replayed_at:%Y-%m-%d %H:%M:%S}" if letter.replayed_at else "parked"
    error = letter.error.splitlines()[0][:120] if letter.error else ""
    return (
        f"{schema:<9} {letter.id:>6}  {letter.created_at:%Y-%m-%d %H:%M:%S}  {state:<28} "
        f"attempts={letter.attempts}  {where}  {error}"
    )


async def _list(engine: AsyncEngine, schemas: Sequence[str], include_replayed: bool) -> int:
    count = 0
    for schema in schemas:
        for letter in await list_dead_letters(engine, schema, include_replayed=include_replayed):
            print(_line(schema, letter))
            count += 1
    if not count:
        print("no dead letters")
    return 0


async def _replay(engine: AsyncEngine, schema: str, letter_id: int) -> int:
    async def never(_: object) -> None:  # this process stores; the service's relay publishes
        raise RuntimeError("tradelab-admin does not publish")

    outbox = Outbox(engine, schema, never)
    async with outbox.begin() as conn:
        replayed = await replay_dead_letter(conn, schema, letter_id)
    if not replayed:
        print(f"no parked dead letter {letter_id} in schema {schema}", file=sys.stderr)
        return 1
    print(f"dead letter {letter_id} queued for replay by the {schema} service")
    return 0


def schema_name(value: str) -> str:
    """A service schema: a lower-case identifier."""
    if not value.isidentifier() or not value.islower():
        msg = f"not a schema name: {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers`` returns, that commands are added to (argparse's own type)."""


def add_dead_letters(commands: Commands) -> None:
    """Add the ``dead-letters`` command to ``commands``."""
    letters = commands.add_parser("dead-letters", help="list or replay parked messages")
    actions = letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list parked messages")
    listing.add_argument("--schema", type=schema_name, help="one service (default: all)")
    listing.add_argument("--all", action="store_true", help="include replayed ones")
    replay = actions.add_parser("replay", help="put a parked message back on its topic")
    replay.add_argument("--schema", type=schema_name, required=True)
    replay.add_argument("id", type=int)


def parser() -> argparse.ArgumentParser:
    """The command line of the dead-letter commands."""
    root = argparse.ArgumentParser(prog="tradelab-admin", description=__doc__)
    add_dead_letters(root.add_subparsers(dest="command", required=True))
    return root


def database_engine() -> AsyncEngine:
    """An engine on ``DATABASE_URL`` (the local stack's database when unset)."""
    return create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))


async def dead_letters(engine: AsyncEngine, args: argparse.Namespace) -> int:
    """Run a parsed ``dead-letters`` command; return the exit status."""
    if args.action == "list":
        schemas = [args.schema] if args.schema else list(SCHEMAS)
        return await _list(engine, schemas, args.all)
    return await _replay(engine, args.schema, args.id)


async def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = parser().parse_args(argv)
    engine = database_engine()
    try:
        return await dead_letters(engine, args)
    finally:
        await engine.dispose()
