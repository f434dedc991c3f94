"""How Prometheus, through the Prometheus operator, names an inference service's series.

The PodMonitor that makes the operator scrape a workload (the emitter side) and the
label selectors every rule uses (the query side) are both built here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from model.contract import METRICS_PATH, Matcher

OPERATOR_API = "monitoring.coreos.com/v1"  # PrometheusRule, PodMonitor
# AKS's managed Prometheus addon reads the same PodMonitor under its own API group, and labels
# targets by the operator's rules (Azure/prometheus-collector builds its target allocator from
# prometheus-operator's config generator), so the same selectors hold in an Azure Monitor workspace.
AZURE_OPERATOR_API = "azmonitoring.coreos.com/v1"
# The pod label whose value the operator makes the `job` (PodMonitor spec.jobLabel:
# prometheus-operator pkg/prometheus/promcfg.go relabels __meta_kubernetes_pod_label_<jobLabel>
# into job). Every workload here carries it with its own name.
JOB_LABEL = "app.kubernetes.io/name"
SCRAPE_INTERVAL = "30s"
# The pod label copied onto every scraped series (PodMonitor podTargetLabels: the operator relabels
# __meta_kubernetes_pod_label_<name> into <name>), so a canary's series can be told from the stable ones.
VERSION_LABEL = "version"


def selector(workload: str, namespace: str) -> dict[str, str]:
    """The labels the operator gives every series of `workload`: job from its JOB_LABEL, and
    namespace from __meta_kubernetes_namespace (promcfg.go adds it to every PodMonitor target)."""
    return {"job": workload, "namespace": namespace}


def pod_monitor(namespace: str, pod_selector: Mapping[str, str], ports: Mapping[str, bool]) -> dict:
    """A PodMonitor spec scraping the named container `ports` of the selected pods.

    `ports` maps each port name to honorLabels: true for an endpoint that re-exposes other
    services' metrics with their own job and instance labels, which must survive the scrape.
    """
    def endpoint(port: str, honor_labels: bool) -> dict:
        entry = {"port": port, "path": METRICS_PATH, "interval": SCRAPE_INTERVAL}
        return {**entry, "honorLabels": True} if honor_labels else entry

    return {
        "jobLabel": JOB_LABEL,
        "podTargetLabels": [VERSION_LABEL],
        "selector": {"matchLabels": dict(pod_selector)},
        "namespaceSelector": {"matchNames": [namespace]},
        "podMetricsEndpoints": [endpoint(port, honor) for port, honor in ports.items()],
    }


def le_values(bound: float) -> tuple[str, ...]:
    """How an exposition may write bucket bound `bound` as `le`: the Python client writes whole
    numbers with ".0" ("1.0"), Go and Rust clients without ("1"). Prometheus 3 stores every `le`
    in the first form whatever was scraped (prometheus.io/docs/prometheus/latest/migration,
    "le and quantile label values"); Prometheus 2 keeps what the server wrote. Both are matched."""
    if not 1e-4 <= bound < 1e6:  # where Python's repr and Go's shortest 'g' format both write positional digits
        raise ValueError(f"bucket bound {bound} is outside the range whose le form is known")
    python = repr(float(bound))
    go = python.removesuffix(".0")
    return (python,) if go == python else (python, go)


def bucket_matcher(bound: float) -> str:
    """The `le` matcher selecting the bucket whose upper bound is `bound`."""
    values = le_values(bound)
    if len(values) == 1:
        return f'le="{values[0]}"'
    return 'le=~"' + "|".join(re.escape(v).replace("\\", "\\\\") for v in values) + '"'


# NVIDIA's DCGM exporter (NVIDIA/dcgm-exporter etc/default-counters.csv): utilisation in percent,
# framebuffer memory in MiB, and the last XID error's number (0 while none).
DCGM_UTILIZATION, DCGM_MEMORY_USED, DCGM_MEMORY_FREE, DCGM_XID = (
    "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_XID_ERRORS")
# dcgm-exporter labels each GPU's series with the pod using it (its Kubernetes mapping). Scraped by
# the GPU Operator's ServiceMonitor, whose honorLabels is false by default, those collide with the
# target's own namespace and pod labels and are kept as exported_namespace and exported_pod
# (Prometheus scrape config, honor_labels).
GPU_NAMESPACE_LABEL, GPU_POD_LABEL = "exported_namespace", "exported_pod"


def gpu_selector(workload: str, namespace: str) -> tuple[Matcher, ...]:
    """The DCGM series of the GPUs `workload`'s pods use: pods are named <deployment>-<replica set>-<pod>."""
    pods = Matcher(GPU_POD_LABEL, f"{workload}-[a-z0-9]+-[a-z0-9]+", regex=True)
    return (Matcher(GPU_NAMESPACE_LABEL, namespace), pods)
