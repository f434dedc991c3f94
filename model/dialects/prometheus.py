"""The catalogue in PromQL: recorded bad-event ratios per SLO, then one alerting rule per catalogue entry.

Recording rules follow Sloth's names (slo:sli_error:ratio_rate<window>, labelled with the SLO:
availability, or a latency SLO such as time-to-first-token, whose bad events are those above
its threshold's histogram bucket). A service's rules
form one group: Prometheus evaluates a group's rules in order at one timestamp, so each
alert reads the ratios recorded just before it, not the previous evaluation's.
"""

from __future__ import annotations

from collections.abc import Mapping

from model import catalogue
from model.catalogue import Alert, Threshold
from model.contract import Histogram, Matcher, MetricContract, Series
from model.durations import prometheus
from model.naming import prometheus as naming
from model.numbers import plain
from model.slo import AVAILABILITY, ServiceSlo

EVALUATION_INTERVAL = "1m"  # detection times add at most one of these
RECORDED_ERROR_RATIO = "slo:sli_error:ratio_rate{window}"
RECORDED_OBJECTIVE, RECORDED_ERROR_BUDGET = "slo:objective:ratio", "slo:error_budget:ratio"
UNSUPPORTED: dict[str, str] = {}  # Prometheus measures every signal of the catalogue


def matchers(labels: Mapping[str, str], extra: tuple[Matcher, ...] = ()) -> str:
    return ",".join([*(f'{key}="{value}"' for key, value in sorted(labels.items())), *(str(m) for m in extra)])


def series(metric: str, labels: Mapping[str, str], extra: tuple[Matcher, ...] = ()) -> str:
    return f"{metric}{{{matchers(labels, extra)}}}"


def role_series(role: Series, selector: Mapping[str, str]) -> str:
    """A role's samples among the service's series."""
    return series(role.metric, selector, role.matchers)


def slo_labels(service: str, slo: str = AVAILABILITY) -> dict[str, str]:
    return {"service": service, "slo": slo}


def error_ratio(contract: MetricContract, selector: Mapping[str, str], minutes: int) -> str:
    """Failed over all requests; 0 while nothing failed yet, NaN (never alerting) without traffic."""
    window = prometheus(minutes)
    requests, errors = contract.series("requests"), contract.series("errors")
    total = f"sum(rate({role_series(requests, selector)}[{window}]))"
    # A counter child appears with its first increment: no error series means no errors yet.
    return f"(\n  sum(rate({role_series(errors, selector)}[{window}]))\n  or\n  0 * {total}\n)\n/\n{total}"


def slow_ratio(histogram: Histogram, threshold_seconds: float, selector: Mapping[str, str], minutes: int) -> str:
    """Events above the threshold over all events: 1 - the threshold's bucket over the count. NaN without traffic."""
    window = prometheus(minutes)
    bucket = naming.bucket_matcher(histogram.le(threshold_seconds))
    within = f"{histogram.metric}_bucket{{{matchers(selector, histogram.matchers)},{bucket}}}"
    return (f"1 - (\n  sum(rate({within}[{window}]))\n/\n"
            f"  sum(rate({role_series(histogram.count, selector)}[{window}]))\n)")


def recorded_error_ratio(minutes: int) -> str:
    return RECORDED_ERROR_RATIO.format(window=prometheus(minutes))


def _count(role: Series, selector: Mapping[str, str], minutes: int) -> str:
    # No series at all counts as nothing: after a restart a counter child is absent until used.
    return f"(sum(increase({role_series(role, selector)}[{prometheus(minutes)}])) or vector(0))"


def _gauge(aggregation: str, role: Series, selector: Mapping[str, str], minutes: int) -> str:
    return f"{aggregation}(avg_over_time({role_series(role, selector)}[{prometheus(minutes)}]))"


# The collector's internal metrics as Prometheus stores them at the pinned version (0.153): no `_total` or unit
# suffix (service/telemetry's Prometheus reader defaults WithoutTypeSuffix and WithoutUnits, explicit readers
# too since 0.152), labelled by `exporter` or `receiver` (and `data_type` on the queue's gauges).
PIPELINE_ITEMS = ("spans", "metric_points", "log_records")


def pipeline_measure(signal: str, selector: Mapping[str, str], window: str) -> str:
    """The collector's own signals, per exporter or receiver and kind of item; the worst one is compared."""
    def rate(metric: str, by: str) -> str:
        return f"sum by ({by}) (rate({series(metric, selector)}[{window}]))"

    def worst(per_items: dict[str, str]) -> str:
        # Each kind labelled apart, so that `or` keeps them all (it drops a right side with the same labels).
        return "max(\n" + "\nor\n".join(f'label_replace({expr}, "items", "{items}", "", "")'
                                          for items, expr in per_items.items()) + "\n)"

    if signal in (catalogue.EXPORT_FAILURES, catalogue.REFUSED):
        # Failed over tried: a failure or refusal counter exists from the first one on, and with it the ratio.
        failed, done, by = (("otelcol_exporter_send_failed_", "otelcol_exporter_sent_", "exporter")
                            if signal == catalogue.EXPORT_FAILURES else
                            ("otelcol_receiver_refused_", "otelcol_receiver_accepted_", "receiver"))
        return worst({items: f"{rate(failed + items, by)} / ({rate(done + items, by)} + {rate(failed + items, by)})"
                      for items in PIPELINE_ITEMS})
    if signal == catalogue.ENQUEUE_FAILURES:
        return worst({items: rate(f"otelcol_exporter_enqueue_failed_{items}", "exporter") for items in PIPELINE_ITEMS})
    if signal == catalogue.COLLECTOR_UP:
        return f"(sum({series('up', selector)}) or vector(0))"
    if signal == catalogue.HANDOFF_FAILURES:
        # loadbalancingexporter's metadata: backend_outcome counts each export to a backend, `success` true or
        # false. Without a sampling tier there is no such series, and the alert says nothing.
        outcomes = series("otelcol_loadbalancer_backend_outcome", selector)
        failed = series("otelcol_loadbalancer_backend_outcome", selector, (Matcher("success", "false"),))
        return f"sum(rate({failed}[{window}])) / sum(rate({outcomes}[{window}]))"
    if signal == catalogue.QUEUE_FILL:
        return (f"max(max by (exporter, data_type) ({series('otelcol_exporter_queue_size', selector)}) / "
                f"max by (exporter, data_type) ({series('otelcol_exporter_queue_capacity', selector)}))")
    raise ValueError(f"no PromQL for pipeline signal {signal}")


def measure(threshold: Threshold, contract: MetricContract | None, selector: Mapping[str, str], service: str,
            gpu_selector: tuple[Matcher, ...] | None = None) -> str:
    """The PromQL whose value the threshold compares; the pipeline's own signals need no contract."""
    signal, minutes = threshold.signal, threshold.window_minutes
    window = prometheus(minutes)
    if signal in catalogue.PIPELINE_SIGNALS:
        return pipeline_measure(signal, selector, window)
    if signal == catalogue.TARGETS_UP:
        return f"(sum({series('up', selector)}) or vector(0))"
    if contract is None:
        raise ValueError(f"{threshold} reads a service's metrics: it needs the service's contract")
    if signal in (catalogue.ERROR_RATIO, catalogue.SLOW_RATIO):
        return series(recorded_error_ratio(minutes), slo_labels(service, threshold.slo))
    if signal == catalogue.LATENCY:
        if threshold.seconds is None:
            raise ValueError(f"{threshold} has no objective to count slower requests against")
        return slow_ratio(contract.histogram("latency"), threshold.seconds, selector, minutes)
    if signal == catalogue.REQUESTS:
        return _count(contract.series("requests"), selector, minutes)
    if signal == catalogue.TOKENS:
        return " + ".join(_count(contract.series(role), selector, minutes)
                          for role in ("input_tokens", "output_tokens"))
    if signal == catalogue.COST:
        return _count(contract.series("cost"), selector, minutes)
    if signal == catalogue.FEEDBACK:
        return _count(contract.series("feedback"), selector, minutes)
    if signal == catalogue.NEGATIVE_FEEDBACK:
        negative, every = contract.series("negative_feedback"), contract.series("feedback")
        return f"{_count(negative, selector, minutes)} / {_count(every, selector, minutes)}"
    if signal == catalogue.QUEUE:  # per replica: the replicas' average
        return _gauge("avg", contract.series("queue"), selector, minutes)
    if signal == catalogue.KV_CACHE:  # the fullest replica
        return _gauge("max", contract.series("kv_cache"), selector, minutes)
    if signal in (catalogue.QUALITY, catalogue.DRIFT, catalogue.HALLUCINATION_RATE):
        return _gauge("avg", contract.series(signal), selector, minutes)
    if signal in (catalogue.GPU_UTILIZATION, catalogue.GPU_MEMORY, catalogue.GPU_XID):
        if gpu_selector is None:
            raise ValueError(f"{threshold} needs the service's GPU series")
        return gpu_measure(signal, gpu_selector, window)
    raise ValueError(f"no PromQL for signal {signal}")


def gpu_measure(signal: str, selector: tuple[Matcher, ...], window: str) -> str:
    """DCGM's gauges for the service's GPUs: utilisation is a percentage, memory in MiB used and free."""
    def over(metric: str, function: str = "avg_over_time") -> str:
        return f"{function}({series(metric, {}, selector)}[{window}])"

    if signal == catalogue.GPU_UTILIZATION:
        return f"avg({over(naming.DCGM_UTILIZATION)}) / 100"
    if signal == catalogue.GPU_MEMORY:
        used, free = over(naming.DCGM_MEMORY_USED), over(naming.DCGM_MEMORY_FREE)
        return f"max({used} / ({used} + {free}))"
    # The gauge keeps the last XID until the driver restarts: a new error is the value changing to a
    # number, which the comparison then reads (0 where nothing changed).
    xid = series(naming.DCGM_XID, {}, selector)
    return f"max((changes({xid}[{window}]) > bool 0) * {xid})"


def expression(alert: Alert, contract: MetricContract | None, selector: Mapping[str, str],
               gpu_selector: tuple[Matcher, ...] | None = None) -> str:
    """Any alternative whose clauses all hold. `and on()` joins clauses whatever their labels."""
    alternatives = []
    for clauses in alert.any_of:
        thresholds = [t for clause in clauses for t in catalogue.expand(clause)]
        alternatives.append("\nand on()\n".join(
            f"{measure(t, contract, selector, alert.service, gpu_selector)} {t.comparator} {plain(t.value)}"
            for t in thresholds))
    if len(alternatives) == 1:
        return alternatives[0]
    return "\nor\n".join(f"(\n{alternative}\n)" for alternative in alternatives)


def alert_labels(alert: Alert, namespace: str, team: str) -> dict[str, str]:
    """Routing labels. `namespace` too: the operator matches an AlertmanagerConfig's routes and
    inhibitions on it, and no alert here derives it from a series."""
    return {"severity": alert.severity, "routing": alert.route, "service": alert.service, "team": team,
            "namespace": namespace}


def recording_rules(alerts: tuple[Alert, ...], slo: ServiceSlo, contract: MetricContract,
                    selector: Mapping[str, str]) -> list[dict]:
    """Each SLO's bad-event ratio over every window its alerts read, then its objective and budget."""
    service = alerts[0].service
    latency_slos = {s.name: s for s in slo.latency_slos}
    objectives = {AVAILABILITY: slo.objective, **{name: s.objective for name, s in latency_slos.items()}}
    recordings = []
    for name, windows in catalogue.ratio_windows(alerts).items():
        labels = slo_labels(service, name)
        for minutes in windows:
            latency_slo = latency_slos.get(name)
            expr = (slow_ratio(contract.histogram(latency_slo.role), latency_slo.threshold_seconds, selector, minutes)
                    if latency_slo else error_ratio(contract, selector, minutes))
            recordings.append({"record": recorded_error_ratio(minutes), "expr": expr, "labels": dict(labels)})
        recordings += [{"record": record, "expr": f"vector({plain(value)})", "labels": dict(labels)}
                       for record, value in ((RECORDED_OBJECTIVE, objectives[name].target),
                                             (RECORDED_ERROR_BUDGET, objectives[name].error_budget))]
    return recordings


def alerting_rule(alert: Alert, contract: MetricContract | None, selector: Mapping[str, str],
                  labels: Mapping[str, str],
                  gpu_selector: tuple[Matcher, ...] | None = None) -> dict:
    return {
        "alert": alert.name,
        "expr": expression(alert, contract, selector, gpu_selector),
        **({"for": prometheus(alert.hold_minutes)} if alert.hold_minutes else {}),
        "labels": dict(labels),
        "annotations": {"summary": alert.summary, "description": alert.description, "runbook_url": alert.runbook_url},
    }


def rule_group(alerts: tuple[Alert, ...], slo: ServiceSlo, contract: MetricContract, namespace: str,
               team: str) -> dict:
    """One service's rule group, exactly as promtool and the operator read it."""
    service = alerts[0].service
    selector = naming.selector(service, namespace)
    gpus = naming.gpu_selector(service, namespace)
    rules = [alerting_rule(alert, contract, selector, alert_labels(alert, namespace, team), gpus) for alert in alerts]
    return {"name": f"{service}-slo", "interval": EVALUATION_INTERVAL,
            "rules": recording_rules(alerts, slo, contract, selector) + rules}


def pipeline_rule_group(alerts: tuple[Alert, ...], workload: str, namespace: str, team: str) -> dict:
    """The telemetry pipeline's alerts, on one collector tier's own series (its PodMonitor's job and namespace),
    labelled with the tier as their service: each tier's alerts are its own."""
    selector = naming.selector(workload, namespace)
    return {"name": f"{workload}-pipeline", "interval": EVALUATION_INTERVAL,
            "rules": [alerting_rule(alert, None, selector,
                                    {**alert_labels(alert, namespace, team), "service": workload})
                      for alert in alerts]}
