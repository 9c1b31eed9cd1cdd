"""The optional KEDA ScaledObject (a custom resource, so no client model): its shape, and its
kafka triggers against the consumer groups and topics the engine really subscribes to."""

import ast
from typing import Any

import pytest

from tests.deploy.files import K8S, REPO, load_yaml, load_yaml_documents
from tests.deploy.k8s_models import type_problems
from tradelab_contracts import topics

SCALED_OBJECT = K8S / "keda" / "engine-scaledobject.yaml"
SPEC_KEYS = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip
KAFKA_METADATA_KEYS = {
    "bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
    "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag", "limitToPartitionsWithLag",
}  # fmt: skip
ENGINE_SOURCE = REPO / "services" / "engine" / "src" / "tradelab_engine"


FAST_QUEUES = frozenset({topics.ENGINE_REQUESTS, topics.DATASET_DELETED, topics.AUTH_USER_DELETED})
"""Queues answered in milliseconds (requests, deletion cascades): no lag worth scaling on."""


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level ``NAME = value`` assignments (a group id kept in a constant)."""
    return {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _subscriber_calls() -> list[tuple[ast.expr, ast.expr]]:
    """(topic, group id) of every ``broker.subscriber(TOPIC, group_id=...)`` and
    ``work_subscriber(broker, TOPIC, group_id=...)`` call, a group kept in a module constant
    resolved."""
    calls: list[tuple[ast.expr, ast.expr]] = []
    for path in sorted(ENGINE_SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "subscriber":
                topic = node.args[0]
            elif isinstance(func, ast.Name) and func.id == "work_subscriber":
                topic = node.args[1]
            else:
                continue
            (group,) = [k.value for k in node.keywords if k.arg == "group_id"]
            if isinstance(group, ast.Name) and group.id in constants:
                group = constants[group.id]
            calls.append((topic, group))
    return calls


def engine_work_queues() -> set[tuple[str, str]]:
    """(consumer group, topic) of every engine subscription shared by all replicas, read from
    the engine's ``broker.subscriber(TOPIC, group_id=...)`` calls (importing the engine would
    compile its kernels, seconds).

    A group id built per replica (an f-string: the cancel listeners) is not a work queue, and
    request/reply queries and deletion cascades, done in milliseconds, have no lag worth scaling on.
    """
    queues: set[tuple[str, str]] = set()
    for topic, group in _subscriber_calls():
        assert isinstance(topic, ast.Name), ast.unparse(topic)  # a topics.py constant, by rule
        name = getattr(topics, topic.id)
        assert isinstance(name, str)
        if isinstance(group, ast.Constant) and name not in FAST_QUEUES:
            queues.add((str(group.value), name))
        else:
            assert isinstance(group, ast.JoinedStr) or name in FAST_QUEUES, ast.unparse(group)
    return queues


@pytest.fixture(scope="module")
def scaled_object() -> dict[str, Any]:
    document = load_yaml(SCALED_OBJECT)
    assert isinstance(document, dict)
    return document


def kafka_triggers(scaled_object: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in scaled_object["spec"]["triggers"] if t["type"] == "kafka"]


def test_scaled_object_shape(scaled_object: dict[str, Any]) -> None:
    assert (scaled_object["apiVersion"], scaled_object["kind"]) == (
        "keda.sh/v1alpha1",
        "ScaledObject",
    )
    assert set(scaled_object) == {"apiVersion", "kind", "metadata", "spec"}
    spec = scaled_object["spec"]
    assert set(spec) <= SPEC_KEYS
    assert {"scaleTargetRef", "triggers"} <= set(spec)
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert type_problems(behavior, "V2HorizontalPodAutoscalerBehavior", "behavior") == []
    for trigger in spec["triggers"]:
        # KEDA reads trigger metadata as a map of strings.
        assert all(isinstance(v, str) for v in trigger["metadata"].values()), trigger


def test_scaled_object_targets_the_engine_deployment(scaled_object: dict[str, Any]) -> None:
    target = scaled_object["spec"]["scaleTargetRef"]
    engine_docs = load_yaml_documents(K8S / "engine.yaml")
    (deployment,) = [d for d in engine_docs if d["kind"] == "Deployment"]
    assert target["name"] == deployment["metadata"]["name"] == "engine"
    assert (target["apiVersion"], target["kind"]) == (deployment["apiVersion"], "Deployment")
    hpa = load_yaml(K8S / "engine-hpa.yaml")
    assert scaled_object["spec"]["minReplicaCount"] == hpa["spec"]["minReplicas"]


def test_kafka_triggers_watch_every_engine_work_queue(scaled_object: dict[str, Any]) -> None:
    queues = engine_work_queues()
    assert ("engine-jobs", topics.BACKTEST_REQUESTED) in queues  # the reading found them
    triggers = [t["metadata"] for t in kafka_triggers(scaled_object)]
    watched = {(metadata["consumerGroup"], metadata["topic"]) for metadata in triggers}
    assert len(watched) == len(triggers)  # no queue watched twice
    assert watched == queues


def test_kafka_triggers_use_the_configured_broker(scaled_object: dict[str, Any]) -> None:
    configmap = load_yaml(K8S / "configmap.yaml")
    for trigger in kafka_triggers(scaled_object):
        metadata = trigger["metadata"]
        assert set(metadata) <= KAFKA_METADATA_KEYS
        assert metadata["bootstrapServers"] == configmap["data"]["KAFKA_BOOTSTRAP"]
        assert int(metadata["lagThreshold"]) >= 1
        # The engine's job consumers start from the earliest offset on a fresh partition.
        assert metadata["offsetResetPolicy"] == "earliest"


def test_replica_bound_fits_the_partitions(scaled_object: dict[str, Any]) -> None:
    partitions = {spec.name: spec.partitions for spec in topics.ALL_TOPICS}
    widest = max(partitions[t["metadata"]["topic"]] for t in kafka_triggers(scaled_object))
    spec = scaled_object["spec"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= widest
