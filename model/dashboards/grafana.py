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

from model.contract import MetricContract
from model.dialects import prometheus as dialect
from model.naming.markers import deployment_filter
from model.numbers import plain
from model.slo import ServiceSlo

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
    error_ratio_windows: tuple[int, ...]  # minutes, each recorded by the service's rule group


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
    """Each panel's (PromQL, legend) pairs: what the dashboard plots, apart from how it is drawn."""
    contract, selector = inputs.contract, inputs.selector
    every = dialect.series(contract.requests, selector)
    errors = dialect.series(contract.requests, {**selector, contract.status_label: contract.error_status})
    labels = dialect.slo_labels(inputs.service)
    budget = dialect.series("slo:error_budget:ratio", labels)
    period = f"{inputs.slo.objective.period_days}d"
    buckets = dialect.series(f"{contract.latency}_bucket", selector)
    model = contract.model_label
    return {
        "requests": [(f"sum by ({model}) (rate({every}[{RATE_WINDOW}]))", f"{{{{{model}}}}}")],
        "error_ratio": [(dialect.series(dialect.recorded_error_ratio(minutes), labels), f"error ratio {name}")
                        for minutes, name in _windows(inputs)] + [(budget, "error budget (1 - objective)")],
        "burn_rate": [(f"{dialect.series(dialect.recorded_error_ratio(minutes), labels)} / {budget}",
                       f"burn rate {name}") for minutes, name in _windows(inputs)],
        "budget_remaining": [(f"1 - ((sum(increase({errors}[{period}])) or 0 * sum(increase({every}[{period}]))) "
                              f"/ sum(increase({every}[{period}]))) / {budget}", f"budget left over {period}")],
        "latency": [(f"histogram_quantile({plain(q)}, sum by (le) (rate({buckets}[{RATE_WINDOW}])))", name)
                    for name, q in (("P50", 0.5), ("P95", 0.95), ("P99", 0.99))],
        "tokens": [(f"sum by ({model}, {contract.token_type_label}) (increase("
                    f"{dialect.series(contract.tokens, selector)}[1h]))",
                    f"{{{{{model}}}}} {{{{{contract.token_type_label}}}}}")],
        "cost": [(f"sum by ({model}) (increase({dialect.series(contract.cost, selector)}[1h]))", f"{{{{{model}}}}}")],
    }


def _windows(inputs: DashboardInputs) -> list[tuple[int, str]]:
    return [(minutes, dialect.prometheus(minutes)) for minutes in inputs.error_ratio_windows]


def service_dashboard(inputs: DashboardInputs) -> dict:
    """The dashboard's JSON model, as Grafana's provisioning (and the sidecar) reads it."""
    found, slo = queries(inputs), inputs.slo

    def targets(panel: str) -> list[Dataquery]:
        return [_query(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(found[panel])]

    markers = AnnotationTarget().type("tags").tags(deployment_filter(inputs.stack, inputs.service)) \
        .match_any(False).limit(100)
    target = plain(slo.objective.target * 100)
    dashboard = (
        Dashboard(f"{inputs.service} ({inputs.stack}): inference SLOs")
        .uid(uid(inputs.stack, inputs.service)).tags([*TAGS, f"env:{inputs.stack}", f"service:{inputs.service}"])
        .time("now-6h", "now").refresh("1m").editable()
        .with_variable(DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus"))
        .annotation(AnnotationQuery().name("Deployments").datasource(BUILT_IN_ANNOTATIONS).enable(True)
                    .icon_color("blue").target(markers))
        .with_panel(_timeseries(1, "Requests per second, per model", "reqps", targets("requests")))
        .with_panel(_timeseries(2, f"Error ratio against the {target}% objective", "percentunit",
                                targets("error_ratio"), slo.error_rate))
        .with_panel(_timeseries(3, "Burn rate per window (1 spends the budget in exactly the period)", "none",
                                targets("burn_rate"), 1))
        .with_panel(stat.Panel().id(4).title(f"Error budget remaining ({slo.objective.period_days} days)")
                    .unit("percentunit").height(8).span(12)
                    .datasource(DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}"))
                    .with_target(targets("budget_remaining")[0]))
        .with_panel(_timeseries(5, f"Latency P50/P95/P99 (objectives P95 {plain(slo.p95_seconds)}s, "
                                f"P99 {plain(slo.p99_seconds)}s)", "s", targets("latency"), slo.p95_seconds))
        .with_panel(_timeseries(6, f"Tokens per hour, per model (budget {plain(slo.tokens_per_hour)})", "short",
                                targets("tokens"), slo.tokens_per_hour))
        .with_panel(_timeseries(7, f"Cost per hour, per model (budget ${plain(slo.cost_per_hour)})", "currencyUSD",
                                targets("cost"), slo.cost_per_hour))
    ).build()
    document: dict = json.loads(JSONEncoder(sort_keys=True).encode(dashboard))
    return document
