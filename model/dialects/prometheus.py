"""The catalogue in PromQL: recorded error ratios, then one alerting rule per catalogue entry.

Recording rules follow Sloth's names (slo:sli_error:ratio_rate<window>). A service's rules
form one group: Prometheus evaluates a group's rules in order at one timestamp, so each
alert reads the ratios recorded just before it, not the previous evaluation's.
"""

from __future__ import annotations

from collections.abc import Mapping

from model import catalogue
from model.catalogue import Alert, Threshold
from model.contract import MetricContract
from model.durations import prometheus
from model.naming import prometheus as naming
from model.numbers import plain
from model.slo import Objective

EVALUATION_INTERVAL = "1m"  # detection times add at most one of these
RECORDED_ERROR_RATIO = "slo:sli_error:ratio_rate{window}"
SLO_NAME = "availability"
UNSUPPORTED: dict[str, str] = {}  # Prometheus measures every signal of the catalogue


def matchers(labels: Mapping[str, str]) -> str:
    return ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))


def series(metric: str, labels: Mapping[str, str]) -> str:
    return f"{metric}{{{matchers(labels)}}}"


def slo_labels(service: str) -> dict[str, str]:
    return {"service": service, "slo": SLO_NAME}


def error_ratio(contract: MetricContract, selector: Mapping[str, str], minutes: int) -> str:
    """Failed over all requests; 0 while nothing failed yet, NaN (never alerting) without traffic."""
    window = prometheus(minutes)
    errors = {**selector, contract.status_label: contract.error_status}
    total = f"sum(rate({series(contract.requests, selector)}[{window}]))"
    # A counter child appears with its first increment: no error series means no errors yet.
    return f"(\n  sum(rate({series(contract.requests, errors)}[{window}]))\n  or\n  0 * {total}\n)\n/\n{total}"


def recorded_error_ratio(minutes: int) -> str:
    return RECORDED_ERROR_RATIO.format(window=prometheus(minutes))


def _count(metric: str, selector: Mapping[str, str], minutes: int) -> str:
    # No series at all counts as nothing: after a restart a counter child is absent until used.
    return f"(sum(increase({series(metric, selector)}[{prometheus(minutes)}])) or vector(0))"


def measure(threshold: Threshold, contract: MetricContract, selector: Mapping[str, str], service: str) -> str:
    """The PromQL whose value the threshold compares."""
    signal, minutes = threshold.signal, threshold.window_minutes
    if signal == catalogue.ERROR_RATIO:
        return series(recorded_error_ratio(minutes), slo_labels(service))
    if signal == catalogue.LATENCY:
        buckets = series(f"{contract.latency}_bucket", selector)
        rate = f"rate({buckets}[{prometheus(minutes)}])"
        return f"histogram_quantile({plain(threshold.quantile or 0)}, sum by (le) ({rate}))"
    if signal == catalogue.REQUESTS:
        return _count(contract.requests, selector, minutes)
    if signal == catalogue.TOKENS:
        return _count(contract.tokens, selector, minutes)
    if signal == catalogue.COST:
        return _count(contract.cost, selector, minutes)
    if signal == catalogue.TARGETS_UP:
        return f"(sum({series('up', selector)}) or vector(0))"
    raise ValueError(f"no PromQL for signal {signal}")


def expression(alert: Alert, contract: MetricContract, selector: Mapping[str, str]) -> str:
    """Any alternative whose clauses all hold. `and on()` joins clauses whatever their labels."""
    alternatives = []
    for clauses in alert.any_of:
        thresholds = [t for clause in clauses for t in catalogue.expand(clause)]
        alternatives.append("\nand on()\n".join(
            f"{measure(t, contract, selector, alert.service)} {t.comparator} {plain(t.value)}" for t in thresholds))
    if len(alternatives) == 1:
        return alternatives[0]
    return "\nor\n".join(f"(\n{alternative}\n)" for alternative in alternatives)


def alert_labels(alert: Alert, namespace: str, team: str) -> dict[str, str]:
    """Routing labels. `namespace` too: the operator matches an AlertmanagerConfig's routes and
    inhibitions on it, and no alert here derives it from a series."""
    return {"severity": alert.severity, "routing": alert.route, "service": alert.service, "team": team,
            "namespace": namespace}


def rule_group(alerts: tuple[Alert, ...], objective: Objective, contract: MetricContract, namespace: str,
               team: str) -> dict:
    """One service's rule group, exactly as promtool and the operator read it."""
    service = alerts[0].service
    selector = naming.selector(service, namespace)
    labels = slo_labels(service)
    recordings = [{"record": recorded_error_ratio(minutes), "expr": error_ratio(contract, selector, minutes),
                   "labels": dict(labels)} for minutes in catalogue.error_ratio_windows(alerts)]
    recordings += [
        {"record": record, "expr": f"vector({plain(value)})", "labels": dict(labels)}
        for record, value in (("slo:objective:ratio", objective.target),
                              ("slo:error_budget:ratio", objective.error_budget))
    ]
    rules = [{
        "alert": alert.name,
        "expr": expression(alert, contract, selector),
        **({"for": prometheus(alert.hold_minutes)} if alert.hold_minutes else {}),
        "labels": alert_labels(alert, namespace, team),
        "annotations": {"summary": alert.summary, "description": alert.description, "runbook_url": alert.runbook_url},
    } for alert in alerts]
    return {"name": f"{service}-slo", "interval": EVALUATION_INTERVAL, "rules": recordings + rules}
