"""Run the datasets service: ``python -m tradelab_datasets``."""

from tradelab_runtime.serve import serve

from .app import build_app
from .settings import DatasetsSettings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = DatasetsSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
