"""Scaling an LLM server on its queue (pure): a KEDA ScaledObject, or an HPA on an external metric.

An LLM server is CPU-idle while requests queue for its GPU, so CPU utilisation says nothing about
load; the requests waiting per replica do. Both engines divide the service's total waiting
requests by its replicas (metric type AverageValue) and size the deployment to keep that at the
target: KEDA asks Prometheus itself (keda.sh/docs scalers/prometheus); the HPA reads an external
metric that prometheus-adapter serves from the same query (its externalRules).
"""

from __future__ import annotations

from collections.abc import Mapping

from model.contract import MetricContract
from model.dialects import prometheus as dialect
from model.numbers import plain

KEDA_API = "keda.sh/v1alpha1"


def queue_query(contract: MetricContract, selector: Mapping[str, str]) -> str:
    """The service's waiting requests, summed over its replicas: one value, as both engines need."""
    return f"sum({dialect.role_series(contract.series('queue'), selector)})"


def external_metric_name(contract: MetricContract) -> str:
    """The name prometheus-adapter serves the queue under: an external metric name has no colon."""
    return contract.series("queue").metric.replace(":", "_")


def external_metric(contract: MetricContract, selector: Mapping[str, str], per_replica: float) -> dict:
    """The HPA's metric: the adapter's external metric for the service's series, per replica."""
    return {"type": "External", "external": {
        "metric": {"name": external_metric_name(contract), "selector": {"matchLabels": {"job": selector["job"]}}},
        "target": {"type": "AverageValue", "averageValue": plain(per_replica)}}}


def scaled_object(target: Mapping[str, str], min_replicas: int, max_replicas: int, behavior: Mapping, server: str,
                  query: str, per_replica: float, authentication: str | None = None) -> dict:
    """A ScaledObject's spec: KEDA makes and owns the HPA, so the service has none of its own. `target`: the
    workload's apiVersion, kind and name; `authentication` names the TriggerAuthentication the scaler uses."""
    trigger = {"type": "prometheus", "metricType": "AverageValue", "metadata": {
        "serverAddress": server, "query": query, "threshold": plain(per_replica)}}
    if authentication:
        trigger["authenticationRef"] = {"name": authentication}
    return {
        "scaleTargetRef": dict(target),
        "minReplicaCount": min_replicas,
        "maxReplicaCount": max_replicas,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": dict(behavior)}},
        "triggers": [trigger],
    }
