"""The ``.tradelab/`` directory: logs, pid files and throwaway data of the local stack.

Every process the stack starts is recorded in a pid file with its command line, so that a later
start can end what a crashed run left behind without touching unrelated processes.
"""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tradelab_runtime.sealing import BusKeys


def state_dir() -> Path:
    """Return the state directory (``TRADELAB_STATE_DIR`` or ``./.tradelab``), created."""
    root = Path(os.environ.get("TRADELAB_STATE_DIR", ".tradelab")).resolve()
    for sub in ("logs", "pids"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


BROKER = "tansu"
SIGNING_KEY_FILE = "auth-signing-key.pem"
BUS_KEYS_FILE = "bus-keys"


def dev_signing_key() -> str:
    """The local stack's auth signing key (PEM), made once and kept in the state directory.

    Auth signs with an ephemeral key when ``AUTH_SIGNING_KEYS`` is empty, so every restart of
    auth (``make up`` restarts it when it dies, and with the broker) would log every user out.
    The key is the local stack's own, never a production one: production refuses to start
    without ``AUTH_SIGNING_KEYS`` from its environment.
    """
    path = state_dir() / SIGNING_KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        _write_private(path, pem)
    return path.read_text(encoding="ascii")


def _write_private(path: Path, data: bytes) -> None:
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.touch(mode=0o600)
    scratch.write_bytes(data)
    scratch.replace(path)  # two launchers at once: one wins, both read it


def dev_bus_keys() -> str:
    """The local stack's bus key (``BUS_KEYS`` of gateway and auth), made once and kept in the
    state directory, so the secrets they exchange are sealed with a key of this machine's own
    rather than the well-known development key."""
    path = state_dir() / BUS_KEYS_FILE
    if not path.exists():
        _write_private(path, BusKeys.generate_entry("local").encode())
    return path.read_text(encoding="ascii").strip()


def _cmdline(pid: int) -> str | None:
    """Return the command line of a live process, None once it is gone (or a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if "\nState:\tZ" in status:
        return None
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def record(name: str, pid: int, argv: list[str]) -> None:
    """Remember that ``name`` runs as ``pid`` with ``argv``.

    ``argv`` is what was launched, not read back from /proc: right after fork the child still
    shows the parent's command line.
    """
    (state_dir() / "pids" / f"{name}.pid").write_text(f"{pid}\n{' '.join(argv)}\n")


def forget(name: str) -> None:
    """Drop the pid file of ``name``."""
    (state_dir() / "pids" / f"{name}.pid").unlink(missing_ok=True)


def stop_recorded(name: str, proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc``, started here and recorded as ``name``: SIGTERM, SIGKILL if it lingers past
    10 s, then drop its pid file."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    forget(name)


def _wait_gone(pid: int, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if _cmdline(pid) is None:
            return True
        time.sleep(0.05)
    return False


def reap_leftovers() -> list[str]:
    """End processes recorded by an earlier run that did not stop cleanly; return their names."""
    ended: list[str] = []
    # Services first, the broker last, so services can still say goodbye on their way out.
    pid_files = sorted(
        (state_dir() / "pids").glob("*.pid"), key=lambda p: (p.stem == BROKER, p.stem)
    )
    for pid_file in pid_files:
        recorded = _read_pid_file(pid_file)
        # Only a process with the same command line is ours: pids are reused.
        if recorded is not None and _cmdline(recorded[0]) == recorded[1]:
            _end(recorded[0])
            ended.append(pid_file.stem)
        pid_file.unlink(missing_ok=True)
    return ended


def _read_pid_file(pid_file: Path) -> tuple[int, str] | None:
    """Return the pid and command line a pid file records; None when it is gone or garbled.

    Another launcher stopping at the same moment may delete the file between our listing and
    our reading it, and a crash may leave it half-written.
    """
    try:
        lines = pid_file.read_text().splitlines()
        pid, cmd = int(lines[0]), (lines[1] if len(lines) > 1 else "")
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        return None
    if pid <= 0 or not cmd:
        return None
    return pid, cmd


def _end(pid: int) -> None:
    """SIGTERM ``pid``, SIGKILL it if it lingers; a process already gone is fine."""
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    if not _wait_gone(pid, 10):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)
