"""Run the gateway: ``python -m tradelab_gateway``."""

from tradelab_runtime.serve import serve

from .app import build_app
from .settings import GatewaySettings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = GatewaySettings()
    serve(build_app(settings), settings, ws_max_size=settings.ws_max_message_bytes)


if __name__ == "__main__":
    main()
