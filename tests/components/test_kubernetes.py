"""The workload namespace, the collector and the inference services under mocks, on fixture stacks.

`alerting` runs two services with Datadog on, `platform` one production service with Datadog off,
`gpu` a GPU model server.
"""

import hashlib
import json
import re

import pulumi
import pytest

from components.collector_config import PORTS
from components.inference_service import InferenceService
from components.otel_collector import OtelCollector
from components.wiring import Wiring
from components.workload_namespace import WorkloadNamespace
from components.workloads import APPINSIGHTS_KEY, DATADOG_API_KEY, SECRET_NAME
from config import limits
from model.naming import datadog as datadog_naming
from policy import rules
from tests.helpers import COLLECTOR_CONFIG_MAP, container_port, load_settings, read_yaml, replicated, run_component
from tests.helpers import collector_config_problems as problems
from tests.helpers import workload as service_workload

CONNECTION_STRING = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://x.example.com/"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def cluster_plan(stack, overrides=None, secrets=None):
    def build(settings):
        wire = Wiring(settings)
        namespace = WorkloadNamespace("workloads", wire.workload_namespace(pulumi.Output.secret(CONNECTION_STRING)))
        collector = OtelCollector("otel-collector", wire.otel_collector(namespace))
        for service in settings.services:
            InferenceService(service.name, wire.inference_service(service, namespace, collector))
    return run_component(build, stack, overrides, secrets)


@pytest.fixture(scope="module")
def alerting():
    return cluster_plan("alerting", secrets={"datadog.apiKey": "ab" * 16})


@pytest.fixture(scope="module")
def platform():
    return cluster_plan("platform")


@pytest.fixture(scope="module")
def gpu():
    return cluster_plan("gpu")


def deployment(plan, name):
    return service_workload(plan, name)


def pod(plan, name):
    return deployment(plan, name)["spec"]["template"]


def main_container(plan, name):
    return pod(plan, name)["spec"]["containers"][0]


def env(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_namespace_enforces_the_restricted_pod_security_standard(alerting):
    labels = alerting.one("kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.34"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_secret_holds_the_connection_string_and_datadog_key_and_stays_masked(alerting):
    secret = alerting.one(SECRET)
    assert secret.inputs["metadata"] == {"name": SECRET_NAME, "namespace": "models",
                                         "labels": secret.inputs["metadata"]["labels"]}
    assert secret.inputs["stringData"] == {APPINSIGHTS_KEY: "[secret]", DATADOG_API_KEY: "[secret]"}
    assert secret.raw_inputs["stringData"] == {APPINSIGHTS_KEY: CONNECTION_STRING, DATADOG_API_KEY: "ab" * 16}
    assert "stringData" in secret.secret_paths


def test_without_datadog_the_secret_has_no_datadog_key_and_nothing_refers_to_it(platform):
    assert set(platform.one(SECRET).raw_inputs["stringData"]) == {APPINSIGHTS_KEY}
    container = main_container(platform, "detector")
    assert not any(name.startswith("DD_") for name in env(container))
    annotations = pod(platform, "detector")["metadata"]["annotations"]
    assert not any(key.startswith("ad.datadoghq.com/") for key in annotations)
    config = read_yaml(platform.one(*COLLECTOR_CONFIG_MAP).inputs["data"]["config.yaml"])
    assert "datadog/exporter" not in config["exporters"] and "connectors" not in config


# Where Kubernetes clients (client-go's in-cluster config) look for the service account token.
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def mounted_files(template):
    """Each file a pod's Secret volumes put in its container: path -> (secret name, key, mount, volume)."""
    volumes = {v["name"]: v["secret"] for v in template["spec"]["volumes"] if "secret" in v}
    found = {}
    for mount in template["spec"]["containers"][0]["volumeMounts"]:
        if mount["name"] in volumes:
            secret = volumes[mount["name"]]
            for item in secret["items"]:
                found[f"{mount['mountPath']}/{item['path']}"] = (secret["secretName"], item["key"], mount, secret)
    return found


@pytest.mark.parametrize("stack", ["alerting", "platform", "gpu"])
def test_secrets_reach_every_container_as_read_only_files_never_as_environment(stack, alerting, platform, gpu):
    plan = {"alerting": alerting, "platform": platform, "gpu": gpu}[stack]
    secret = plan.one(SECRET)
    keys = set(secret.raw_inputs["stringData"])
    for workload in replicated(plan):
        template = workload.inputs["spec"]["template"]
        container = template["spec"]["containers"][0]
        assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})], workload.name
        assert "envFrom" not in container
        files = mounted_files(template)
        assert files, workload.name
        for name, key, mount, volume in files.values():
            assert (name, mount["readOnly"]) == (secret.inputs["metadata"]["name"], True)
            assert key in keys
            assert volume["defaultMode"] == 0o440  # the owner and the pod's fsGroup read; nobody writes


def test_the_services_read_the_connection_string_from_its_mounted_file(alerting):
    for name in ("chat", "scorer"):
        template = pod(alerting, name)
        path = env(template["spec"]["containers"][0])["APPLICATIONINSIGHTS_CONNECTION_STRING_FILE"]
        _, key, _, _ = mounted_files(template)[path]
        assert key == APPINSIGHTS_KEY
        assert {k for _, k, _, _ in mounted_files(template).values()} == {APPINSIGHTS_KEY}  # not the Datadog key


@pytest.mark.parametrize("stack, backends", [("alerting", {APPINSIGHTS_KEY, DATADOG_API_KEY}),
                                             ("platform", {APPINSIGHTS_KEY})])
def test_the_collector_config_reads_each_credential_from_a_file_its_pod_mounts(stack, backends, alerting, platform):
    plan = {"alerting": alerting, "platform": platform}[stack]
    config = plan.one(*COLLECTOR_CONFIG_MAP).inputs["data"]["config.yaml"]
    referenced = set(re.findall(r"\$\{file:([^}]+)\}", config))
    files = mounted_files(pod(plan, "otel-collector"))
    assert referenced == set(files)  # every reference resolves, and nothing else is mounted
    assert {key for _, key, _, _ in files.values()} == backends
    assert "${env:" not in config.replace("${env:MY_POD_IP}", "")


def test_a_collector_that_reads_no_credential_mounts_no_secret():
    """An empty item list would project every key of the Secret (Kubernetes' secret volume)."""
    plan = cluster_plan("minimal", {"collector": {"exporters": ["prometheus"]}})
    spec = pod(plan, "otel-collector")["spec"]
    assert [v for v in spec["volumes"] if "secret" in v] == []
    assert "${file:" not in plan.one(*COLLECTOR_CONFIG_MAP).inputs["data"]["config.yaml"]
    assert mounted_files(pod(plan, "ai-inference"))  # the service still reads its connection string


@pytest.mark.parametrize("stack", ["alerting", "platform", "gpu"])
def test_only_the_collector_gets_a_service_account_token_and_that_one_short_lived(stack, alerting, platform, gpu):
    plan = {"alerting": alerting, "platform": platform, "gpu": gpu}[stack]
    for account in plan.of_type("kubernetes:core/v1:ServiceAccount"):
        assert account.inputs["automountServiceAccountToken"] is False, account.name
    for workload in replicated(plan):
        spec = workload.inputs["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False, workload.name
        tokens = {v["name"]: source["serviceAccountToken"] for v in spec["volumes"]
                  for source in v.get("projected", {}).get("sources", []) if "serviceAccountToken" in source}
        if workload.name != "otel-collector-deployment":
            assert tokens == {}, workload.name
            continue
        (volume, token), = tokens.items()
        assert token["expirationSeconds"] <= 3600
        mount, = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == volume]
        assert (mount["mountPath"], mount["readOnly"]) == (TOKEN_DIR, True)


def test_production_pins_every_image_by_digest_and_pulls_it_every_start(platform, alerting):
    for workload in replicated(platform):
        container = workload.inputs["spec"]["template"]["spec"]["containers"][0]
        assert re.search(r"@sha256:[0-9a-f]{64}$", container["image"]), workload.name
        assert container["imagePullPolicy"] == "Always"
    for workload in replicated(alerting):  # not production: the node's copy of a tag will do
        assert workload.inputs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_probes_hit_the_declared_http_container_port(alerting):
    container = main_container(alerting, "chat")
    for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        check = container[probe]["httpGet"]
        assert check["path"] == path
        assert container_port(container, check["port"]) == 8080
    # The startup probe gives the model the configured time to load.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_scrape_annotations_point_at_the_metrics_container_port(alerting):
    template = pod(alerting, "chat")
    container = template["spec"]["containers"][0]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == container_port(container, "metrics") == 8000
    check = json.loads(annotations[f"ad.datadoghq.com/{container['name']}.checks"])
    instance, = check["openmetrics"]["instances"]
    assert instance["openmetrics_endpoint"] == "http://%%host%%:8000/metrics"
    # Every family of the default contract: counters without _total (the check matches families by it).
    assert instance["metrics"] == sorted(["ai_inference_requests", "ai_inference_latency_seconds", "ai_tokens_used",
                                          "ai_inference_cost_dollars", "ai_inference_time_to_first_token_seconds",
                                          "ai_inference_time_per_output_token_seconds", "ai_inference_queue_requests",
                                          "ai_inference_kv_cache_usage_ratio", "ai_model_quality_score",
                                          "ai_model_drift_score", "ai_model_hallucination_ratio", "ai_model_feedback"])
    assert instance["namespace"] == datadog_naming.NAMESPACE
    assert instance["histogram_buckets_as_distributions"] is True


def test_otlp_endpoint_resolves_to_the_collector_service(alerting):
    service = alerting.one(SERVICE, "otel-collector-service").inputs
    metadata, spec = service["metadata"], service["spec"]
    grpc_port = next(p["port"] for p in spec["ports"] if p["name"] == "otlp-grpc")
    expected = f"http://{metadata['name']}.{metadata['namespace']}.svc.cluster.local:{grpc_port}"
    assert env(main_container(alerting, "chat"))["OTEL_EXPORTER_OTLP_ENDPOINT"] == expected
    assert expected == "http://otel-collector.models.svc.cluster.local:4317"
    # ...and that Service sends it to the collector pods' OTLP port.
    collector = main_container(alerting, "otel-collector")
    target = next(p["targetPort"] for p in spec["ports"] if p["name"] == "otlp-grpc")
    assert container_port(collector, target) == 4317
    assert spec["selector"] == deployment(alerting, "otel-collector")["spec"]["selector"]["matchLabels"]


def test_service_environment_names_the_service_environment_version_and_model(alerting):
    values = env(main_container(alerting, "chat"))
    assert values["OTEL_SERVICE_NAME"] == values["DD_SERVICE"] == "chat"
    assert values["DD_ENV"] == "alerting" and values["DD_VERSION"] == "2.0.0"
    assert values["DD_AGENT_HOST"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    attributes = dict(pair.split("=") for pair in values["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes["deployment.environment.name"] == "alerting"
    assert attributes["service.namespace"] == "llm-platform"
    assert attributes["service.version"] == "2.0.0"
    assert attributes["ai.model.name"] == "chat-small"


def test_the_program_sets_only_the_environment_a_service_may_not_override(alerting, gpu):
    for plan, name in ((alerting, "chat"), (gpu, "llm")):
        service, = [s for s in load_settings(plan.stack).services if s.name == name]
        program = [n for n in env(main_container(plan, name)) if n not in service.env]
        assert set(program) <= set(limits.PROGRAM_ENV)


def test_deployment_labels_rollout_spread_and_grace_period(platform):
    spec = deployment(platform, "detector")["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for key in ("name", "instance", "version", "component", "part-of", "managed-by"):
        assert f"app.kubernetes.io/{key}" in labels
    assert (labels["app"], labels["version"], labels["app.kubernetes.io/version"]) == ("detector", "3.1.0", "3.1.0")
    assert labels["app.kubernetes.io/part-of"] == "vision"
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert "app.kubernetes.io/version" not in spec["selector"]["matchLabels"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    assert "replicas" not in spec  # the autoscaler owns it
    keys = [c["topologyKey"] for c in spec["template"]["spec"]["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 90
    assert main_container(platform, "detector")["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}


def test_service_maps_80_to_the_http_port_and_exposes_metrics(alerting):
    service = alerting.one(SERVICE, "chat-service").inputs["spec"]
    container = main_container(alerting, "chat")
    ports = {p["name"]: (p["port"], container_port(container, p["targetPort"])) for p in service["ports"]}
    assert ports == {"http": (80, 8080), "metrics": (8000, 8000)}
    assert service["type"] == "ClusterIP"
    assert service["selector"] == deployment(alerting, "chat")["spec"]["selector"]["matchLabels"]


def test_autoscaler_targets_the_deployment_within_the_configured_bounds(platform):
    hpa = platform.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "detector"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_disruption_budgets_and_network_policies_select_their_pods(alerting):
    for name in ("chat", "scorer", "otel-collector"):
        selector = deployment(alerting, name)["spec"]["selector"]["matchLabels"]
        pdb = alerting.one("kubernetes:policy/v1:PodDisruptionBudget", f"{name}-pdb").inputs["spec"]
        assert pdb["selector"]["matchLabels"] == selector and pdb["maxUnavailable"] == 1
        policy = alerting.one(POLICY, f"{name}-network-policy").inputs["spec"]
        assert policy["podSelector"]["matchLabels"] == selector
        container = main_container(alerting, name)
        for rule in policy["ingress"]:
            assert rule["from"], "a rule without sources admits everyone"
            for port in rule["ports"]:
                container_port(container, port["port"])


def namespaces(sources):
    return [s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for s in sources if "namespaceSelector" in s]


@pytest.mark.parametrize("stack, service, clients, scrapers", [
    ("platform", "detector", ["gateway"], ["monitoring"]),
    ("alerting", "chat", [], ["monitoring", "datadog"]),  # the Datadog Agent scrapes too
])
def test_inference_network_policy_admits_clients_on_http_and_scrapers_on_metrics(
        stack, service, clients, scrapers, alerting, platform):
    plan = {"alerting": alerting, "platform": platform}[stack]
    policy = plan.one(POLICY, f"{service}-network-policy").inputs["spec"]
    by_port = {rule["ports"][0]["port"]: rule["from"] for rule in policy["ingress"]}
    assert {"podSelector": {}} in by_port["http"]
    assert namespaces(by_port["http"]) == clients
    assert namespaces(by_port["metrics"]) == scrapers


def test_without_scrapers_there_is_no_open_metrics_rule():
    plan = cluster_plan("minimal", {"kubernetes.monitoringNamespaces": []})
    for policy in plan.of_type(POLICY):
        assert all(rule["from"] for rule in policy.inputs["spec"]["ingress"])
        assert not any(p["port"] in ("metrics", "prometheus")
                       for rule in policy.inputs["spec"]["ingress"] for p in rule["ports"])


@pytest.mark.parametrize("stack", ["alerting", "platform", "gpu"])
def test_every_workload_is_restricted_and_hardened(stack, alerting, platform, gpu):
    plan = {"alerting": alerting, "platform": platform, "gpu": gpu}[stack]
    for workload in replicated(plan):
        template = workload.inputs["spec"]["template"]
        assert rules.restricted_problems(template["spec"]) == [], workload.name
        mounts = {m["mountPath"] for m in template["spec"]["containers"][0]["volumeMounts"]}
        assert "/tmp" in mounts


def test_collector_config_map_is_the_generated_config_named_by_its_hash_and_mounted_by_the_pods(alerting):
    config_map = alerting.one(*COLLECTOR_CONFIG_MAP).inputs
    data = config_map["data"]["config.yaml"]
    config = read_yaml(data)
    assert problems(config) == []
    assert set(config["exporters"]) == {"azuremonitor", "datadog/exporter", "prometheus"}
    # kustomize's convention: the name, then 10 hex digits of the content's SHA-256.
    assert config_map["metadata"]["name"] == f"otel-collector-{hashlib.sha256(data.encode()).hexdigest()[:10]}"
    assert pod(alerting, "otel-collector")["spec"]["volumes"][0] == {
        "name": "config", "configMap": {"name": config_map["metadata"]["name"]}}


def test_a_collector_config_change_is_a_new_config_map_the_pods_roll_onto():
    def mounted(plan):
        return pod(plan, "otel-collector")["spec"]["volumes"][0]["configMap"]["name"]
    before, after = cluster_plan("minimal"), cluster_plan("minimal", {"collector": {"exporters": ["azuremonitor"]}})
    assert mounted(before) != mounted(after)
    assert mounted(after) == after.one(*COLLECTOR_CONFIG_MAP).inputs["metadata"]["name"]


def test_collector_probes_ports_and_memory(alerting):
    container = main_container(alerting, "otel-collector")
    for probe in ("livenessProbe", "readinessProbe"):
        assert container_port(container, container[probe]["httpGet"]["port"]) == PORTS["health"] == 13133
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == PORTS
    assert env(container)["GOMEMLIMIT"] == "409MiB"  # 80% of the default 512Mi limit, the memory limiter's limit
    assert env(container)["MY_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_collector_service_exposes_otlp_and_metrics_with_scrape_annotations(alerting):
    service = alerting.one(SERVICE, "otel-collector-service").inputs
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "otlp-grpc": 4317, "otlp-http": 4318, "metrics": 8888, "prometheus": 8889}
    annotations = service["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "8888")


def test_collector_rbac_is_only_what_k8sattributes_needs(alerting):
    role = alerting.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]}]
    assert role["metadata"]["name"] == "otel-collector-models"  # cluster-wide, so named after the namespace
    binding = alerting.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs
    account = alerting.one("kubernetes:core/v1:ServiceAccount", "otel-collector-service-account").inputs
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "models"}]
    assert pod(alerting, "otel-collector")["spec"]["serviceAccountName"] == account["metadata"]["name"]
    # The inference services have no business with the API.
    assert pod(alerting, "chat")["spec"]["automountServiceAccountToken"] is False


# -- a GPU model server --------------------------------------------------------------

def test_a_gpu_service_gets_its_device_placement_shared_memory_cache_and_load_time(gpu):
    spec = pod(gpu, "llm")["spec"]
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in container["resources"]["requests"]  # Kubernetes requests it at its limit
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "kubernetes.azure.com/accelerator", "operator": "In", "values": ["nvidia"]}]}]
    assert spec["runtimeClassName"] == "nvidia"
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert mounts["/dev/shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "8Gi"}
    assert mounts["/models"]["emptyDir"] == {"sizeLimit": "60Gi"}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800
    values = env(container)
    assert (values["VLLM_WORKER_MULTIPROC_METHOD"], values["HF_HUB_OFFLINE"]) == ("spawn", "1")


def test_a_gpu_service_may_read_its_model_from_an_existing_claim():
    service = {"name": "llm", "image": "registry.example.com/llm/server:1", "model": {"name": "m", "version": "1"},
               "modelCache": {"mountPath": "/models", "claimName": "llama-weights", "readOnly": True}}
    plan = cluster_plan("gpu", {"services": [service]})
    spec = pod(plan, "llm")["spec"]
    cache, = [v for v in spec["volumes"] if v["name"] == "model-cache"]
    assert cache["persistentVolumeClaim"] == {"claimName": "llama-weights", "readOnly": True}
    mount, = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "model-cache"]
    assert mount == {"name": "model-cache", "mountPath": "/models", "readOnly": True}
    assert rules.restricted_problems(spec) == []


def test_the_first_tier_balances_traces_to_the_samplers_headless_service_which_admits_only_it(platform):
    """platform samples (collector.sampling.percentage 25): its collectors send traces, by trace id, to every
    pod behind the samplers' headless Service; the samplers keep what the service's objective calls slow."""
    first = read_yaml(platform.one(*COLLECTOR_CONFIG_MAP).inputs["data"]["config.yaml"])
    resolver = first["exporters"]["loadbalancing"]["resolver"]["dns"]
    samplers = platform.one("kubernetes:core/v1:Service", "otel-collector-sampler-service").inputs
    assert samplers["spec"]["clusterIP"] == "None"  # DNS answers with every sampler pod, not one virtual IP
    namespace = samplers["metadata"]["namespace"]
    assert resolver["hostname"] == f"{samplers['metadata']['name']}.{namespace}.svc.cluster.local"
    port, = samplers["spec"]["ports"]
    assert resolver["port"] == port["port"]
    sampler = platform.one("kubernetes:apps/v1:Deployment", "otel-collector-sampler-deployment").inputs
    pod = sampler["spec"]["template"]
    assert samplers["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    container, = pod["spec"]["containers"]
    assert container_port(container, port["targetPort"]) == port["port"]
    # Only the first tier's pods may send to the samplers.
    first_tier = platform.one("kubernetes:apps/v1:Deployment", "otel-collector-deployment").inputs
    policy = platform.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "otel-collector-sampler-network-policy")
    otlp, = [rule for rule in policy.inputs["spec"]["ingress"] if rule["ports"][0]["port"] == "otlp-grpc"]
    selector, = otlp["from"]
    assert selector["podSelector"]["matchLabels"].items() <= first_tier["spec"]["template"]["metadata"][
        "labels"].items()
    # The samplers read their exporters' credentials, and hold no API token (no k8sattributes there).
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert [item["key"] for item in volumes["telemetry"]["secret"]["items"]] == [APPINSIGHTS_KEY]
    assert "kube-api-access" not in volumes
    # Each service's slow traces are kept past its own P95 objective.
    config = read_yaml(platform.one("kubernetes:core/v1:ConfigMap", "otel-collector-sampler-config")
                            .inputs["data"]["config.yaml"])
    policies = {p["name"]: p for p in config["processors"]["tail_sampling"]["policies"]}
    for service in load_settings("platform").services:
        slow = policies[f"slower-than-objective-{service.name}"]["and"]["and_sub_policy"]
        assert slow[1]["latency"]["threshold_ms"] == round(service.slo.p95_seconds * 1000)
    assert policies["the-rest"]["probabilistic"]["sampling_percentage"] == 25
