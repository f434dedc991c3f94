"""A service's Datadog dashboard: its SLO, the same signals as the Grafana one, and the
deployment markers overlaid (pure; built with datadog-api-client's typed v1 models).

Metric names and scopes are the Datadog naming module's (what the Agent's OpenMetrics check
stores), so the dashboard reads exactly what the monitors read.
"""

from __future__ import annotations

from collections.abc import Mapping

from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.dashboard_layout_type import DashboardLayoutType
from datadog_api_client.v1.model.slo_widget_definition import SLOWidgetDefinition
from datadog_api_client.v1.model.slo_widget_definition_type import SLOWidgetDefinitionType
from datadog_api_client.v1.model.timeseries_widget_definition import TimeseriesWidgetDefinition
from datadog_api_client.v1.model.timeseries_widget_definition_type import TimeseriesWidgetDefinitionType
from datadog_api_client.v1.model.timeseries_widget_request import TimeseriesWidgetRequest
from datadog_api_client.v1.model.widget import Widget
from datadog_api_client.v1.model.widget_display_type import WidgetDisplayType
from datadog_api_client.v1.model.widget_event import WidgetEvent
from datadog_api_client.v1.model.widget_marker import WidgetMarker
from datadog_api_client.v1.model.widget_time_windows import WidgetTimeWindows
from datadog_api_client.v1.model.widget_view_mode import WidgetViewMode

from model.contract import HISTOGRAM_ROLES, Histogram, MetricContract, Series
from model.dialects.datadog import role_query, role_scope
from model.naming import datadog as naming
from model.naming.markers import deployment_filter
from model.numbers import plain
from model.slo import ServiceSlo

PERCENTILES = ("p50", "p95", "p99")


def event_query(env: str, service: str) -> str:
    """The events search that finds a service's deployment markers (every tag must match)."""
    marker, *tags = deployment_filter(env, service)
    return " ".join([f"tags:{marker}", *tags])


def queries(contract: MetricContract, env: str, service: str) -> dict[str, list[str]]:
    """Each timeseries widget's metric queries, for the signals the service's server provides."""
    tags = naming.scope(env, service)
    by_model = f" by {{{contract.model_label}}}" if contract.model_label else ""

    def metric(aggregation: str, role: Series) -> str:
        return f"{aggregation}:{naming.series_metric(role)}{role_scope(role, tags)}"

    found: dict[str, list[str]] = {}
    if contract.requests:
        found["requests"] = [f"{metric('sum', contract.requests)}{by_model}.as_rate()"]
        if contract.errors:
            found["error_ratio"] = [f"{role_query(contract.errors, tags)} / {role_query(contract.requests, tags)}"]
    for role in HISTOGRAM_ROLES:
        histogram = contract.role(role)
        if isinstance(histogram, Histogram):
            # In seconds, as the objective marked on it (Triton's histograms are in milliseconds).
            found[role] = [histogram.in_seconds(f"{p}:{naming.distribution(histogram.metric)}"
                                                f"{role_scope(histogram, tags)}") for p in PERCENTILES]
    if contract.input_tokens and contract.output_tokens:
        found["tokens"] = [f"{metric('sum', s)}{by_model}.as_count().rollup(sum, 3600)"
                           for s in (contract.input_tokens, contract.output_tokens)]
    if contract.cost:
        found["cost"] = [f"{metric('sum', contract.cost)}{by_model}.as_count().rollup(sum, 3600)"]
    if contract.queue:
        found["queue"] = [metric("avg", contract.queue)]
    if contract.kv_cache:
        found["kv_cache"] = [metric("max", contract.kv_cache)]
    return found


def service_dashboard(env: str, service: str, contract: MetricContract, slo: ServiceSlo,
                      slo_ids: Mapping[str, str]) -> dict:
    """The dashboard as the Dashboards API (and pulumi_datadog.DashboardJson) takes it; `slo_ids`: each
    SLO's id by its name."""
    found = queries(contract, env, service)
    overlay = [WidgetEvent(q=event_query(env, service))]
    # The SLO's period and a week, as the SLO itself offers them.
    windows = [WidgetTimeWindows(f"{days}d") for days in sorted({slo.objective.period_days, 7}, reverse=True)]
    saturation = slo.saturation

    def timeseries(title: str, panel: str, limit: float | None = None) -> Widget:
        markers = [WidgetMarker(value=f"y = {plain(limit)}", display_type="error dashed", label="objective")] \
            if limit is not None else []
        return Widget(definition=TimeseriesWidgetDefinition(
            type=TimeseriesWidgetDefinitionType.TIMESERIES, title=title, events=overlay, markers=markers,
            requests=[TimeseriesWidgetRequest(q=q, display_type=WidgetDisplayType.LINE) for q in found[panel]]))

    widgets = [Widget(definition=SLOWidgetDefinition(
        type=SLOWidgetDefinitionType.SLO, title=f"{service} {name}", view_type="detail", slo_id=slo_id,
        time_windows=windows, show_error_budget=True, view_mode=WidgetViewMode.OVERALL))
        for name, slo_id in slo_ids.items()]
    thresholds = {s.role: s.threshold_seconds for s in slo.latency_slos}
    listed = [
        ("requests", "Requests per second, per model", None),
        ("error_ratio", f"Error ratio (objective {plain(slo.objective.target * 100)}%)", slo.error_rate),
        ("latency", f"Latency P50/P95/P99 (P95 objective {plain(slo.p95_seconds)}s)", slo.p95_seconds),
        ("ttft", "Time to first token P50/P95/P99", thresholds.get("ttft")),
        ("tpot", "Time per output token P50/P95/P99", thresholds.get("tpot")),
        ("tokens", f"Tokens per hour, per model (budget {plain(slo.tokens_per_hour)})", slo.tokens_per_hour),
        ("cost", f"Cost per hour, per model (budget ${plain(slo.cost_per_hour)})", slo.cost_per_hour),
        ("queue", "Waiting requests per replica", saturation.queue_requests),
        ("kv_cache", "KV-cache usage, fullest replica", saturation.kv_cache_usage),
    ]
    widgets += [timeseries(title, key, limit) for key, title, limit in listed if key in found]
    dashboard = Dashboard(
        title=f"[{env}] {service}: inference SLOs",
        description=f"Generated by ai-observability from the metric contract and the SLOs of {service}.",
        layout_type=DashboardLayoutType.ORDERED,
        widgets=widgets,
    )
    document: dict = dashboard.to_dict()
    return document
