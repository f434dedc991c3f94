"""Pure builders for what every workload here shares: labels and a hardened pod.

Both the inference services and the collector run under the Pod Security
Standard `restricted`, with a read-only root filesystem, spread over zones and
nodes, rolled out without ever dropping below the desired replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.settings import Resources

RUN_AS = 10001  # an unprivileged UID/GID; the images must not need root
SCRATCH_SIZE = "1Gi"  # the writable /tmp on an otherwise read-only filesystem
PRE_STOP_SECONDS = 5  # let endpoints drop the pod before it gets SIGTERM


def selector(name: str, stack: str) -> dict[str, str]:
    """The stable labels a Deployment, Service, PDB and NetworkPolicy select on (never the version)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": f"{name}-{stack}"}


def common_labels(part_of: str) -> dict[str, str]:
    """The labels every object of the program carries."""
    return {"app.kubernetes.io/part-of": part_of, "app.kubernetes.io/managed-by": "pulumi"}


VERSION_LABELS = ("app.kubernetes.io/version", "version")  # what changes with every release


def labels(name: str, stack: str, version: str, component: str, part_of: str) -> dict[str, str]:
    """Kubernetes' recommended labels, plus the app/version pair the seeds' dashboards use."""
    return {
        **selector(name, stack),
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/component": component,
        **common_labels(part_of),
        "app": name,
        "version": version,
    }


def metadata(name: str, namespace: Any, object_labels: Mapping[str, str],
             annotations: Mapping[str, str] | None = None) -> dict:
    result = {"name": name, "namespace": namespace, "labels": dict(object_labels)}
    if annotations:
        result["annotations"] = dict(annotations)
    return result


def pod_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(spec: Resources) -> dict:
    """Extended resources (GPUs) as limits only: Kubernetes requests them at their limit."""
    return {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit, **spec.extended},
    }


def http_probe(path: str, port: str, *, period: int, failures: int, timeout: int = 2) -> dict:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def scratch_volume() -> tuple[dict, dict]:
    """The emptyDir behind /tmp, and its mount."""
    return ({"name": "tmp", "emptyDir": {"sizeLimit": SCRATCH_SIZE}},
            {"name": "tmp", "mountPath": "/tmp"})


def pre_stop() -> dict:
    return {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}}


def spread(pod_selector: Mapping[str, str], version_label: str = "pod-template-hash") -> list[dict]:
    """Spread replicas over zones, then nodes; best effort, so small clusters still schedule. Each version on
    its own (`version_label`: the label its controller puts on one version's pods), or a rollout's new pods
    would be placed to balance the old ones."""
    return [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": dict(pod_selector)}, "matchLabelKeys": [version_label]}
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def rolling_update() -> dict:
    """New pods come up before old ones go: never below the desired replicas."""
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}


def disruption_budget(pod_selector: Mapping[str, str]) -> dict:
    return {
        "maxUnavailable": 1,
        "selector": {"matchLabels": dict(pod_selector)},
        # A crash-looping pod must not block node drains.
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


# The workloads' credentials: one Secret, read as files so no secret sits in an environment (where
# crash dumps, `env` and child processes see it).
SECRET_NAME = "telemetry-credentials"
APPINSIGHTS_KEY = "appinsights-connection-string"
DATADOG_API_KEY = "datadog-api-key"
SECRETS_DIR = "/var/run/secrets/telemetry"
SECRET_FILE_MODE = 0o440  # owner and group (the pod's fsGroup) may read; nobody writes
API_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # where Kubernetes clients look
API_TOKEN_SECONDS = 3600  # the kubelet rotates the token before it expires


def secret_file(key: str) -> str:
    return f"{SECRETS_DIR}/{key}"


def secret_files(secret_name: Any, keys: list[str]) -> tuple[list[dict], list[dict]]:
    """The telemetry Secret's `keys` (only those the workload reads) as read-only files: the volume
    and its mount, or neither without keys (an empty item list would project every key)."""
    if not keys:
        return [], []
    return ([{"name": "telemetry", "secret": {"secretName": secret_name, "defaultMode": SECRET_FILE_MODE,
                                              "items": [{"key": key, "path": key} for key in keys]}}],
            [{"name": "telemetry", "mountPath": SECRETS_DIR, "readOnly": True}])


def api_token() -> tuple[dict, dict]:
    """A short-lived, audience-bound service account token mounted explicitly, as the kubelet would
    with automountServiceAccountToken, for the one workload that calls the API."""
    return ({"name": "kube-api-access", "projected": {"defaultMode": 0o444, "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": API_TOKEN_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]}},
            {"name": "kube-api-access", "mountPath": API_TOKEN_DIR, "readOnly": True})


def pull_policy(production: bool) -> str:
    """Production pulls on every start: the registry checks the node may still have the image."""
    return "Always" if production else "IfNotPresent"


def ingress_rule(sources: list[dict], ports: list[str]) -> list[dict]:
    """A NetworkPolicy ingress rule, or none: a rule with no sources would admit everyone."""
    if not sources:
        return []
    return [{"from": sources, "ports": [{"port": port, "protocol": "TCP"} for port in ports]}]


def from_namespaces(names: tuple[str, ...] | list[str]) -> list[dict]:
    return [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}} for name in names]


SAME_NAMESPACE: list[dict] = [{"podSelector": {}}]
