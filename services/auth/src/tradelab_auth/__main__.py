"""Run the auth service: ``python -m tradelab_auth``."""

from tradelab_runtime.serve import serve

from .app import build_app
from .settings import AuthSettings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = AuthSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
