"""A service's /metrics against its stack's metric contract: `make contract-check URL=... STACK=... SERVICE=...`.

The CI gate teams run against their own server, from the seeds: every contract metric present,
with the type and label names the platform's alerts select on, counters named `_total`, an
error status series, and the latency histogram's buckets covering the service's latency
objectives (a quantile never reports more than the top bucket) and matching the ones the stack
declares. Exit 0 when the service keeps the contract, 1 when it does not, 2 when it cannot be
checked.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_classic

from components.config_reader import SettingsError
from components.settings import ServiceSettings
from model.numbers import plain
from tools import stack_config
from tools.render import settings_of
from tools.stack_file import StackFileError

TIMEOUT_SECONDS = 10
# The classic text format, which every client library serves; one that answers in OpenMetrics
# anyway is read as such.
ACCEPT = "text/plain;version=0.0.4"
OPENMETRICS = "application/openmetrics-text"


@dataclass(frozen=True)
class Finding:
    metric: str
    ok: bool
    said: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.metric}: {self.said}"


def expected(service: ServiceSettings) -> dict[str, tuple[str, set[str]]]:
    """Each contract metric's family name (what `# TYPE` names), type and label names."""
    contract = service.metrics
    return {
        contract.requests: ("counter", {contract.model_label, contract.status_label}),
        contract.latency: ("histogram", {contract.model_label}),
        contract.tokens: ("counter", {contract.model_label, contract.token_type_label}),
        contract.cost: ("counter", {contract.model_label}),
    }


SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def sample_names(exposition: str) -> set[str]:
    """The names samples are exposed under, which Prometheus stores them by (the client's parser
    adds `_total` to a counter's samples where the server left it out, so it cannot tell)."""
    return {match.group(0) for line in exposition.splitlines()
            if not line.startswith("#") and (match := SAMPLE_NAME.match(line))}


def check(exposition: str, service: ServiceSettings, content_type: str = ACCEPT) -> list[Finding]:
    """The findings for each contract metric; ValueError when the exposition cannot be parsed."""
    parse = parse_openmetrics if content_type.startswith(OPENMETRICS) else parse_classic
    families = {f.name: f for f in parse(exposition)}
    exposed = sample_names(exposition)
    findings = [_metric(metric, kind, labels, families, exposed, service)
                for metric, (kind, labels) in expected(service).items()]
    contract = service.metrics
    requests = families.get(contract.requests.removesuffix("_total"))
    statuses = {s.labels.get(contract.status_label) for s in requests.samples} if requests else set()
    if requests and contract.error_status not in statuses:
        findings.append(Finding(contract.requests, False, f'no {contract.status_label}="{contract.error_status}" '
                                                          "series: failures would not be counted as the contract's "
                                                          "errors (initialise it at start)"))
    return findings


def _metric(metric: str, kind: str, labels: set[str], families: dict, exposed: set[str],
            service: ServiceSettings) -> Finding:
    # The parser names a counter's family without `_total`, and anything else by its sample name.
    family = (families.get(metric.removesuffix("_total")) if kind == "counter" else None) or families.get(metric)
    if family is None:
        return Finding(metric, False, f"missing: no {kind} of this name is exposed")
    if family.type != kind:
        exposed_as = "untyped (no # TYPE line)" if family.type == "unknown" else f"a {family.type}"
        return Finding(metric, False, f"is {exposed_as}; the contract's is a {kind}")
    if kind == "counter" and metric not in exposed:
        return Finding(metric, False, f"exposed as {family.name}, without _total: Prometheus stores it under that "
                                      "name, which the platform's queries do not select")
    samples = [s for s in family.samples if not s.name.endswith(("_created", "_gsum", "_gcount"))]
    if not samples:
        return Finding(metric, False, "exposed without a sample, so its labels cannot be checked; "
                                      "initialise its label combinations when the service starts")
    seen = {frozenset(set(s.labels) - {"le"}) for s in samples}
    if seen != {frozenset(labels)}:
        found = " or ".join(sorted("{" + ",".join(sorted(s)) + "}" for s in seen))
        return Finding(metric, False, f"labelled {found}; the contract's labels are {{{','.join(sorted(labels))}}}")
    if kind == "histogram":
        return _histogram(metric, samples, service)
    return Finding(metric, True, f"{kind} {{{','.join(sorted(labels))}}}")


def _seconds(values: list[float]) -> str:
    return "[" + ", ".join(plain(v) for v in values) + "]"


def _histogram(metric: str, samples: list, service: ServiceSettings) -> Finding:
    buckets = sorted({float(s.labels["le"]) for s in samples if s.name.endswith("_bucket")} - {float("inf")})
    if not buckets:
        return Finding(metric, False, "has no finite buckets: no latency quantile can be computed from it")
    slo = service.slo
    objectives = {"P95": slo.p95_seconds, "P99": slo.p99_seconds}
    uncovered = [f"{name} {plain(seconds)}s" for name, seconds in objectives.items() if seconds >= buckets[-1]]
    if uncovered:
        return Finding(metric, False, f"top bucket {plain(buckets[-1])}s does not cover the {' and '.join(uncovered)} "
                                      "objective: histogram_quantile never reports more than the top bucket, so "
                                      "the latency alert could not fire")
    declared = list(service.metrics.latency_buckets)
    if buckets != declared:
        return Finding(metric, False, f"buckets {_seconds(buckets)}, but the stack declares {_seconds(declared)} "
                                      "(services[].metrics.latencyBuckets), "
                                      "which its latency objectives are checked against")
    return Finding(metric, True, f"histogram, {len(buckets)} buckets up to {plain(buckets[-1])}s, covering the "
                                 f"P95 and P99 objectives ({plain(slo.p95_seconds)}s, {plain(slo.p99_seconds)}s)")


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
    except (SettingsError, StackFileError, FileNotFoundError) as error:
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
