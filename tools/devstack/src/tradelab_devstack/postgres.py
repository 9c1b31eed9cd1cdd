"""PostgreSQL for the local stack and the tests.

Resolution order: ``DATABASE_URL`` if set; a container when a Docker engine answers and containers
are allowed; a throwaway cluster under the state directory when the server binaries are installed;
the local server on 127.0.0.1:5432 when one answers.
"""

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .docker_probe import docker_available
from .ports import free_port, port_open
from .state import state_dir

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class PostgresServer:
    """A server the stack may use; ``admin_dsn`` reaches its ``postgres`` database."""

    admin_dsn: str
    source: str

    def dsn(self, database: str) -> str:
        """Return a libpq URL of ``database`` on this server."""
        base, _, _ = self.admin_dsn.rpartition("/")
        return f"{base}/{database}"

    def sqlalchemy_url(self, database: str) -> str:
        """Return the asyncpg SQLAlchemy URL of ``database``."""
        return self.dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)


def to_libpq(url: str) -> str:
    """Turn an SQLAlchemy URL (``postgresql+asyncpg://``) into a libpq one."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


async def create_database(server: PostgresServer, name: str, *, drop_first: bool = False) -> None:
    """Create ``name`` on ``server`` if it does not exist (``drop_first`` starts it empty)."""
    if not name.replace("_", "").isalnum():
        msg = f"database name must be alphanumeric with underscores, got {name!r}"
        raise ValueError(msg)
    conn = await asyncpg.connect(server.admin_dsn)
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(server: PostgresServer, name: str) -> None:
    """Drop ``name`` (connections are closed by force)."""
    conn = await asyncpg.connect(server.admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _pg_bin(tool: str) -> Path | None:
    for directory in PG_BIN_DIRS:
        if (directory / tool).exists():
            return directory / tool
    found = shutil.which(tool)
    return Path(found) if found else None


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class ThrowawayCluster:
    """A PostgreSQL cluster in a directory of its own, trust auth, fsync off (tests, dev)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._pg_ctl = _pg_bin("pg_ctl")
        self._initdb = _pg_bin("initdb")

    @staticmethod
    def available() -> bool:
        """Return whether the server binaries are installed."""
        return _pg_bin("pg_ctl") is not None and _pg_bin("initdb") is not None

    def _run(self, *args: str) -> None:
        # Our own PostgreSQL binaries with arguments built here, never user input.
        subprocess.run(_as_postgres_user(list(args)), check=True, capture_output=True)  # noqa: S603

    def stop_leftover(self) -> None:
        """Stop a cluster an earlier crashed run left running in this directory."""
        if (self.directory / "data" / "postmaster.pid").exists() and self._pg_ctl:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(
                    str(self._pg_ctl), "-D", str(self.directory / "data"), "-m", "fast", "stop"
                )

    def start(self) -> PostgresServer:
        """Initialise the cluster (first time) and start it; return the server."""
        if self._pg_ctl is None or self._initdb is None:
            msg = "PostgreSQL server binaries are not installed (apt-get install postgresql)"
            raise RuntimeError(msg)
        self.stop_leftover()
        data = self.directory / "data"
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(data, ignore_errors=True)
            self._run(
                str(self._initdb), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8"
            )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off "
            f"-c unix_socket_directories={self.directory} -c max_connections=300 "
            # Loaded so a database that creates the extension reports its slowest statements
            # (GET /api/v1/performance/database); contrib ships with the server binaries.
            "-c shared_preload_libraries=pg_stat_statements"
        )
        self._run(
            str(self._pg_ctl),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return PostgresServer(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", "throwaway")

    def stop(self) -> None:
        """Stop the cluster (its files stay for the next start)."""
        if self._pg_ctl:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(
                    str(self._pg_ctl), "-D", str(self.directory / "data"), "-m", "fast", "stop"
                )


async def _answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@contextlib.contextmanager
def postgres_server(
    *, allow_docker: bool, prefer_local: bool, cluster_name: str = "postgres"
) -> Iterator[PostgresServer]:
    """Yield a server by the resolution order above, and stop what was started for it.

    ``prefer_local`` puts the local 127.0.0.1:5432 server before a throwaway cluster (``make up``
    keeps its data there); tests prefer a throwaway cluster they own.
    """
    if url := os.environ.get("DATABASE_URL"):
        base, _, _ = to_libpq(url).rpartition("/")
        yield PostgresServer(f"{base}/postgres", "DATABASE_URL")
        return
    if allow_docker and docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            base = to_libpq(container.get_connection_url()).rsplit("/", 1)[0]
            yield PostgresServer(f"{base}/postgres", "docker")
        return
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if prefer_local and port_open("127.0.0.1", 5432) and asyncio.run(_answers(local)):
        yield PostgresServer(local, "local")
        return
    if ThrowawayCluster.available():
        cluster = ThrowawayCluster(state_dir() / cluster_name)
        try:
            yield cluster.start()
        finally:
            cluster.stop()
        return
    if port_open("127.0.0.1", 5432) and asyncio.run(_answers(local)):
        yield PostgresServer(local, "local")
        return
    msg = (
        "no PostgreSQL: set DATABASE_URL, start a server on 127.0.0.1:5432, "
        "or install the server binaries (apt-get install postgresql)"
    )
    raise RuntimeError(msg)
