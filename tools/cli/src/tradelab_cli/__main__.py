"""``tradelab`` / ``python -m tradelab_cli``."""

from tradelab_cli.cli import app


def main() -> None:
    """Run the command line client."""
    app()


if __name__ == "__main__":
    main()
