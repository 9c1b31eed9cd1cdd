"""``tradelab-dev``: run the whole stack locally in the foreground (``make up``)."""

import argparse
import asyncio
import signal
import sys
from types import FrameType

from tradelab_contracts.topics import ALL_TOPICS

from .services import SERVICES_BY_PORT
from .stack import Infrastructure, Stack, env_flag, restore_topics, running_stack
from .supervisor import BrokerChild, Supervisor


class _Stop(Exception):
    """Raised from the signal handler to leave the stack's context cleanly."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # Ctrl-C reaches make, uv and us, and uv forwards it again: a second signal must not cut the
    # clean-up short, so once stopping has begun further signals are ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def _supervisor(infra: Infrastructure, stack: Stack) -> Supervisor:
    """Watch the broker started here (not one given by ``KAFKA_BOOTSTRAP`` or Docker) and every
    service."""
    broker = infra.kafka.process
    infrastructure = [BrokerChild(broker, _topics_again)] if broker is not None else []
    return Supervisor(infrastructure, list(stack.processes.values()))


def _topics_again(bootstrap: str) -> None:
    recreated = asyncio.run(restore_topics(bootstrap, ALL_TOPICS))
    print(f"[tradelab] {len(ALL_TOPICS)} topics created on {bootstrap}", flush=True)
    if recreated:
        print(f"[tradelab] auto-created before us, created again: {recreated}", flush=True)


def ports_from(base: int) -> dict[str, int]:
    """Give the gateway ``base`` and the other services the ports after it."""
    return {name: base + offset for offset, name in enumerate(SERVICES_BY_PORT)}


def up(args: argparse.Namespace) -> None:
    """Bring the stack up, print where it is, and keep it running until a signal."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print("[tradelab] starting PostgreSQL, the broker, Redis and five services...", flush=True)
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
                f"  redis     {infra.redis.source}: {infra.redis.url}\n"
                "  logs      .tradelab/logs/\n"
                "Press Ctrl-C to stop.",
                flush=True,
            )
            _supervisor(infra, stack).run()
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
