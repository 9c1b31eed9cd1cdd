"""The Dockerfile, read without Docker: the uv sync it runs, what it copies, the user it runs as."""

import importlib.util
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.deploy.files import (
    REPO,
    SETTINGS,
    DockerIgnore,
    Instruction,
    copy_sources,
    dockerfile_instructions,
    exec_form,
    files_under,
    service_names,
    stage_args,
    substitute_args,
    uv_sync_commands,
)

HADOLINT = Path(sysconfig.get_path("scripts")) / "hadolint"


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return dockerfile_instructions((REPO / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ignore() -> DockerIgnore:
    return DockerIgnore.read(REPO / ".dockerignore")


def final_stage(instructions: list[Instruction]) -> int:
    return max(i.stage for i in instructions)


def test_every_stage_starts_from_python_3_11_slim(instructions: list[Instruction]) -> None:
    bases = [i.arguments.split()[0] for i in instructions if i.keyword == "FROM"]
    assert len(bases) == 2  # build and runtime
    assert all(base.startswith("python:3.11-slim") for base in bases), bases


def test_uv_sync_is_frozen_without_dev_dependencies(instructions: list[Instruction]) -> None:
    commands = uv_sync_commands(instructions)
    assert len(commands) == 2  # third-party dependencies, then the workspace packages
    for tokens in commands:
        assert "--frozen" in tokens, tokens
        assert "--no-dev" in tokens, tokens
        assert not {"--dev", "--only-dev", "--all-groups", "--group"} & set(tokens), tokens
        assert "--all-packages" not in tokens  # the dev stack and CLI stay out of the image


def test_uv_sync_installs_exactly_the_five_services(instructions: list[Instruction]) -> None:
    for tokens in uv_sync_commands(instructions):
        packages = {tokens[i + 1] for i, token in enumerate(tokens) if token == "--package"}
        assert packages == {f"tradelab-{name}" for name in service_names()}


def test_workspace_is_installed_as_wheels_not_editable(instructions: list[Instruction]) -> None:
    last = uv_sync_commands(instructions)[-1]
    assert "--no-editable" in last  # the runtime stage copies /opt/venv alone, not the sources


def test_every_copied_path_exists_and_reaches_the_build_context(
    instructions: list[Instruction], ignore: DockerIgnore
) -> None:
    copies = [i for i in instructions if i.keyword in {"COPY", "ADD"}]
    sources = [source for copy in copies for source in copy_sources(copy)]
    assert sources
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: no such path in the repository"
        assert not ignore.excludes(source), f"COPY {source}: excluded by .dockerignore"
        if path.is_dir():
            wanted = [p for p in files_under(path) if "tests" not in p.parts]
            assert wanted
            left_out = [p for p in wanted if ignore.excludes(p.relative_to(REPO).as_posix())]
            assert not left_out, f"COPY {source}: .dockerignore leaves out {left_out[:3]}"


def test_every_workspace_manifest_is_copied_before_the_first_uv_sync(
    instructions: list[Instruction],
) -> None:
    first_sync = next(
        n for n, i in enumerate(instructions) if i.keyword == "RUN" and "uv sync" in i.arguments
    )
    copied = {
        source
        for i in instructions[:first_sync]
        if i.keyword == "COPY"
        for source in copy_sources(i)
    }
    members = ["pyproject.toml", "uv.lock"] + [
        p.relative_to(REPO).as_posix()
        for folder in ("libs", "tools", "services")
        for p in sorted((REPO / folder).glob("*/pyproject.toml"))
    ]
    assert set(members) <= copied, set(members) - copied


def test_build_context_leaves_out_secrets_and_local_state(ignore: DockerIgnore) -> None:
    for path in (".env", ".venv/bin/python", ".git/config", ".tradelab/logs/a.log"):
        assert ignore.excludes(path), path
    assert ignore.excludes("services/engine/tests/unit/test_x.py")
    assert not ignore.excludes("services/engine/src/tradelab_engine/__main__.py")
    assert not ignore.excludes("tools/cli/pyproject.toml")
    assert ignore.excludes("tools/cli/src/tradelab_cli/__init__.py")


def test_runtime_stage_runs_as_an_unprivileged_user(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    users = [i.arguments for i in instructions if i.stage == stage and i.keyword == "USER"]
    assert len(users) == 1
    user = substitute_args(users[0], stage_args(instructions, stage))
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes can check runAsNonRoot against the image.
    assert uid.isdigit(), user
    assert gid.isdigit(), user
    assert int(uid) > 0
    assert int(gid) > 0


def test_default_command_runs_a_service_module(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    cmds = [i.arguments for i in instructions if i.stage == stage and i.keyword == "CMD"]
    assert len(cmds) == 1
    command = exec_form(cmds[0])
    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(f"{command[2]}.__main__") is not None


def test_image_exposes_every_service_port(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    exposed = {
        int(port)
        for i in instructions
        if i.stage == stage and i.keyword == "EXPOSE"
        for port in i.arguments.split()
    }
    defaults = {cls.model_fields["port"].default for cls in SETTINGS.values()}
    assert defaults == exposed


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = subprocess.run(
        [str(HADOLINT), "--no-color", "Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_hadolint_does_lint(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n", encoding="utf-8")
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # the `latest` tag
