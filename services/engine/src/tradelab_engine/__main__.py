"""Run the engine service: ``python -m tradelab_engine``."""

from tradelab_runtime.serve import serve

from .app import build_app
from .settings import EngineSettings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = EngineSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
