"""Run the analytics service: ``python -m tradelab_analytics``."""

from tradelab_runtime.serve import serve

from .app import build_app
from .settings import AnalyticsSettings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = AnalyticsSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
