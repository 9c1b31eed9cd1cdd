"""What every command shares: the server, the stored tokens, and how errors end the program."""

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ParamSpec

import httpx
import typer

from tradelab_cli.client import ApiClient, ApiError, ServerUnreachableError
from tradelab_cli.config import (
    DEFAULT_SERVER,
    Config,
    ConfigError,
    load_config,
    normalise_server,
    save_config,
)
from tradelab_cli.render import Output

P = ParamSpec("P")
EXIT_FAILED = 1
EXIT_UNREACHABLE = 2
EXIT_INTERRUPTED = 130

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON only (no colours, no progress).")
]


@dataclass
class Session:
    """Global options, and the API client built from them and the stored configuration."""

    server_option: str | None = None
    transport: httpx.BaseTransport | None = None  # tests pass httpx.MockTransport
    sleep: Callable[[float], None] = time.sleep  # between retried submissions; tests record it

    def config(self) -> Config:
        """The stored configuration."""
        return load_config()

    def server(self, explicit: str | None = None) -> str:
        """``explicit``, else ``--server`` / ``$TRADELAB_SERVER``, else the stored URL."""
        chosen = explicit or self.server_option or self.config().server or DEFAULT_SERVER
        return normalise_server(chosen)

    def client(self, server: str | None = None, *, authenticated: bool = True) -> ApiClient:
        """An API client; refreshed tokens are written back to the configuration."""
        config = self.config()

        def store(access_token: str, refresh_token: str) -> None:
            save_config(load_config().with_tokens(access_token, refresh_token))

        return ApiClient(
            self.server(server),
            access_token=config.access_token if authenticated else None,
            refresh_token=config.refresh_token if authenticated else None,
            on_tokens=store,
            transport=self.transport,
            sleep=self.sleep,
        )


def session_of(ctx: typer.Context) -> Session:
    """The session the root callback put on the context."""
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        root.obj = Session()
    return root.obj


def handle_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Turn refused requests into exit 1 and an unreachable server into exit 2.

    The command's ``json_output`` argument decides whether errors are also written as JSON.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        out = Output(bool(kwargs.get("json_output", False)))
        try:
            command(*args, **kwargs)
        except ApiError as exc:
            out.problem(exc)
            raise typer.Exit(EXIT_FAILED) from None
        except ServerUnreachableError as exc:
            out.unreachable(exc)
            raise typer.Exit(EXIT_UNREACHABLE) from None
        except ConfigError as exc:
            out.failure(str(exc))
            raise typer.Exit(EXIT_FAILED) from None

    return run
