"""``tradelab login``, ``register`` and ``logout``."""

import sys
from typing import Annotated, Any

import typer

from tradelab_cli.client import ApiError, ServerUnreachableError
from tradelab_cli.config import Config, config_path, save_config
from tradelab_cli.render import Output
from tradelab_cli.session import JsonOption, Session, handle_errors, session_of

ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="Gateway URL to log in to (stored for later commands)."),
]
EmailOption = Annotated[str | None, typer.Option("--email", help="Account e-mail address.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _password(from_stdin: bool, confirm: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise typer.BadParameter("no password on standard input", param_hint="--password-stdin")
        return password
    answer: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return answer


def _start_session(
    session: Session, path: str, server: str | None, email: str | None, password: str
) -> tuple[str, dict[str, Any]]:
    """POST the credentials and store the server and the token pair; return server and reply."""
    url = session.server(server)
    with session.client(url, authenticated=False) as api:
        reply: dict[str, Any] = api.post(path, {"email": email, "password": password}, auth=False)
    stored = Config(
        server=url,
        email=str(reply.get("user", {}).get("email") or email),
        access_token=str(reply["access_token"]),
        refresh_token=str(reply["refresh_token"]),
    )
    save_config(stored)
    return url, reply


def _report(out: Output, verb: str, server: str, reply: dict[str, Any]) -> None:
    user = reply.get("user") or {}
    if out.json_mode:
        out.emit({"server": server, "user": user, "config": str(config_path())})
    else:
        out.show(f"{verb} as [bold]{user.get('email')}[/bold] on {server}")


@handle_errors
def login(
    ctx: typer.Context,
    server: ServerOption = None,
    email: EmailOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Log in and remember the server and tokens (config file readable by you only)."""
    session = session_of(ctx)
    email = email or session.config().email or typer.prompt("E-mail")
    password = _password(password_stdin, confirm=False)
    url, reply = _start_session(session, "/auth/login", server, email, password)
    _report(Output(json_output), "Logged in", url, reply)


@handle_errors
def register(
    ctx: typer.Context,
    server: ServerOption = None,
    email: EmailOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Create an account and log in with it."""
    session = session_of(ctx)
    email = email or typer.prompt("E-mail")
    password = _password(password_stdin, confirm=True)
    url, reply = _start_session(session, "/auth/register", server, email, password)
    _report(Output(json_output), "Registered and logged in", url, reply)


@handle_errors
def logout(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Revoke the refresh token on the server and forget the tokens here."""
    out = Output(json_output)
    session = session_of(ctx)
    config = session.config()
    revoked = False
    if config.refresh_token:
        try:
            with session.client() as api:
                api.post("/auth/logout", {"refresh_token": config.refresh_token}, auth=False)
            revoked = True
        except (ApiError, ServerUnreachableError) as exc:
            out.note(f"The server did not revoke the session ({exc}); forgetting it here anyway.")
    save_config(config.logged_out())
    if out.json_mode:
        out.emit({"logged_out": True, "revoked": revoked})
    else:
        out.show("Logged out.")
