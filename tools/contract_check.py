"""A service's /metrics against its stack's metric contract: `make contract-check URL=... STACK=... SERVICE=...`.

The CI gate teams run against their own server, from the seeds: every role the service's alerts
use present under its preset's name, with the type and label names the platform's alerts select
on, counters named `_total`, the series a role's matchers pick (the error status) initialised,
and each histogram's buckets as declared, the latency one with a bucket at each latency objective
(the share of requests slower than an objective is read from its bucket). A role the server's preset lacks is reported
with the alerts excluded for it. Exit 0 when the service keeps the contract, 1 when it does not,
2 when it cannot be checked.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_classic

from config import ConfigError
from config.settings import ServiceSettings
from model import catalogue
from model.contract import COUNTER, Histogram, Matcher, MetricContract, Series
from model.numbers import plain
from tools import stack_config
from tools.render import settings_of
from tools.stack_file import StackFileError

TIMEOUT_SECONDS = 10
# The classic text format, which every client library serves; one that answers in OpenMetrics
# anyway is read as such.
ACCEPT = "text/plain;version=0.0.4"
OPENMETRICS = "application/openmetrics-text"


OK, FAIL, LACKING = "ok  ", "FAIL", "n/a "


@dataclass(frozen=True)
class Finding:
    metric: str  # the role's metric, or the role itself when the server lacks it
    status: str  # OK, FAIL or LACKING
    said: str

    @property
    def ok(self) -> bool:
        return self.status != FAIL

    def __str__(self) -> str:
        return f"{self.status} {self.metric}: {self.said}"


def used_roles(service: ServiceSettings) -> dict[str, list[str]]:
    """The roles the service's alerts are measured from, with the alerts that use each."""
    used: dict[str, list[str]] = {}
    for alert in catalogue.for_service(service, "https://runbooks.invalid").declared:
        for role in catalogue.roles(alert):
            used.setdefault(role, []).append(alert.name)
    return used


SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def sample_names(exposition: str) -> set[str]:
    """The names samples are exposed under, which Prometheus stores them by (the client's parser
    adds `_total` to a counter's samples where the server left it out, so it cannot tell)."""
    return {match.group(0) for line in exposition.splitlines()
            if not line.startswith("#") and (match := SAMPLE_NAME.match(line))}


def check(exposition: str, service: ServiceSettings, content_type: str = ACCEPT,
          roles: dict[str, list[str]] | None = None) -> list[Finding]:
    """A finding for each role the service's alerts use (or `roles`, with the alerts using each): present as
    the contract says, or lacking from the server (and so its alerts excluded); ValueError when the
    exposition cannot be parsed."""
    parse = parse_openmetrics if content_type.startswith(OPENMETRICS) else parse_classic
    families = {f.name: f for f in parse(exposition)}
    exposed = sample_names(exposition)
    contract = service.metrics
    findings = []
    for role, alerts in (used_roles(service) if roles is None else roles).items():
        found = contract.role(role)
        if found is None:
            excluded = f"; excluded: {', '.join(alerts)}" if alerts else ""
            findings.append(Finding(role, LACKING, f"{contract.missing((role,))}{excluded}"))
        elif isinstance(found, Histogram):
            findings.append(_histogram(found, families, contract, service))
        else:
            findings.append(_series(found, families, exposed, contract))
    return findings


def _family(series: Series, families: dict) -> tuple[Any, str]:
    """The family holding a series' samples, and its type as the contract sees it."""
    if series.histogram:
        return families.get(series.histogram), "histogram"
    # The parser names a counter's family without `_total`, and anything else by its sample name.
    family = (families.get(series.metric.removesuffix("_total")) if series.type == COUNTER else None) \
        or families.get(series.metric)
    return family, series.type


def _needed_labels(matchers: tuple[Matcher, ...], contract: MetricContract) -> set[str]:
    """The labels a role's series must carry: its matchers', and the model label where our own contract
    puts it on every series (servers label some families by model and not others)."""
    model = {contract.model_label} if contract.model_label and contract.preset == "default" else set()
    return {m.label for m in matchers if not m.negated} | model


def _labels_problem(samples: list, needed: set[str]) -> str | None:
    seen = {frozenset(set(s.labels) - {"le"}) for s in samples}
    lacking = sorted({label for labels in seen for label in needed - labels})
    if lacking:
        found = " or ".join(sorted("{" + ",".join(sorted(s)) + "}" for s in seen))
        return f"labelled {found}; the contract selects on {{{','.join(sorted(needed))}}}"
    return None


def _series(series: Series, families: dict, exposed: set[str], contract: MetricContract) -> Finding:
    family, kind = _family(series, families)
    if family is None:
        return Finding(series.metric, FAIL, f"missing: no {kind} of this name is exposed")
    if family.type != kind:
        exposed_as = "untyped (no # TYPE line)" if family.type == "unknown" else f"a {family.type}"
        return Finding(series.metric, FAIL, f"is {exposed_as}; the contract's is a {kind}")
    if series.type == COUNTER and not series.histogram and series.metric not in exposed:
        return Finding(series.metric, FAIL, f"exposed as {family.name}, without _total: Prometheus stores it "
                                            "under that name, which the platform's queries do not select")
    samples = [s for s in family.samples if not s.name.endswith(("_created", "_gsum", "_gcount"))]
    if not samples:
        return Finding(series.metric, FAIL, "exposed without a sample, so its labels cannot be checked; "
                                            "initialise its label combinations when the service starts")
    needed = _needed_labels(series.matchers, contract)
    if (problem := _labels_problem(samples, needed)) is not None:
        return Finding(series.metric, FAIL, problem)

    def selected(sample: Any) -> bool:  # a missing label matches as empty, as in PromQL
        return all((sample.labels.get(m.label, "") == m.value) != m.negated for m in series.matchers)

    # A histogram part's own samples (_count, not _bucket); a counter's all (the parser may add _total).
    own = [s for s in samples if s.name == series.metric] or samples
    if series.matchers and not any(selected(s) for s in own):
        selector = ",".join(str(m) for m in series.matchers)
        return Finding(series.metric, FAIL, f"no {{{selector}}} series: the role's samples would not be counted "
                                            "(initialise it at start)")
    where = f"{{{','.join(str(m) for m in series.matchers)}}}" if series.matchers else ""
    return Finding(series.metric, OK, f"{kind} {where or '{' + ','.join(sorted(needed)) + '}'}")


def _seconds(values: list[float]) -> str:
    return "[" + ", ".join(plain(v) for v in values) + "]"


def _histogram(histogram: Histogram, families: dict, contract: MetricContract,
               service: ServiceSettings) -> Finding:
    metric = histogram.metric
    family = families.get(metric)
    if family is None:
        return Finding(metric, FAIL, "missing: no histogram of this name is exposed")
    if family.type != "histogram":
        exposed_as = "untyped (no # TYPE line)" if family.type == "unknown" else f"a {family.type}"
        return Finding(metric, FAIL, f"is {exposed_as}; the contract's is a histogram")
    samples = [s for s in family.samples if not s.name.endswith(("_created", "_gsum", "_gcount"))]
    if not samples:
        return Finding(metric, FAIL, "exposed without a sample, so its labels cannot be checked; "
                                     "initialise its label combinations when the service starts")
    if (problem := _labels_problem(samples, _needed_labels(histogram.matchers, contract))) is not None:
        return Finding(metric, FAIL, problem)
    buckets = sorted({float(s.labels["le"]) for s in samples if s.name.endswith("_bucket")} - {float("inf")})
    if not buckets:
        return Finding(metric, FAIL, "has no finite buckets: no latency quantile can be computed from it")
    unit = histogram.unit_seconds
    if histogram is contract.latency:
        objectives = {"P95": service.slo.p95_seconds, "P99": service.slo.p99_seconds}
        missing = [f"{name} {plain(seconds)}s" for name, seconds in objectives.items()
                   if not any(math.isclose(seconds, bound * unit, rel_tol=1e-9) for bound in buckets)]
        if missing:
            return Finding(metric, FAIL, f"has no bucket at the {' and '.join(missing)} objective (its buckets: "
                                         f"{_seconds([b * unit for b in buckets])}): the share of requests slower "
                                         "than an objective is read from the bucket at it")
    declared = list(histogram.buckets)
    if buckets != declared:
        where = "services[].metrics.latencyBuckets" if contract.preset == "default" else f"the {contract.preset} preset"
        return Finding(metric, FAIL, f"buckets {_seconds(buckets)}, but {where} declares {_seconds(declared)}, "
                                     "which its latency objectives are checked against")
    return Finding(metric, OK, f"histogram, {len(buckets)} buckets up to {plain(buckets[-1] * unit)}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make contract-check", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the service's metrics endpoint, e.g. http://127.0.0.1:8000/metrics")
    parser.add_argument("--stack", required=True, help="the stack whose contract applies: Pulumi.<stack>.yaml")
    parser.add_argument("--service", required=True, help="the service's name in that stack")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT)
    args = parser.parse_args(argv)
    try:
        services = {s.name: s for s in settings_of(stack_config.load(args.stack, config_dir=args.config_dir)).services}
        service = services[args.service]
    except KeyError:
        print(f"stack {args.stack} has no service {args.service!r}; it has {', '.join(services)}", file=sys.stderr)
        return 2
    except (ConfigError, StackFileError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    try:
        request = urllib.request.Request(args.url, headers={"Accept": ACCEPT})
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            content_type = response.headers.get("Content-Type", ACCEPT)
            findings = check(response.read().decode(), service, content_type)
    except OSError as error:
        print(f"cannot read {args.url}: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # UnicodeDecodeError included
        print(f"cannot parse what {args.url} answered as Prometheus metrics: {error}", file=sys.stderr)
        return 2
    print(f"{args.url} against the metric contract of {args.service} in stack {args.stack}:")
    for finding in findings:
        print(f"  {finding}")
    failed = [f for f in findings if not f.ok]
    print(f"{len(failed)} problem(s): the service breaks the contract" if failed else "the service keeps the contract")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
