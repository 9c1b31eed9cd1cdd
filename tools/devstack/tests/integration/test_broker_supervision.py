"""``make up``'s supervisor brings a SIGKILLed Tansu broker back on its port, topics and all."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradelab_contracts.topics import ALL_TOPICS
from tradelab_devstack.kafka import TansuProcess
from tradelab_devstack.stack import create_topics, partition_counts, restore_topics
from tradelab_devstack.supervisor import BrokerChild, RestartPolicy, Supervisor

pytestmark = pytest.mark.integration

WANTED = {spec.name: spec.partitions for spec in ALL_TOPICS}


@pytest.fixture
def tansu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TansuProcess]:
    monkeypatch.setenv("TRADELAB_STATE_DIR", str(tmp_path))
    process = TansuProcess(log_path=tmp_path / "tansu.log")
    broker = process.start()
    try:
        asyncio.run(create_topics(broker.bootstrap, ALL_TOPICS))
        yield process
    finally:
        process.stop()


def zombie(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" in status.read_text()


def test_killed_broker_is_restarted_on_its_port_with_every_topic_and_its_partitions(
    tansu: TansuProcess,
) -> None:
    bootstrap = f"127.0.0.1:{tansu.port}"
    lines: list[str] = []
    broker = BrokerChild(tansu, lambda b: asyncio.run(restore_topics(b, ALL_TOPICS)))
    supervisor = Supervisor([broker], [], policy=RestartPolicy(initial_s=0.2), log=lines.append)
    old_pid = tansu.pid
    assert old_pid is not None
    assert asyncio.run(partition_counts(bootstrap, list(WANTED))) == WANTED

    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while supervisor.restarts("tansu") == 0 or not tansu.running():
        assert time.monotonic() < deadline, lines
        supervisor.tick()
        time.sleep(0.05)

    assert tansu.pid != old_pid
    assert not zombie(old_pid), "the killed broker was never reaped"
    assert tansu.port == int(bootstrap.rsplit(":", 1)[1])
    assert lines[0] == f"[tradelab] tansu exited with code {-signal.SIGKILL}; restarting in 0.2 s"
    assert lines[-1] == "[tradelab] tansu restarted (restart 1)"
    assert asyncio.run(partition_counts(bootstrap, list(WANTED))) == WANTED


def test_a_topic_auto_created_before_the_supervisor_is_created_again_with_its_count(
    tansu: TansuProcess,
) -> None:
    bootstrap = f"127.0.0.1:{tansu.port}"
    one_partition = next(spec for spec in ALL_TOPICS if spec.partitions == 1)
    tansu.stop()
    tansu.start()  # empty, as after a crash
    # A running service's client asks for the topic first: the broker auto-creates it (4).
    assert asyncio.run(partition_counts(bootstrap, [one_partition.name])) == {one_partition.name: 4}

    recreated = asyncio.run(restore_topics(bootstrap, ALL_TOPICS))

    assert recreated == [one_partition.name]
    assert asyncio.run(partition_counts(bootstrap, list(WANTED))) == WANTED
