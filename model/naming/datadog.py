"""How the Datadog Agent names an inference service's metrics, and how Datadog tags the service.

The Agent scrapes each service's metrics endpoint with the OpenMetrics (v2) check that
the pod's autodiscovery annotation configures, and tags what it collects with the pod's
unified service tags. The annotation, the pod labels and every Datadog query are built
here, so they cannot disagree. Rules of datadog_checks_base/checks/openmetrics/v2
(DataDog/integrations-core):

- every name is prefixed with the instance's `namespace` (base.py, adopt_namespace);
- a counter's family drops `_total` (the Prometheus parser does) and is submitted as
  `<family>.count`, a monotonic count (transformers/counter.py); so `metrics` lists
  counters without `_total`;
- with histogram_buckets_as_distributions, a histogram's buckets become one distribution
  named after the histogram itself, with `<name>.count` and `<name>.sum` beside it
  (transformers/histogram.py); percentiles on it need a metric tag configuration;
- Prometheus labels become tags (`model:<v>`, `status:<v>`);
- the endpoint's health is the service check `<namespace>.openmetrics.health`, OK or
  CRITICAL per scrape, tagged with the instance's tags and, unless `tag_by_endpoint` is
  false, `endpoint:<url>` (openmetrics/v2/scraper.py), whose %%host%% is the pod's IP.
"""

from __future__ import annotations

import json

from model.contract import COUNTER, Histogram, MetricContract, Series

NAMESPACE = "inference"
HEALTH_CHECK = f"{NAMESPACE}.openmetrics.health"


def family(metric: str) -> str:
    """The OpenMetrics family name: counters lose `_total`."""
    return metric[: -len("_total")] if metric.endswith("_total") else metric


def renamed(family_name: str) -> str:
    """The name the check submits a family under. Datadog names hold letters, digits, _ and . only
    (docs.datadoghq.com/metrics/custom_metrics, naming): vLLM's `vllm:` becomes `vllm_`, by an explicit
    rename in the check's config (a raw name without regex characters is matched exactly and renamed)."""
    return family_name.replace(":", "_")


def count(counter: str) -> str:
    return f"{NAMESPACE}.{renamed(family(counter))}.count"


def series_metric(series: Series) -> str:
    """Where the check puts a role's samples: a counter's `.count`, a histogram's `.count`/`.sum`, a gauge."""
    if series.histogram:
        return f"{NAMESPACE}.{renamed(series.histogram)}.{series.metric.rsplit('_', 1)[1]}"
    return count(series.metric) if series.type == COUNTER else f"{NAMESPACE}.{renamed(series.metric)}"


def distribution(histogram: str) -> str:
    return f"{NAMESPACE}.{renamed(histogram)}"


def series_tags(series: Series | Histogram) -> dict[str, str]:
    """A role's matchers as the tags to have (the check turns labels into tags as they are): `label="v"`,
    and `label!=""`, a label with any value, as the wildcard `label:*` (an empty label is no tag at all)."""
    return {m.label: "*" if m.negated and not m.value else m.value for m in series.matchers
            if not m.negated or not m.value}


def excluded_tags(series: Series | Histogram) -> dict[str, str]:
    """A role's `label!="v"` matchers as tags to exclude."""
    return {m.label: m.value for m in series.matchers if m.negated and m.value}


def check_metrics(contract: MetricContract) -> list[str | dict[str, str]]:
    """The metric families the check collects: exactly the contract's roles, renamed where Datadog needs it."""
    families = sorted({found.histogram or family(found.metric) if isinstance(found, Series) else found.metric
                       for found in contract.provided().values()})
    return [name if renamed(name) == name else {name: renamed(name)} for name in families]


def autodiscovery_checks(contract: MetricContract, metrics_port: int) -> str:
    """The value of the pod's ad.datadoghq.com/<container>.checks annotation."""
    return json.dumps({"openmetrics": {"init_config": {}, "instances": [{
        "openmetrics_endpoint": f"http://%%host%%:{metrics_port}/metrics",
        "namespace": NAMESPACE,
        "metrics": check_metrics(contract),
        "histogram_buckets_as_distributions": True,
        "collect_counters_with_distributions": True,
        # No endpoint tag: it names the pod (its IP), and a pod that is gone would leave a group of the
        # health check holding its last status for a day (see dialects/datadog.py, the endpoint-down check).
        "tag_by_endpoint": False,
    }]}}, separators=(",", ":"))


def unified_service_labels(env: str, service: str, version: str) -> dict[str, str]:
    """Pod labels from which the Agent tags everything the pod sends with env, service and version
    (docs.datadoghq.com/getting_started/tagging/unified_service_tagging, Kubernetes)."""
    return {"tags.datadoghq.com/env": env, "tags.datadoghq.com/service": service,
            "tags.datadoghq.com/version": version}


VERSION_TAG = "version"  # what unified service tagging names the pod's version: canaries are compared on it


def scope(env: str, service: str) -> dict[str, str]:
    """The tags that select one service's telemetry: those unified service tagging sets."""
    labels = unified_service_labels(env, service, "")
    return {"env": labels["tags.datadoghq.com/env"], "service": labels["tags.datadoghq.com/service"]}


# The Agent's Kubernetes tags a distribution keeps queryable: breakdowns by namespace and deployment. Only
# low-cardinality tags: checks are tagged at DD_CHECKS_TAG_CARDINALITY=low by default, and pod_name is an
# orchestrator-cardinality tag (docs.datadoghq.com/containers/kubernetes/tag: the tag cardinality table).
KUBERNETES_TAGS = ("kube_namespace", "kube_deployment")


def percentile_tags(contract: MetricContract) -> list[str]:
    """Tag keys kept queryable on a latency distribution. A tag configuration is an allowlist for the
    whole organization: the scope, the version (canary comparisons), the model and the pods."""
    return sorted({"env", "service", VERSION_TAG, *([contract.model_label] if contract.model_label else []),
                   *KUBERNETES_TAGS})


# Datadog's DCGM integration (integrations-core dcgm/datadog_checks/dcgm: metrics.py, and since
# 3.1.0 RENAME_LABELS_MAP) scrapes NVIDIA's dcgm-exporter and renames its pod and namespace labels
# to the Agent's pod_name and kube_namespace.
DCGM_UTILIZATION, DCGM_MEMORY_USED, DCGM_MEMORY_FREE, DCGM_XID = (
    "dcgm.gpu_utilization", "dcgm.frame_buffer.used", "dcgm.frame_buffer.free", "dcgm.xid_errors")


def gpu_scope(workload: str, namespace: str) -> dict[str, str]:
    """The DCGM series of the GPUs `workload`'s pods use. A tag value takes a trailing wildcard, no
    pattern: another Deployment named `<workload>-...` would match too."""
    return {"kube_namespace": namespace, "pod_name": f"{workload}-*"}
