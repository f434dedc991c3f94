"""A service's Grafana dashboard, built from the metric contract and its objectives (pure).

Every query reads a contract metric or a rule the Prometheus dialect records; every limit drawn
is the service's own objective; the deployment markers are overlaid by their tags. The JSON is
built with grafana-foundation-sdk's typed builders (pinned to the Grafana 11.6 schema).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
from grafana_foundation_sdk.builders.dashboard import (
    AnnotationQuery,
    AnnotationTarget,
    Dashboard,
    DatasourceVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode

from model.contract import HISTOGRAM_ROLES, Histogram, MetricContract, Series
from model.dialects import prometheus as dialect
from model.naming.markers import deployment_filter
from model.numbers import plain
from model.slo import AVAILABILITY, ServiceSlo

DATASOURCE_VARIABLE = "datasource"  # picked in the dashboard: no datasource uid is assumed
# Grafana's built-in annotation source, which serves the annotations its HTTP API stores.
BUILT_IN_ANNOTATIONS = DataSourceRef(type_val="grafana", uid="-- Grafana --")
RATE_WINDOW = "5m"
TAGS = ["ai-observability", "generated"]


@dataclass(frozen=True)
class DashboardInputs:
    stack: str
    service: str
    contract: MetricContract
    slo: ServiceSlo
    selector: Mapping[str, str]  # the labels every series of the service carries
    ratio_windows: Mapping[str, list[int]]  # minutes each SLO's bad-event ratio is recorded over, by SLO


def uid(stack: str, service: str) -> str:
    """Stable across renders, unique per stack and service, within Grafana's 40 characters."""
    return f"aio-{stack}-{service}"[:40]


def _query(expr: str, legend: str, ref: str) -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def _limit_line(limit: float) -> ThresholdsConfig:
    """A red line at the objective (Grafana draws thresholds as lines with the style below)."""
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([
        Threshold(value=None, color="green"), Threshold(value=limit, color="red")])


def _timeseries(number: int, title: str, unit: str, queries: list[Dataquery],
                limit: float | None = None) -> timeseries.Panel:
    panel = (timeseries.Panel().id(number).title(title).unit(unit).height(8).span(12)
             .datasource(DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")))
    for query in queries:
        panel = panel.with_target(query)
    if limit is not None:
        panel = panel.thresholds(_limit_line(limit)).thresholds_style(
            GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE))
    return panel


def queries(inputs: DashboardInputs) -> dict[str, list[tuple[str, str]]]:
    """Each panel's (PromQL, legend) pairs, for the signals the service's server provides: what the
    dashboard plots, apart from how it is drawn."""
    contract, selector = inputs.contract, inputs.selector
    by_model = f" by ({contract.model_label})" if contract.model_label else ""
    legend = f"{{{{{contract.model_label}}}}}" if contract.model_label else inputs.service

    def role(found: Series) -> str:
        return dialect.role_series(found, selector)

    found: dict[str, list[tuple[str, str]]] = {}
    for name, windows in inputs.ratio_windows.items():
        labels = dialect.slo_labels(inputs.service, name)
        budget = dialect.series(dialect.RECORDED_ERROR_BUDGET, labels)
        found[f"ratio:{name}"] = [(dialect.series(dialect.recorded_error_ratio(minutes), labels),
                                   f"bad ratio {dialect.prometheus(minutes)}") for minutes in windows] + \
            [(budget, "error budget (1 - objective)")]
        found[f"burn:{name}"] = [(f"{dialect.series(dialect.recorded_error_ratio(minutes), labels)} / {budget}",
                                  f"burn rate {dialect.prometheus(minutes)}") for minutes in windows]
    if contract.requests:
        every = role(contract.requests)
        found["requests"] = [(f"sum{by_model} (rate({every}[{RATE_WINDOW}]))", legend)]
        if contract.errors and AVAILABILITY in inputs.ratio_windows:
            period = f"{inputs.slo.objective.period_days}d"
            budget = dialect.series(dialect.RECORDED_ERROR_BUDGET, dialect.slo_labels(inputs.service))
            found["budget_remaining"] = [(
                f"1 - ((sum(increase({role(contract.errors)}[{period}])) or 0 * sum(increase({every}[{period}]))) "
                f"/ sum(increase({every}[{period}]))) / {budget}", f"budget left over {period}")]
    for name in HISTOGRAM_ROLES:
        histogram = contract.role(name)
        if isinstance(histogram, Histogram):
            buckets = dialect.series(f"{histogram.metric}_bucket", selector, histogram.matchers)
            found[name] = [(histogram.in_seconds(f"histogram_quantile({plain(q)}, sum by (le) "
                                                 f"(rate({buckets}[{RATE_WINDOW}])))"), quantile)
                           for quantile, q in (("P50", 0.5), ("P95", 0.95), ("P99", 0.99))]
    if contract.input_tokens and contract.output_tokens:
        found["tokens"] = [(f"sum{by_model} (increase({role(contract.input_tokens)}[1h]))", f"{legend} input"),
                           (f"sum{by_model} (increase({role(contract.output_tokens)}[1h]))", f"{legend} output")]
    if contract.cost:
        found["cost"] = [(f"sum{by_model} (increase({role(contract.cost)}[1h]))", legend)]
    saturation = [(f"avg(avg_over_time({role(s)}[{RATE_WINDOW}]))", what) for s, what in
                  ((contract.queue, "waiting requests per replica"),) if s]
    if saturation:
        found["queue"] = saturation
    if contract.kv_cache:
        found["kv_cache"] = [(f"max(avg_over_time({role(contract.kv_cache)}[{RATE_WINDOW}]))", "fullest replica")]
    quality = [(f"avg(avg_over_time({role(s)}[1h]))", what) for s, what, limit in (
        (contract.quality, "quality score", inputs.slo.quality.min_score),
        (contract.drift, "drift", inputs.slo.quality.max_drift),
        (contract.hallucination_rate, "hallucination rate", inputs.slo.quality.max_hallucination_rate))
        if s and limit is not None]
    if quality:
        found["quality"] = quality
    return found


def panels(inputs: DashboardInputs) -> list[tuple[str, str, str, float | None]]:
    """(query key, title, unit, the limit drawn) of each timeseries panel, in order."""
    slo, target = inputs.slo, plain(inputs.slo.objective.target * 100)
    latency_slos = {s.name: s for s in slo.latency_slos}
    saturation, quality = slo.saturation, slo.quality
    listed: list[tuple[str, str, str, float | None]] = [("requests", "Requests per second, per model", "reqps", None)]
    for name in inputs.ratio_windows:
        what = latency_slos[name] if name in latency_slos else None
        promise = (f"over {plain(what.threshold_seconds)}s, objective {plain(what.objective.target * 100)}% within"
                   if what else f"failed requests, objective {target}%")
        listed += [(f"ratio:{name}", f"{name}: bad-event ratio ({promise})", "percentunit",
                    slo.error_rate if name == AVAILABILITY else None),
                   (f"burn:{name}", f"{name}: burn rate per window (1 spends the budget in exactly the period)",
                    "none", 1)]
    listed += [
        ("latency", f"Latency P50/P95/P99 (objectives P95 {plain(slo.p95_seconds)}s, P99 {plain(slo.p99_seconds)}s)",
         "s", slo.p95_seconds),
        *((role, f"{name.replace('-', ' ').capitalize()} P50/P95/P99 (objective {plain(s.threshold_seconds)}s)",
           "s", s.threshold_seconds) for name, s in latency_slos.items() for role in (s.role,) if role != "latency"),
        ("tokens", f"Tokens per hour, per model (budget {plain(slo.tokens_per_hour)})", "short",
         slo.tokens_per_hour),
        ("cost", f"Cost per hour, per model (budget ${plain(slo.cost_per_hour)})", "currencyUSD", slo.cost_per_hour),
        ("queue", f"Waiting requests per replica (alert above {plain(saturation.queue_requests)})", "short",
         saturation.queue_requests),
        ("kv_cache", f"KV-cache usage (alert above {plain(saturation.kv_cache_usage * 100)}%)", "percentunit",
         saturation.kv_cache_usage),
        ("quality", "Model quality signals (hourly averages)", "short", quality.min_score),
    ]
    # A latency histogram without an SLO is still worth seeing: TTFT and TPOT when the server has them.
    listed += [(role, f"{role.upper()} P50/P95/P99", "s", None) for role in ("ttft", "tpot")
               if role not in {s.role for s in latency_slos.values()}]
    return listed


def service_dashboard(inputs: DashboardInputs) -> dict:
    """The dashboard's JSON model, as Grafana's provisioning (and the sidecar) reads it."""
    found, slo = queries(inputs), inputs.slo

    def targets(panel: str) -> list[Dataquery]:
        return [_query(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(found[panel])]

    markers = AnnotationTarget().type("tags").tags(deployment_filter(inputs.stack, inputs.service)) \
        .match_any(False).limit(100)
    dashboard = (
        Dashboard(f"{inputs.service} ({inputs.stack}): inference SLOs")
        .uid(uid(inputs.stack, inputs.service)).tags([*TAGS, f"env:{inputs.stack}", f"service:{inputs.service}"])
        .time("now-6h", "now").refresh("1m").editable()
        .with_variable(DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus"))
        .annotation(AnnotationQuery().name("Deployments").datasource(BUILT_IN_ANNOTATIONS).enable(True)
                    .icon_color("blue").target(markers))
    )
    number = 0
    for key, title, unit, limit in panels(inputs):
        if key in found:
            number += 1
            dashboard = dashboard.with_panel(_timeseries(number, title, unit, targets(key), limit))
        if key == f"burn:{AVAILABILITY}" and "budget_remaining" in found:
            number += 1
            dashboard = dashboard.with_panel(
                stat.Panel().id(number).title(f"Error budget remaining ({slo.objective.period_days} days)")
                .unit("percentunit").height(8).span(12)
                .datasource(DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}"))
                .with_target(targets("budget_remaining")[0]))
    document: dict = json.loads(JSONEncoder(sort_keys=True).encode(dashboard.build()))
    return document
