"""How an inference service's Prometheus metrics are named in Datadog.

The Datadog Agent scrapes each service's metrics endpoint with the OpenMetrics
check that the pod's autodiscovery annotation configures. The annotation and
every Datadog query are built here, so they cannot disagree: the check prefixes
NAMESPACE, lists counters without `_total` and submits them with `.count`, and
sends histogram buckets as a distribution (`.bucket`) so percentiles work,
with `.count` and `.sum` alongside.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings imports the SLO math, which imports this
    from components.settings import MetricContract

NAMESPACE = "inference"


def family(metric: str) -> str:
    """The OpenMetrics family name: counters lose `_total`."""
    return metric[: -len("_total")] if metric.endswith("_total") else metric


def count(counter: str) -> str:
    return f"{NAMESPACE}.{family(counter)}.count"


def distribution(histogram: str) -> str:
    return f"{NAMESPACE}.{histogram}.bucket"


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
