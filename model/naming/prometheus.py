"""How Prometheus, through the Prometheus operator, names an inference service's series.

The PodMonitor that makes the operator scrape a workload (the emitter side) and the
label selectors every rule uses (the query side) are both built here.
"""

from __future__ import annotations

from collections.abc import Mapping

from model.contract import METRICS_PATH

OPERATOR_API = "monitoring.coreos.com/v1"  # PrometheusRule, PodMonitor
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
