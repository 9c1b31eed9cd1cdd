"""The five service processes of the stack: start, wait for ready, stop or kill."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from .state import forget, record, state_dir

SERVICES = ("auth", "datasets", "engine", "analytics", "gateway")
SERVICES_BY_PORT = ("gateway", "auth", "datasets", "engine", "analytics")
DEFAULT_PORTS = {name: 8000 + offset for offset, name in enumerate(SERVICES_BY_PORT)}


@dataclass
class ServiceProcess:
    """``python -m tradelab_<name>`` with its environment, logging to ``.tradelab/logs``."""

    name: str
    port: int
    env: dict[str, str]
    instance: str = ""
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """Name of this process in pid and log files."""
        return f"{self.name}{'-' + self.instance if self.instance else ''}"

    @property
    def url(self) -> str:
        """Base URL of the process's HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the process writes its output."""
        return state_dir() / "logs" / f"{self.key}.log"

    @property
    def pid(self) -> int | None:
        """The running process's pid, if any."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has exited (negative: killed by that signal)."""
        return self._proc.returncode if self._proc is not None else None

    def start(self) -> None:
        """Spawn the process (in its own session, so terminal signals reach only the launcher)."""
        prefix = self.name.upper()
        env = {**os.environ, **self.env, f"{prefix}_PORT": str(self.port)}
        if self.instance:
            env[f"{prefix}_INSTANCE_ID"] = f"{self.name}-{self.instance}"
        self._close_log()  # a restart after a crash: the old handle is done with
        self._log = self.log_path.open("ab")
        argv = [sys.executable, "-m", f"tradelab_{self.name}"]
        self._proc = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            argv,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        record(self.key, self._proc.pid, argv)

    def restart(self) -> None:
        """Start the process again after it exited (what the supervisor calls)."""
        self.start()

    def running(self) -> bool:
        """Return whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def ready(self) -> bool:
        """Return whether ``/readyz`` answers 200 from this service (not a stranger on the port)."""
        try:
            response = httpx.get(f"{self.url}/readyz", timeout=2)
            return (
                response.status_code == httpx.codes.OK and response.json()["service"] == self.name
            )
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    def tail(self, lines: int = 30) -> str:
        """Return the end of the process's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        forget(self.key)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL at once: a crash, for failure tests."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        forget(self.key)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_until_ready(processes: list[ServiceProcess], deadline_s: float) -> None:
    """Block until every process answers ``/readyz``; fail early if one exits."""
    end = time.monotonic() + deadline_s
    pending = list(processes)
    while pending:
        for proc in list(pending):
            if not proc.running():
                msg = f"{proc.key} exited during start-up; its log ends with:\n{proc.tail()}"
                raise RuntimeError(msg)
            if proc.ready():
                pending.remove(proc)
        if pending and time.monotonic() > end:
            names = ", ".join(p.key for p in pending)
            msg = f"not ready after {deadline_s:.0f} s: {names}\n{pending[0].tail()}"
            raise TimeoutError(msg)
        if pending:
            time.sleep(0.2)
