"""Read the deployment files the way their tools do: compose's interpolation, the Dockerfile's
instructions and .dockerignore patterns, multi-document Kubernetes YAML."""

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradelab_analytics.settings import AnalyticsSettings
from tradelab_auth.settings import AuthSettings
from tradelab_datasets.settings import DatasetsSettings
from tradelab_engine.settings import EngineSettings
from tradelab_gateway.settings import GatewaySettings
from tradelab_runtime.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "k8s"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "auth": AuthSettings,
    "datasets": DatasetsSettings,
    "engine": EngineSettings,
    "analytics": AnalyticsSettings,
}
"""Each service (a folder of services/) and the settings class its ``__main__`` reads."""


def service_names() -> list[str]:
    """Name the services of the workspace (folders of services/ with a pyproject.toml)."""
    return sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))


def uses_object_store(service: str) -> bool:
    """Tell whether a service's code opens the object store (and so needs its volume)."""
    sources = (REPO / "services" / service / "src").rglob("*.py")
    return any("object_store_url" in path.read_text(encoding="utf-8") for path in sources)


def load_yaml(path: Path) -> Any:
    """Parse one YAML document."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document held in a string (e.g. an inline kustomize patch)."""
    return yaml.safe_load(text)


def load_yaml_documents(path: Path) -> list[Any]:
    """Parse every non-empty document of a YAML stream."""
    docs = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return [doc for doc in docs if doc is not None]


# --- environment -----------------------------------------------------------------------------


def settings_from_env(
    monkeypatch: pytest.MonkeyPatch, service: str, env: Mapping[str, str]
) -> ServiceSettings:
    """Build a service's real settings from exactly ``env`` (nothing leaks in from this process).

    Raises
    ------
    pydantic.ValidationError
        If the settings refuse the environment, as the service would at start.
    """
    prefixes = tuple(f"{name.upper()}_" for name in SETTINGS)
    shared = {name.upper() for name in ServiceSettings.SHARED_FIELDS}
    for key in list(os.environ):
        upper = key.upper()
        if upper.startswith(prefixes) or upper in shared or upper.startswith("PG"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return SETTINGS[service]()


def generate_signing_key(*args: str) -> str:
    """Run scripts/generate-signing-key and return what it prints."""
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate-signing-key"), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def generate_bus_key(*args: str) -> str:
    """Run scripts/generate-bus-key and return the entry (or line) it prints."""
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate-bus-key"), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines (comments and blank lines skipped) of a .env file."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition("=")
            values[key.strip()] = value.strip()
    return values


# --- docker compose --------------------------------------------------------------------------


class MissingVariableError(ValueError):
    """A ``${NAME:?message}`` variable is unset or empty: compose refuses to start."""


_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_]\w*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


def _expand(expression: str, env: Mapping[str, str]) -> str:
    match = _BRACED.fullmatch(expression)
    if match is None:
        msg = f"invalid interpolation ${{{expression}}}"
        raise ValueError(msg)
    name, op, arg = match["name"], match["op"], match["arg"] or ""
    is_set, value = name in env, env.get(name, "")
    present = bool(value) if op and op.startswith(":") else is_set
    if op in {":?", "?"}:
        if not present:
            raise MissingVariableError(f"{name}: {arg}")
        return value
    if op in {":-", "-"}:
        return value if present else interpolate(arg, env)
    if op in {":+", "+"}:
        return interpolate(arg, env) if present else ""
    return value


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute ``$NAME``, ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` (and the
    forms without colon) and ``$$`` as docker compose does."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        return _expand(match["braced"], env)

    return _VARIABLE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string value of a parsed compose file."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def required_variables(text: str) -> set[str]:
    """Name the variables a compose file requires (``${NAME:?...}``)."""
    return set(re.findall(r"\$\{([A-Za-z_]\w*):?\?", text))


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """The ``environment`` of a compose service as strings, as compose hands it to the process."""
    raw = service.get("environment", {})
    assert isinstance(raw, dict), "environment must be a mapping in this file"
    env: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            env[key] = "true" if value else "false"
        elif value is not None:
            env[key] = str(value)
    return env


# --- Dockerfile ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined and comments dropped."""

    keyword: str
    arguments: str
    stage: int
    """Index of the build stage (the FROM) it belongs to."""


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions (the default ``\\`` escape character)."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        if line.strip().startswith("#") or (not line.strip() and not current):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    instructions: list[Instruction] = []
    stage = -1
    for entry in logical:
        keyword, _, arguments = entry.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return instructions


def exec_form(arguments: str) -> list[str]:
    """Parse a JSON (exec form) argument list such as CMD's."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"not an exec form list: {arguments}"
    return [str(item) for item in parsed]


def substitute_args(text: str, args: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` and ``$NAME`` with build argument defaults."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def stage_env(instructions: list[Instruction], stage: int) -> dict[str, str]:
    """The ENV values a stage sets (what a container of the final stage starts with)."""
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.stage == stage and instruction.keyword == "ENV":
            for token in shlex.split(instruction.arguments):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def stage_args(instructions: list[Instruction], stage: int) -> dict[str, str]:
    """The default values of the ARGs declared in a stage."""
    args: dict[str, str] = {}
    for instruction in instructions:
        if instruction.stage == stage and instruction.keyword == "ARG":
            name, _, default = instruction.arguments.partition("=")
            args[name] = default
    return args


def uv_sync_commands(instructions: list[Instruction]) -> list[list[str]]:
    """Every ``uv sync`` command line run by a RUN instruction, as tokens."""
    commands: list[list[str]] = []
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        for part in re.split(r"&&|;|\|\|", instruction.arguments):
            tokens = shlex.split(part)
            if tokens[:2] == ["uv", "sync"]:
                commands.append(tokens)
    return commands


def copy_sources(instruction: Instruction) -> list[str]:
    """The build-context paths a COPY or ADD reads (none for ``--from``)."""
    tokens = shlex.split(instruction.arguments)
    if any(token.startswith("--from") for token in tokens):
        return []
    paths = [token for token in tokens if not token.startswith("--")]
    return paths[:-1]


# --- .dockerignore ---------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@dataclass(frozen=True, slots=True)
class DockerIgnore:
    """The patterns of a .dockerignore, matched as BuildKit does: the last pattern that matches
    a path or one of its parent folders decides, ``!`` re-includes."""

    rules: tuple[tuple[bool, re.Pattern[str]], ...]

    @classmethod
    def read(cls, path: Path) -> "DockerIgnore":
        """Parse a .dockerignore file."""
        rules: list[tuple[bool, re.Pattern[str]]] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            pattern = line.strip()
            if not pattern or pattern.startswith("#"):
                continue
            negated = pattern.startswith("!")
            pattern = pattern.removeprefix("!").strip().strip("/")
            rules.append((negated, _pattern_regex(pattern)))
        return cls(tuple(rules))

    def excludes(self, relative: str) -> bool:
        """Tell whether a path of the build context (relative, ``/``-separated) is left out."""
        parts = relative.strip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for negated, regex in self.rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                excluded = not negated
        return excluded


def files_under(folder: Path) -> Iterator[Path]:
    """Every file below ``folder`` that git would see (no caches, no virtual environments)."""
    skipped = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"}
    for path in folder.rglob("*"):
        if path.is_file() and not skipped.intersection(path.relative_to(REPO).parts):
            yield path
