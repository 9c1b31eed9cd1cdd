"""The per-service Kafka access (tradelab_contracts.access) against what each service really
subscribes to, and the committed users/topics/ACLs script against its generator."""

import importlib
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.deploy.files import K8S, REPO, load_yaml, load_yaml_documents, service_names
from tradelab_contracts.access import REPLY_TOPIC_PREFIX, SERVICE_ACCESS, ServiceAccess
from tradelab_contracts.topics import ALL_TOPICS, AUTH_REQUESTS, is_reply_topic
from tradelab_runtime import service_app
from tradelab_runtime.service_app import Runtime
from tradelab_runtime.settings import ServiceSettings

SCRIPT = K8S / "kafka-access.sh"
ACCESS = {access.service: access for access in SERVICE_ACCESS}
ACL = re.compile(
    r"^k kafka-acls --add --allow-principal User:(?P<who>\w+) (?P<ops>(?:--operation \w+ ?)+)"
    r"--(?P<kind>topic|group) (?P<name>[\w.-]+)(?P<prefixed> --resource-pattern-type prefixed)?$"
)


def generated_script() -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "kafka-access")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def acl_grants() -> dict[str, dict[tuple[str, str, bool], set[str]]]:
    """principal -> (kind, name, prefixed) -> operations, from the committed script."""
    grants: dict[str, dict[tuple[str, str, bool], set[str]]] = {}
    for line in SCRIPT.read_text(encoding="utf-8").splitlines():
        if (m := ACL.match(line)) is not None:
            ops = set(re.findall(r"--operation (\w+)", m["ops"]))
            key = (m["kind"], m["name"], m["prefixed"] is not None)
            grants.setdefault(m["who"], {}).setdefault(key, set()).update(ops)
    return grants


def subscriptions(monkeypatch: pytest.MonkeyPatch, service: str) -> tuple[set[str], set[str]]:
    """The topics and consumer groups the service's app subscribes to (built, not started)."""
    app_module = importlib.import_module(f"tradelab_{service}.app")
    settings_module = importlib.import_module(f"tradelab_{service}.settings")
    (settings_cls,) = [
        v
        for v in vars(settings_module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    built: list[Runtime] = []

    def capture(*args: Any, **kwargs: Any) -> Runtime:
        runtime = service_app.create_runtime(*args, **kwargs)
        built.append(runtime)
        return runtime

    monkeypatch.setattr(app_module, "create_runtime", capture)
    app_module.build_app(settings_cls(instance_id="probe-1"))
    topics: set[str] = set()
    groups: set[str] = set()
    for subscriber in built[0].broker.subscribers:
        # Kafka subscribers carry topics and group_id; the generic type FastStream declares
        # does not name them.
        found: Any = subscriber
        topics |= {t if isinstance(t, str) else t.name for t in found.topics}
        groups.add(found.group_id)
    return {t for t in topics if not is_reply_topic(t)}, groups


def test_committed_access_script_is_what_the_generator_prints() -> None:
    assert SCRIPT.read_text(encoding="utf-8") == generated_script()
    subprocess.run(["sh", "-n", str(SCRIPT)], check=True, timeout=30)


def test_every_service_has_exactly_one_access_entry() -> None:
    assert sorted(a.service for a in SERVICE_ACCESS) == sorted(service_names())


@pytest.mark.parametrize("service", service_names())
def test_access_lists_exactly_what_the_service_subscribes_to(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    topics, groups = subscriptions(monkeypatch, service)
    assert topics == set(ACCESS[service].consumes)
    assert all(group.startswith(ACCESS[service].group_prefix) for group in groups)


@pytest.mark.parametrize("service", service_names())
def test_script_grants_each_service_only_its_own_topics_and_groups(service: str) -> None:
    access: ServiceAccess = ACCESS[service]
    grants = acl_grants()[service]
    expected: dict[tuple[str, str, bool], set[str]] = {}
    for name in access.consumes:
        expected.setdefault(("topic", name, False), set()).update({"Read", "Describe"})
    for name in access.produces:
        expected.setdefault(("topic", name, False), set()).update({"Write", "Describe"})
    expected[("group", service, True)] = {"Read", "Describe"}
    reply_ops = {"Write", "Describe"}
    if not access.responds:
        reply_ops |= {"Read", "Create", "Delete"}
    expected[("topic", REPLY_TOPIC_PREFIX, True)] = reply_ops
    assert grants == expected
    # Only the gateway writes request topics; a service cannot forge requests to another.
    writes = {name for (kind, name, _), ops in grants.items() if kind == "topic" and "Write" in ops}
    if service != "gateway":
        assert not {name for name in writes if ".rpc.request." in name}


def test_script_creates_every_topic_and_gives_auth_requests_short_retention() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    for spec in ALL_TOPICS:
        assert f"--topic {spec.name} --partitions {spec.partitions} " in text
    (auth,) = [s for s in ALL_TOPICS if s.name == AUTH_REQUESTS]
    assert dict(auth.configs)["retention.ms"] in text
    assert f"--entity-name {AUTH_REQUESTS} --add-config retention.ms=" in text
    for service in service_names():
        assert f'--entity-name {service} --add-config "SCRAM-SHA-512=' in text


def test_k8s_job_runs_the_script_with_every_service_password() -> None:
    (job,) = load_yaml_documents(K8S / "kafka-access.yaml")
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert "kafka-access.yaml" in kustomization["resources"]
    (generated,) = kustomization["configMapGenerator"]
    assert generated["files"] == [SCRIPT.name]
    pod = job["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    script_dir = main["command"][-1].rsplit("/", 1)[0]
    assert volumes[mounts[script_dir]]["configMap"]["name"] == generated["name"]
    env = {e["name"]: e for e in main["env"]}
    for service in service_names():
        ref = env[f"SCRAM_PASSWORD_{service.upper()}"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (
            "tradelab-secrets",
            f"KAFKA_PASSWORD_{service.upper()}",
        )
    assert env["ADMIN_CONFIG"]["value"].startswith("/etc/tradelab-kafka-admin/")
