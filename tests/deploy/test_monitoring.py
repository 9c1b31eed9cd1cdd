"""Monitoring files: the scrape configurations reach every service at its settings' port, and the
Grafana dashboard only queries metrics the services export (``tradelab_runtime.metrics``)."""

import json
import re
from typing import Any

import pytest

from tests.deploy.files import (
    K8S,
    REPO,
    load_yaml,
    load_yaml_documents,
    load_yaml_text,
    service_names,
)
from tradelab_runtime.metrics import MetricName, series_names

DASHBOARD = REPO / "infra" / "grafana" / "dashboards" / "tradelab.json"
COMPOSE_PROMETHEUS = REPO / "infra" / "prometheus" / "prometheus.yml"
METRIC = re.compile(r"\btradelab_[a-z0-9_]+")
COMPOSE_PORTS = {"gateway": 8000, "auth": 8001, "datasets": 8002, "engine": 8003, "analytics": 8004}


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_queries_name_only_exported_series() -> None:
    queries = dashboard_queries()
    named = {name for query in queries for name in METRIC.findall(query)}
    assert named, "the dashboard queries nothing"
    assert named <= series_names(), named - series_names()


def test_dashboard_shows_each_family_the_issue_asks_for() -> None:
    named = {name for query in dashboard_queries() for name in METRIC.findall(query)}
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in named}
    wanted = {
        MetricName.HTTP_REQUEST_DURATION,
        MetricName.KAFKA_RECEIVED,
        MetricName.KAFKA_PUBLISHED,
        MetricName.KAFKA_HANDLER_DURATION,
        MetricName.KAFKA_CONSUMER_LAG,
        MetricName.JOB_QUEUE_DEPTH,
        MetricName.JOB_DURATION,
        MetricName.JOBS_FINISHED,
        MetricName.CACHE_REQUESTS,
        MetricName.DB_POOL_CHECKED_OUT,
        MetricName.INGEST_ROWS,
    }
    assert {str(name) for name in wanted} <= families


def test_series_name_check_catches_a_misspelt_metric() -> None:
    assert "tradelab_job_durations_seconds_count" not in series_names()


def test_compose_prometheus_scrapes_every_service_at_its_port() -> None:
    config = load_yaml(COMPOSE_PROMETHEUS)
    compose = load_yaml(REPO / "docker-compose.yml")
    scraped = {}
    for job in config["scrape_configs"]:
        (sd,) = job["dns_sd_configs"]
        (host,) = sd["names"]
        scraped[job["job_name"]] = (host, sd["port"])
    assert scraped == {name: (name, COMPOSE_PORTS[name]) for name in service_names()}
    for name, port in COMPOSE_PORTS.items():
        env = compose["services"][name]["environment"]
        assert env[f"{name.upper()}_PORT"] == str(port)
    mounted = compose["services"]["prometheus"]["volumes"]
    assert "./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounted


def test_compose_grafana_provisions_the_prometheus_source_and_the_dashboard() -> None:
    grafana = REPO / "infra" / "grafana" / "provisioning"
    (source,) = load_yaml(grafana / "datasources" / "prometheus.yml")["datasources"]
    assert source["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {source["uid"]}
    (provider,) = load_yaml(grafana / "dashboards" / "tradelab.yml")["providers"]
    compose = load_yaml(REPO / "docker-compose.yml")
    volumes = compose["services"]["grafana"]["volumes"]
    assert f"./infra/grafana/dashboards:{provider['options']['path']}:ro" in volumes


@pytest.mark.parametrize("service", service_names())
def test_k8s_pods_are_annotated_for_scraping_at_their_container_port(service: str) -> None:
    (deployment,) = [
        d for d in load_yaml_documents(K8S / f"{service}.yaml") if d["kind"] == "Deployment"
    ]
    template: dict[str, Any] = deployment["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    (container,) = template["spec"]["containers"]
    (port,) = container["ports"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_k8s_prometheus_config_keeps_the_annotated_pods_of_the_namespace() -> None:
    (config_map,) = load_yaml_documents(K8S / "prometheus-config.yaml")
    config = load_yaml_text(config_map["data"]["prometheus.yml"])
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    namespace = load_yaml(K8S / "kustomization.yaml")["namespace"]
    assert (sd["role"], sd["namespaces"]["names"]) == ("pod", [namespace])
    keep = job["relabel_configs"][0]
    assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    address = next(r for r in job["relabel_configs"] if r.get("target_label") == "__address__")
    assert re.fullmatch(address["regex"], "10.0.0.7:9999;8003")
    assert re.sub(address["regex"], "\\1:\\2", "10.0.0.7:9999;8003") == "10.0.0.7:8003"
