"""infra/k8s: every object against the Kubernetes API models, the kustomization, and each
Deployment's environment against its service's real settings class."""

import copy
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from pydantic import ValidationError

from tests.deploy.files import (
    K8S,
    REPO,
    dockerfile_instructions,
    generate_bus_key,
    generate_signing_key,
    load_yaml,
    load_yaml_documents,
    load_yaml_text,
    service_names,
    settings_from_env,
    stage_env,
    uses_object_store,
)
from tests.deploy.k8s_models import object_problems, type_problems
from tradelab_gateway.settings import GatewaySettings

Manifest = dict[str, Any]

KUSTOMIZATION_KEYS = {
    "apiVersion", "kind", "namespace", "resources", "components", "images", "labels",
    "commonAnnotations", "patches", "configMapGenerator", "secretGenerator", "replicas",
}  # fmt: skip
INFRASTRUCTURE = {"redis"}
"""Deployments of other images than tradelab's (Kafka and PostgreSQL run outside the manifests)."""
SECRET_TEST_VALUES = {
    "PGPASSWORD": "a-test-password",
    **{f"KAFKA_PASSWORD_{name.upper()}": f"{name}-kafka-test-password" for name in service_names()},
}
CONTAINER_TMP = "/tmp"  # noqa: S108 (a path inside the containers; this test writes nothing)


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    return [doc for path in manifest_files() for doc in load_yaml_documents(path)]


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def image_env() -> dict[str, str]:
    instructions = dockerfile_instructions((REPO / "Dockerfile").read_text(encoding="utf-8"))
    return stage_env(instructions, max(i.stage for i in instructions))


def pod_spec(deployment: Manifest) -> Manifest:
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def container(deployment: Manifest) -> Manifest:
    (only,) = pod_spec(deployment)["containers"]
    assert isinstance(only, dict)
    return only


def named_port(deployment: Manifest, port: int | str) -> int:
    """Resolve a probe's or Service's port (a number or the container port's name)."""
    if isinstance(port, int):
        return port
    (match,) = [p["containerPort"] for p in container(deployment)["ports"] if p["name"] == port]
    assert isinstance(match, int)
    return match


def pod_env(
    objects: list[Manifest], image_env: dict[str, str], deployment: Manifest, secrets: Manifest
) -> dict[str, str]:
    """What the container sees: image ENV, then envFrom ConfigMaps, then env (which wins)."""
    env = dict(image_env)
    main = container(deployment)
    for source in main.get("envFrom", []):
        env.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in main.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secrets["metadata"]["name"]
            env[entry["name"]] = secrets["stringData"][ref["key"]]
    return env


@pytest.fixture(scope="module")
def test_secret(objects: list[Manifest]) -> Manifest:
    """The Secret template filled in as an operator would (a fresh key from the script)."""
    secret = copy.deepcopy(find(objects, "Secret", "tradelab-secrets"))
    secret["stringData"] = {
        **SECRET_TEST_VALUES,
        "AUTH_SIGNING_KEYS": generate_signing_key(),
        "BUS_KEYS": generate_bus_key(),
    }
    return secret


def test_every_manifest_object_matches_the_kubernetes_api(objects: list[Manifest]) -> None:
    kinds = sorted(o["kind"] for o in objects)
    expected = len(service_names()) + len(INFRASTRUCTURE)
    assert kinds.count("Deployment") == kinds.count("Service") == expected
    assert {"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim"} <= set(kinds)
    assert "HorizontalPodAutoscaler" in kinds
    problems = [problem for o in objects for problem in object_problems(o)]
    assert problems == []


def _unknown_field(d: Manifest) -> None:
    container(d)["imagePullPolicyy"] = "Always"


def _wrong_type(d: Manifest) -> None:
    container(d)["ports"][0]["containerPort"] = "8003"


def _missing_required(d: Manifest) -> None:
    del container(d)["name"]


def _python_name_instead_of_wire_name(d: Manifest) -> None:
    port = container(d)["ports"][0]
    port["container_port"] = port.pop("containerPort")


def _wrong_group(d: Manifest) -> None:
    d["apiVersion"] = "extensions/v1beta1"


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_unknown_field, "imagePullPolicyy: no such field in V1Container"),
        (_wrong_type, "containerPort: expected int, got str"),
        (_missing_required, "containers[0].name: required, missing"),
        (_python_name_instead_of_wire_name, "container_port: no such field"),
        (_wrong_group, "unexpected kind 'Deployment' in API group 'extensions'"),
    ],
)
def test_validator_rejects_a_damaged_deployment(
    objects: list[Manifest], damage: Callable[[Manifest], None], problem: str
) -> None:
    deployment = copy.deepcopy(find(objects, "Deployment", "engine"))
    assert object_problems(deployment) == []
    damage(deployment)
    assert any(problem in found for found in object_problems(deployment))


def test_kustomization_applies_every_manifest_but_the_secret_template_and_keda(
    objects: list[Manifest],
) -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert set(kustomization) <= KUSTOMIZATION_KEYS
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {p.name for p in manifest_files()} - {"secret.template.yaml"}
    assert "components" not in kustomization  # KEDA is optional
    assert kustomization["namespace"] == find(objects, "Namespace", "tradelab")["metadata"]["name"]
    (image,) = kustomization["images"]
    deployments = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] not in INFRASTRUCTURE
    ]
    assert {container(d)["image"] for d in deployments} == {image["name"]}


def test_keda_component_replaces_the_cpu_autoscaler_with_the_scaled_object(
    objects: list[Manifest],
) -> None:
    component = load_yaml(K8S / "keda" / "kustomization.yaml")
    assert set(component) <= KUSTOMIZATION_KEYS
    assert (component["apiVersion"], component["kind"]) == (
        "kustomize.config.k8s.io/v1alpha1",
        "Component",
    )
    assert component["resources"] == ["engine-scaledobject.yaml"]
    (patch,) = component["patches"]
    deleted = load_yaml_text(patch["patch"])
    hpa = find(objects, "HorizontalPodAutoscaler", "engine")
    assert deleted == {
        "$patch": "delete",
        "apiVersion": hpa["apiVersion"],
        "kind": hpa["kind"],
        "metadata": {"name": hpa["metadata"]["name"]},
    }


@pytest.mark.parametrize("service", service_names())
def test_service_settings_accept_the_pod_environment(
    monkeypatch: pytest.MonkeyPatch,
    objects: list[Manifest],
    image_env: dict[str, str],
    test_secret: Manifest,
    service: str,
) -> None:
    deployment = find(objects, "Deployment", service)
    env = pod_env(objects, image_env, deployment, test_secret)
    settings = settings_from_env(monkeypatch, service, env)
    assert settings.environment == "production"
    assert settings.host == "0.0.0.0"
    # Its own Kafka principal over SASL/SCRAM and TLS; topics come from the kafka-access Job.
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == service
    own_password = test_secret["stringData"][f"KAFKA_PASSWORD_{service.upper()}"]
    assert settings.kafka_sasl_password.get_secret_value() == own_password
    assert settings.create_topics is False
    main = container(deployment)
    assert named_port(deployment, "http") == settings.port
    for probe, path in (
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ):
        action = main[probe]["httpGet"]
        assert (action["path"], named_port(deployment, action["port"])) == (path, settings.port)
    svc = find(objects, "Service", service)
    (port,) = svc["spec"]["ports"]
    assert named_port(deployment, port["targetPort"]) == settings.port
    assert port["port"] == settings.port


@pytest.mark.parametrize("service", service_names())
def test_deployment_runs_its_service_module(objects: list[Manifest], service: str) -> None:
    deployment = find(objects, "Deployment", service)
    command = container(deployment)["command"]
    assert command == ["python", "-m", f"tradelab_{service}"]
    assert importlib.util.find_spec(f"{command[2]}.__main__") is not None


@pytest.mark.parametrize("service", service_names())
def test_service_selects_the_deployment_pods(objects: list[Manifest], service: str) -> None:
    deployment = find(objects, "Deployment", service)
    selector = find(objects, "Service", service)["spec"]["selector"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    others = [o for o in objects if o["kind"] == "Deployment" and o is not deployment]
    for other in others:  # a Service must not reach another service's pods
        assert not selector.items() <= other["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("service", service_names())
def test_pods_run_unprivileged_with_limits(
    objects: list[Manifest], image_env: dict[str, str], service: str
) -> None:
    deployment = find(objects, "Deployment", service)
    pod = pod_spec(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    # A Service named like this one would inject <NAME>_PORT=tcp://..., read as the port.
    assert pod["enableServiceLinks"] is False
    main = container(deployment)
    context = main["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["readOnlyRootFilesystem"] is True
    # With a read-only root, numba's cache (NUMBA_CACHE_DIR) needs a writable /tmp.
    tmp = [m for m in main["volumeMounts"] if m["mountPath"] == CONTAINER_TMP]
    assert len(tmp) == 1
    volume = next(v for v in pod["volumes"] if v["name"] == tmp[0]["name"])
    assert "emptyDir" in volume
    assert image_env["NUMBA_CACHE_DIR"].startswith(f"{CONTAINER_TMP}/")
    for bound in ("requests", "limits"):
        assert set(main["resources"][bound]) == {"cpu", "memory"}, bound


@pytest.mark.parametrize("service", service_names())
def test_object_store_claim_is_mounted_where_the_settings_point(
    monkeypatch: pytest.MonkeyPatch,
    objects: list[Manifest],
    image_env: dict[str, str],
    test_secret: Manifest,
    service: str,
) -> None:
    deployment = find(objects, "Deployment", service)
    settings = settings_from_env(
        monkeypatch, service, pod_env(objects, image_env, deployment, test_secret)
    )
    claim = find(objects, "PersistentVolumeClaim", "tradelab-objects")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    claimed = {
        v["name"]
        for v in pod_spec(deployment)["volumes"]
        if v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]
    }
    paths = [m["mountPath"] for m in container(deployment)["volumeMounts"] if m["name"] in claimed]
    expected = [urlparse(settings.object_store_url).path] if uses_object_store(service) else []
    assert paths == expected


def test_gateway_counts_rate_limits_in_the_redis_service(
    monkeypatch: pytest.MonkeyPatch,
    objects: list[Manifest],
    image_env: dict[str, str],
    test_secret: Manifest,
) -> None:
    gateway = find(objects, "Deployment", "gateway")
    env = pod_env(objects, image_env, gateway, test_secret)
    settings = settings_from_env(monkeypatch, "gateway", env)
    assert isinstance(settings, GatewaySettings)
    url = urlparse(settings.redis_url)
    service = find(objects, "Service", "redis")
    redis = find(objects, "Deployment", "redis")
    assert url.hostname == service["metadata"]["name"]
    (port,) = service["spec"]["ports"]
    assert url.port == port["port"] == named_port(redis, port["targetPort"])
    assert (
        service["spec"]["selector"].items()
        <= redis["spec"]["template"]["metadata"]["labels"].items()
    )
    assert "--save" in container(redis)["args"]  # nothing persisted
    assert pod_spec(redis)["securityContext"]["runAsNonRoot"] is True


def test_secret_template_holds_no_values_and_covers_every_reference(
    objects: list[Manifest],
) -> None:
    template = find(objects, "Secret", "tradelab-secrets")
    assert "data" not in template
    assert set(template["stringData"].values()) == {""}
    referenced: dict[str, set[str]] = {}
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        for entry in container(deployment).get("env", []):
            if "valueFrom" in entry:
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref["name"] == template["metadata"]["name"]
                referenced.setdefault(ref["key"], set()).add(deployment["metadata"]["name"])
    assert set(referenced) == set(template["stringData"])
    assert referenced["AUTH_SIGNING_KEYS"] == {"auth"}
    assert referenced["BUS_KEYS"] == {"auth", "gateway"}
    for name in service_names():  # each service reads its own Kafka password, no other
        assert referenced[f"KAFKA_PASSWORD_{name.upper()}"] == {name}
    configmap = find(objects, "ConfigMap", "tradelab-config")
    assert not set(configmap["data"]) & set(template["stringData"])


def test_auth_refuses_the_empty_secret_template(
    monkeypatch: pytest.MonkeyPatch, objects: list[Manifest], image_env: dict[str, str]
) -> None:
    template = find(objects, "Secret", "tradelab-secrets")
    env = pod_env(objects, image_env, find(objects, "Deployment", "auth"), template)
    with pytest.raises(ValidationError, match=r"kafka_sasl_password|signing_keys|bus_keys"):
        settings_from_env(monkeypatch, "auth", env)


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("KAFKA_PASSWORD_AUTH", "kafka_sasl_password"),
        ("BUS_KEYS", "bus_keys"),
        ("AUTH_SIGNING_KEYS", "signing_keys"),
    ],
)
def test_auth_refuses_each_secret_left_empty(
    monkeypatch: pytest.MonkeyPatch,
    objects: list[Manifest],
    image_env: dict[str, str],
    test_secret: Manifest,
    key: str,
    field: str,
) -> None:
    secret = copy.deepcopy(test_secret)
    secret["stringData"][key] = ""
    env = pod_env(objects, image_env, find(objects, "Deployment", "auth"), secret)
    # Every other secret is real, so the refusal must name the one left empty.
    with pytest.raises(ValidationError, match=field):
        settings_from_env(monkeypatch, "auth", env)


def test_engine_autoscaler_targets_the_engine_deployment(objects: list[Manifest]) -> None:
    hpa = find(objects, "HorizontalPodAutoscaler", "engine")
    target = hpa["spec"]["scaleTargetRef"]
    engine = find(objects, target["kind"], target["name"])
    assert (engine["kind"], engine["apiVersion"]) == ("Deployment", target["apiVersion"])
    assert "replicas" not in engine["spec"]  # the autoscaler owns the count
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert type_problems(hpa["spec"], "V2HorizontalPodAutoscalerSpec", "spec") == []
