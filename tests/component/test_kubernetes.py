"""The workload namespace, the collector and an inference service under mocks: values and wiring."""

import hashlib
import json

import pulumi
import pytest
import yaml

from model.naming import datadog as datadog_metrics
from components.collector_config import PORTS, problems
from components.inference_service import InferenceService
from components.otel_collector import OtelCollector
from components.workload_namespace import APPINSIGHTS_KEY, DATADOG_API_KEY, SECRET_NAME, WorkloadNamespace
from tests.helpers import container_port, restricted_violations, run_component

CONNECTION_STRING = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://x.example.com/"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"


def cluster_plan(stack="staging", overrides=None, secrets=None):
    def build(settings):
        namespace = WorkloadNamespace("workloads", settings, pulumi.Output.secret(CONNECTION_STRING))
        collector = OtelCollector("otel-collector", settings, namespace.name, namespace.secret_name)
        for service in settings.services:
            InferenceService(service.name, settings, service, namespace.name, namespace.secret_name,
                             collector.otlp_grpc_endpoint)
    return run_component(build, stack, overrides, secrets)


@pytest.fixture(scope="module")
def staging():
    return cluster_plan("staging", secrets={"datadog.apiKey": "ab" * 16})


@pytest.fixture(scope="module")
def prod():
    return cluster_plan("prod")


def deployment(plan, name):
    return plan.one(DEPLOYMENT, f"{name}-deployment").inputs


def pod(plan, name):
    return deployment(plan, name)["spec"]["template"]


def main_container(plan, name):
    return pod(plan, name)["spec"]["containers"][0]


def env(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_namespace_enforces_the_restricted_pod_security_standard(staging):
    labels = staging.one("kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.35"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_secret_holds_the_connection_string_and_datadog_key_and_stays_masked(staging):
    secret = staging.one(SECRET)
    assert secret.inputs["metadata"] == {"name": SECRET_NAME, "namespace": "ai-inference",
                                         "labels": secret.inputs["metadata"]["labels"]}
    assert secret.inputs["stringData"] == {APPINSIGHTS_KEY: "[secret]", DATADOG_API_KEY: "[secret]"}
    assert secret.raw_inputs["stringData"] == {APPINSIGHTS_KEY: CONNECTION_STRING, DATADOG_API_KEY: "ab" * 16}
    assert "stringData" in secret.secret_paths


def test_without_datadog_the_secret_has_no_datadog_key_and_nothing_refers_to_it():
    plan = cluster_plan("staging", {"datadog.enabled": False, "collector": {"exporters": ["azuremonitor", "prometheus"]}})
    assert set(plan.one(SECRET).raw_inputs["stringData"]) == {APPINSIGHTS_KEY}
    container = main_container(plan, "ai-inference")
    assert not any(name.startswith("DD_") for name in env(container))
    annotations = pod(plan, "ai-inference")["metadata"]["annotations"]
    assert not any(key.startswith("ad.datadoghq.com/") for key in annotations)
    config = yaml.safe_load(plan.one("kubernetes:core/v1:ConfigMap").inputs["data"]["config.yaml"])
    assert "datadog/exporter" not in config["exporters"] and "connectors" not in config


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_secret_reference_names_the_secret_and_a_key_it_has(stack, staging, prod):
    plan = {"staging": staging, "prod": prod}[stack]
    secret = plan.one(SECRET)
    keys = set(secret.raw_inputs["stringData"])
    references = [e["valueFrom"]["secretKeyRef"] for d in plan.of_type(DEPLOYMENT)
                  for c in d.inputs["spec"]["template"]["spec"]["containers"] for e in c["env"]
                  if "secretKeyRef" in e.get("valueFrom", {})]
    assert len(references) == 3  # the service's App Insights string; the collector's string and Datadog key
    for reference in references:
        assert reference["name"] == secret.inputs["metadata"]["name"]
        assert reference["key"] in keys


def test_probes_hit_the_declared_http_container_port(staging):
    container = main_container(staging, "ai-inference")
    for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        check = container[probe]["httpGet"]
        assert check["path"] == path
        assert container_port(container, check["port"]) == 8080
    # The startup probe gives the model the configured time to load.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_scrape_annotations_point_at_the_metrics_container_port(staging):
    template = pod(staging, "ai-inference")
    container = template["spec"]["containers"][0]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == container_port(container, "metrics") == 8000
    check = json.loads(annotations[f"ad.datadoghq.com/{container['name']}.checks"])
    instance, = check["openmetrics"]["instances"]
    assert instance["openmetrics_endpoint"] == "http://%%host%%:8000/metrics"
    assert instance["metrics"] == ["ai_inference_requests", "ai_inference_latency_seconds", "ai_tokens_used",
                                   "ai_inference_cost_dollars"]
    assert instance["namespace"] == datadog_metrics.NAMESPACE
    assert instance["histogram_buckets_as_distributions"] is True


def test_otlp_endpoint_resolves_to_the_collector_service(staging):
    service = staging.one(SERVICE, "otel-collector-service").inputs
    metadata, service = service["metadata"], service["spec"]
    grpc_port = next(p["port"] for p in service["ports"] if p["name"] == "otlp-grpc")
    expected = f"http://{metadata['name']}.{metadata['namespace']}.svc.cluster.local:{grpc_port}"
    assert env(main_container(staging, "ai-inference"))["OTEL_EXPORTER_OTLP_ENDPOINT"] == expected
    assert expected == "http://otel-collector.ai-inference.svc.cluster.local:4317"
    # ...and that Service sends it to the collector pods' OTLP port.
    collector = main_container(staging, "otel-collector")
    target = next(p["targetPort"] for p in service["ports"] if p["name"] == "otlp-grpc")
    assert container_port(collector, target) == 4317
    assert service["selector"] == deployment(staging, "otel-collector")["spec"]["selector"]["matchLabels"]


def test_service_environment_names_the_service_environment_version_and_model(staging):
    values = env(main_container(staging, "ai-inference"))
    assert values["OTEL_SERVICE_NAME"] == values["DD_SERVICE"] == "ai-inference"
    assert values["DD_ENV"] == "staging" and values["DD_VERSION"] == "1.4.2"
    assert values["DD_AGENT_HOST"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    attributes = dict(pair.split("=") for pair in values["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes["deployment.environment.name"] == "staging"
    assert attributes["service.version"] == "1.4.2"
    assert attributes["ai.model.name"] == "iris-classifier"
    assert values["APPLICATIONINSIGHTS_CONNECTION_STRING"] == {
        "secretKeyRef": {"name": SECRET_NAME, "key": APPINSIGHTS_KEY}}


def test_deployment_labels_rollout_spread_and_grace_period(prod):
    spec = deployment(prod, "ai-inference")["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for key in ("name", "instance", "version", "component", "part-of", "managed-by"):
        assert f"app.kubernetes.io/{key}" in labels
    assert (labels["app"], labels["version"], labels["app.kubernetes.io/version"]) == ("ai-inference", "1.4.2", "1.4.2")
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert "app.kubernetes.io/version" not in spec["selector"]["matchLabels"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    assert "replicas" not in spec  # the autoscaler owns it
    keys = [c["topologyKey"] for c in spec["template"]["spec"]["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 90
    assert main_container(prod, "ai-inference")["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}


def test_service_maps_80_to_the_http_port_and_exposes_metrics(staging):
    service = staging.one(SERVICE, "ai-inference-service").inputs["spec"]
    container = main_container(staging, "ai-inference")
    ports = {p["name"]: (p["port"], container_port(container, p["targetPort"])) for p in service["ports"]}
    assert ports == {"http": (80, 8080), "metrics": (8000, 8000)}
    assert service["type"] == "ClusterIP"
    assert service["selector"] == deployment(staging, "ai-inference")["spec"]["selector"]["matchLabels"]


def test_autoscaler_targets_the_deployment_within_the_configured_bounds(prod):
    hpa = prod.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ai-inference"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_disruption_budgets_and_network_policies_select_their_pods(staging):
    for name in ("ai-inference", "otel-collector"):
        selector = deployment(staging, name)["spec"]["selector"]["matchLabels"]
        pdb = staging.one("kubernetes:policy/v1:PodDisruptionBudget", f"{name}-pdb").inputs["spec"]
        assert pdb["selector"]["matchLabels"] == selector and pdb["maxUnavailable"] == 1
        policy = staging.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{name}-network-policy").inputs["spec"]
        assert policy["podSelector"]["matchLabels"] == selector
        container = main_container(staging, name)
        for rule in policy["ingress"]:
            assert rule["from"], "a rule without sources admits everyone"
            for port in rule["ports"]:
                container_port(container, port["port"])


def test_inference_network_policy_admits_clients_on_http_and_scrapers_on_metrics(staging):
    policy = staging.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "ai-inference-network-policy").inputs["spec"]
    by_port = {rule["ports"][0]["port"]: rule["from"] for rule in policy["ingress"]}
    namespaces = lambda sources: [s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                                  for s in sources if "namespaceSelector" in s]
    assert {"podSelector": {}} in by_port["http"]
    assert namespaces(by_port["http"]) == ["ingress-nginx"]
    assert namespaces(by_port["metrics"]) == ["monitoring", "datadog"]


def test_without_scrapers_there_is_no_open_metrics_rule():
    plan = cluster_plan("staging", {"kubernetes.monitoringNamespaces": [], "datadog.enabled": False,
                                    "collector": {"exporters": ["azuremonitor"]}})
    for policy in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        assert all(rule["from"] for rule in policy.inputs["spec"]["ingress"])
        assert not any(p["port"] == "metrics" for rule in policy.inputs["spec"]["ingress"] for p in rule["ports"])


def test_every_workload_is_restricted_and_hardened(staging, prod):
    for plan in (staging, prod):
        for workload in plan.of_type(DEPLOYMENT):
            template = workload.inputs["spec"]["template"]
            assert restricted_violations(template["spec"]) == [], workload.name
            mounts = {m["mountPath"] for m in template["spec"]["containers"][0]["volumeMounts"]}
            assert "/tmp" in mounts


def test_collector_config_map_is_the_generated_config_and_its_hash_rolls_the_pods(staging):
    data = staging.one("kubernetes:core/v1:ConfigMap").inputs["data"]["config.yaml"]
    config = yaml.safe_load(data)
    assert problems(config) == []
    assert set(config["exporters"]) == {"azuremonitor", "datadog/exporter", "prometheus"}
    annotations = pod(staging, "otel-collector")["metadata"]["annotations"]
    assert annotations["checksum/config"] == hashlib.sha256(data.encode()).hexdigest()
    assert pod(staging, "otel-collector")["spec"]["volumes"][0] == {"name": "config", "configMap": {"name": "otel-collector"}}


def test_collector_config_change_changes_the_hash():
    before = pod(cluster_plan("staging"), "otel-collector")["metadata"]["annotations"]["checksum/config"]
    after = pod(cluster_plan("staging", {"collector": {"exporters": ["azuremonitor", "datadog"]}}),
                "otel-collector")["metadata"]["annotations"]["checksum/config"]
    assert before != after


def test_collector_probes_ports_and_memory(staging):
    container = main_container(staging, "otel-collector")
    for probe in ("livenessProbe", "readinessProbe"):
        assert container_port(container, container[probe]["httpGet"]["port"]) == PORTS["health"] == 13133
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == PORTS
    assert env(container)["GOMEMLIMIT"] == "409MiB"  # 80% of the 512Mi limit, the memory limiter's limit
    assert env(container)["MY_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_collector_service_exposes_otlp_and_metrics_with_scrape_annotations(staging):
    service = staging.one(SERVICE, "otel-collector-service").inputs
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "otlp-grpc": 4317, "otlp-http": 4318, "metrics": 8888, "prometheus": 8889}
    annotations = service["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "8888")


def test_collector_rbac_is_only_what_k8sattributes_needs(staging):
    role = staging.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]}]
    binding = staging.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs
    account = staging.one("kubernetes:core/v1:ServiceAccount", "otel-collector-service-account").inputs
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "ai-inference"}]
    assert pod(staging, "otel-collector")["spec"]["serviceAccountName"] == account["metadata"]["name"]
    # The inference service has no business with the API.
    assert pod(staging, "ai-inference")["spec"]["automountServiceAccountToken"] is False
