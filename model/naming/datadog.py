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
  CRITICAL per scrape.
"""

from __future__ import annotations

import json

from model.contract import MetricContract

NAMESPACE = "inference"
HEALTH_CHECK = f"{NAMESPACE}.openmetrics.health"


def family(metric: str) -> str:
    """The OpenMetrics family name: counters lose `_total`."""
    return metric[: -len("_total")] if metric.endswith("_total") else metric


def count(counter: str) -> str:
    return f"{NAMESPACE}.{family(counter)}.count"


def distribution(histogram: str) -> str:
    return f"{NAMESPACE}.{histogram}"


def check_metrics(contract: MetricContract) -> list[str]:
    """The metric families the check collects: exactly the contract's."""
    return [family(m) for m in (contract.requests, contract.latency, contract.tokens, contract.cost)]


def autodiscovery_checks(contract: MetricContract, metrics_port: int) -> str:
    """The value of the pod's ad.datadoghq.com/<container>.checks annotation."""
    return json.dumps({"openmetrics": {"init_config": {}, "instances": [{
        "openmetrics_endpoint": f"http://%%host%%:{metrics_port}/metrics",
        "namespace": NAMESPACE,
        "metrics": check_metrics(contract),
        "histogram_buckets_as_distributions": True,
        "collect_counters_with_distributions": True,
    }]}}, separators=(",", ":"))


def unified_service_labels(env: str, service: str, version: str) -> dict[str, str]:
    """Pod labels from which the Agent tags everything the pod sends with env, service and version
    (docs.datadoghq.com/getting_started/tagging/unified_service_tagging, Kubernetes)."""
    return {"tags.datadoghq.com/env": env, "tags.datadoghq.com/service": service,
            "tags.datadoghq.com/version": version}


def scope(env: str, service: str) -> dict[str, str]:
    """The tags that select one service's telemetry: those unified service tagging sets."""
    labels = unified_service_labels(env, service, "")
    return {"env": labels["tags.datadoghq.com/env"], "service": labels["tags.datadoghq.com/service"]}


# The Agent's Kubernetes tags a distribution keeps queryable: breakdowns by namespace, deployment, pod.
KUBERNETES_TAGS = ("kube_namespace", "kube_deployment", "pod_name")


def percentile_tags(contract: MetricContract) -> list[str]:
    """Tag keys kept queryable on the latency distribution. A tag configuration is an allowlist for the
    whole organization: the scope, the version (canary comparisons), the model and the pods."""
    return sorted({"env", "service", "version", contract.model_label, *KUBERNETES_TAGS})
