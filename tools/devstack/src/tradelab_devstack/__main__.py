"""``tradelab-dev``: run the whole stack locally in the foreground (``make up``)."""

import argparse
import signal
import sys
import time
from types import FrameType

from .services import SERVICES_BY_PORT
from .stack import Stack, env_flag, running_stack

RESTART_BACKOFF_S = 5.0


class _Stop(Exception):
    """Raised from the signal handler to leave the stack's context cleanly."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # Ctrl-C reaches make, uv and us, and uv forwards it again: a second signal must not cut the
    # clean-up short, so once stopping has begun further signals are ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def _supervise(stack: Stack) -> None:
    """Restart a service that died, at most once per back-off period, until stopped."""
    last_restart: dict[str, float] = {}
    while True:
        time.sleep(1)
        for name, proc in stack.processes.items():
            if proc.running():
                continue
            now = time.monotonic()
            if now - last_restart.get(name, 0.0) < RESTART_BACKOFF_S:
                continue
            print(f"[tradelab] {name} exited; restarting (log: {proc.log_path})", flush=True)
            last_restart[name] = now
            proc.start()


def ports_from(base: int) -> dict[str, int]:
    """Give the gateway ``base`` and the other services the ports after it."""
    return {name: base + offset for offset, name in enumerate(SERVICES_BY_PORT)}


def up(args: argparse.Namespace) -> None:
    """Bring the stack up, print where it is, and keep it running until a signal."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print("[tradelab] starting PostgreSQL, the broker and five services...", flush=True)
    try:
        with running_stack(
            database=args.database,
            allow_docker=env_flag("TRADELAB_USE_DOCKER"),
            ready_deadline_s=args.timeout,
            ports=ports_from(args.port_base),
        ) as (infra, stack):
            print(
                f"[tradelab] ready in {stack.startup_s:.1f} s\n"
                f"  gateway   {stack.gateway_url}\n"
                f"  health    {stack.gateway_url}/api/v1/system/health\n"
                f"  postgres  {infra.postgres.source}: {stack.database_url}\n"
                f"  kafka     {infra.kafka.source}: {stack.kafka_bootstrap}\n"
                "  logs      .tradelab/logs/\n"
                "Press Ctrl-C to stop.",
                flush=True,
            )
            _supervise(stack)
    except _Stop as stop:
        print(f"[tradelab] {stop}: stopped every process it started.", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``tradelab-dev``."""
    parser = argparse.ArgumentParser(prog="tradelab-dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the whole stack in the foreground")
    up_parser.add_argument("--database", default="tradelab", help="database name to use")
    up_parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for ready")
    up_parser.add_argument(
        "--port-base", type=int, default=8000, help="gateway port; the others follow it"
    )
    up_parser.set_defaults(func=up)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (RuntimeError, TimeoutError) as exc:
        print(f"[tradelab] failed: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
