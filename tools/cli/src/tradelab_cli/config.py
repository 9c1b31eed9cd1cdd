"""The client's state: server URL and tokens, in a JSON file only its owner can read."""

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

CONFIG_DIR_ENV = "TRADELAB_CONFIG_DIR"
CONFIG_FILE = "config.json"
DEFAULT_SERVER = "http://127.0.0.1:8000"
FILE_MODE = 0o600
DIR_MODE = 0o700


class ConfigError(Exception):
    """The configuration file or a server URL cannot be used."""


@dataclass(frozen=True)
class Config:
    """What ``tradelab login`` remembers."""

    server: str | None = None
    email: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None

    def with_tokens(self, access_token: str, refresh_token: str) -> "Config":
        """Return a copy holding a new token pair (refresh tokens rotate)."""
        return replace(self, access_token=access_token, refresh_token=refresh_token)

    def logged_out(self) -> "Config":
        """Return a copy without tokens (the server URL and e-mail stay)."""
        return replace(self, access_token=None, refresh_token=None)


def config_dir() -> Path:
    """``$TRADELAB_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/tradelab``, else ``~/.config/tradelab``."""
    explicit = os.environ.get(CONFIG_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tradelab"


def config_path() -> Path:
    """The configuration file."""
    return config_dir() / CONFIG_FILE


def normalise_server(url: str) -> str:
    """Return ``url`` without trailing slash, ``http://`` added when no scheme is given."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"Not an http(s) server URL: {url!r}")
    return url


def load_config(path: Path | None = None) -> Config:
    """Read the configuration; a missing file is an empty configuration."""
    path = path or config_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"Cannot read {path}: not a JSON object")
    fields = Config.__dataclass_fields__
    return Config(**{k: str(v) for k, v in raw.items() if k in fields and v is not None})


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write the configuration atomically, readable by its owner only (0600 in a 0700 folder)."""
    path = path or config_path()
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.parent.chmod(DIR_MODE)
    staging = path.with_name(f".{path.name}.tmp")
    # Created 0600 from the start (never briefly world-readable), and forced to 0600 when a
    # leftover staging file already existed with other permissions.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            json.dump(asdict(config), handle, indent=2)
            handle.write("\n")
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(staging, path)
    path.chmod(FILE_MODE)
    return path
