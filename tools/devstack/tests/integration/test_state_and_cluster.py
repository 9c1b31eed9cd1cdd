"""The dev stack cleans up after a crash: leftover processes and a stale PostgreSQL cluster."""

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tradelab_devstack import state
from tradelab_devstack.postgres import ThrowawayCluster

pytestmark = pytest.mark.integration

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_leftover_recorded_process_is_ended_and_an_unrelated_reused_pid_is_spared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADELAB_STATE_DIR", str(tmp_path))
    ours = subprocess.Popen(SLEEPER, start_new_session=True)
    stranger = subprocess.Popen(SLEEPER, start_new_session=True)
    try:
        state.record("engine", ours.pid, SLEEPER)
        # A pid file whose pid now belongs to another program (pids are reused).
        state.record("auth", stranger.pid, ["/usr/bin/something-else"])

        assert state.reap_leftovers() == ["engine"]

        assert ours.wait(10) == -signal.SIGTERM
        assert stranger.poll() is None
        assert list((tmp_path / "pids").iterdir()) == []
    finally:
        for proc in (ours, stranger):
            proc.kill()
            proc.wait()


async def _select_one(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def test_throwaway_cluster_starts_again_after_its_postmaster_was_killed() -> None:
    # Under the state directory: pytest's tmp_path is private to root, and the server runs as
    # the postgres user.
    directory = state.state_dir() / f"pg-crash-{secrets.token_hex(4)}"
    cluster = ThrowawayCluster(directory)
    server = cluster.start()
    try:
        assert asyncio.run(_select_one(server.admin_dsn)) == 1
        postmaster = int((directory / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)  # a crash leaves postmaster.pid behind

        again = ThrowawayCluster(directory).start()
        assert asyncio.run(_select_one(again.admin_dsn)) == 1
    finally:
        ThrowawayCluster(directory).stop()
        shutil.rmtree(directory, ignore_errors=True)
