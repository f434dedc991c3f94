"""The post-deploy gate: `make verify STACK=<stack> PROMETHEUS_URL=<url> [ARGS=...]`.

For every service of the stack (or those named with --service), asks Prometheus' HTTP API for
the last window's requests, error ratio, P50/P95/P99, tokens and cost per hour, and judges them
against the stack's own objectives (model/verification.py). With --baseline it also compares
them with the same window that long before; with --canary VERSION it compares the series of
that version (the `version` label the PodMonitor copies from the pod) with the other versions'
and answers promote or roll back. It waits, within --wait, for --min-requests in the window
rather than judge an empty one.

Prints a table (or JSON with --format json). Exit 0 pass/promote, 1 fail/roll back, 2 could not judge.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path

from config.settings import ServiceSettings
from model import verification
from model.contract import Matcher
from model.durations import prometheus_seconds
from model.naming import prometheus as naming
from model.verification import FAIL, NO_DATA, PASS, Judgement, Tolerance
from tools import stack_config
from tools.arguments import duration, stack_settings

VERSION_LABEL = naming.VERSION_LABEL
TIMEOUT_SECONDS = 15
VERDICTS = {PASS: "pass", FAIL: "FAIL", NO_DATA: "could not judge"}
CANARY_VERDICTS = {PASS: "promote", FAIL: "roll back", NO_DATA: "could not judge"}


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused the query."""


class Prometheus:
    """Instant queries over the HTTP API (/api/v1/query), with an optional bearer token."""

    def __init__(self, url: str, token: str | None = None):
        self.url, self.token = url.rstrip("/"), token

    def value(self, promql: str, at: float) -> float | None:
        """The query's one value at `at`; None when it has no series or is NaN (no traffic)."""
        params = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        request = urllib.request.Request(f"{self.url}/api/v1/query?{params}")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            raise PrometheusError(f"{self.url} refused a query ({error.code}): {error.read().decode()[:300]}"
                                  f"\n  query: {promql}") from error
        except (OSError, ValueError) as error:
            raise PrometheusError(f"cannot ask {self.url}: {error}") from error
        result = answer["data"]["result"]
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"expected one series, got {len(result)} for: {promql}")
        number = float(result[0]["value"][1])
        return None if math.isnan(number) else number


def measure(prometheus: Prometheus, service: ServiceSettings, namespace: str, window: str, at: float,
            extra: tuple[Matcher, ...] = ()) -> dict[str, float | None]:
    labels = naming.selector(service.name, namespace)
    promql = verification.queries(service.metrics, labels, window, prometheus_seconds(window), extra)
    return {signal: prometheus.value(query, at) for signal, query in promql.items()}


def judge(prometheus: Prometheus, service: ServiceSettings, namespace: str, args: argparse.Namespace,
          deadline: float, progress: Callable[[str], None]) -> Judgement:
    """One service's checks; waits (until the monotonic `deadline`) for enough requests in every compared window."""
    canary = (Matcher(VERSION_LABEL, args.canary),) if args.canary else ()
    stable = (Matcher(VERSION_LABEL, args.canary, negated=True),) if args.canary else ()
    while True:
        now = time.time()
        measured = measure(prometheus, service, namespace, args.window, now, canary)
        reference = (measure(prometheus, service, namespace, args.window, now, stable) if args.canary else
                     measure(prometheus, service, namespace, args.window, now - prometheus_seconds(args.baseline))
                     if args.baseline else None)
        counts = [measured.get("requests"), *([reference.get("requests")] if args.canary and reference else [])]
        enough = all((count or 0) >= args.min_requests for count in counts)
        if enough or time.monotonic() >= deadline:
            break
        seen = " and ".join(f"{count or 0:.0f}" for count in counts)
        progress(f"{service.name}: {seen} of {args.min_requests} requests in the last {args.window}; "
                 f"waiting up to {max(0, deadline - time.monotonic()):.0f} s more")
        time.sleep(min(args.poll, max(0.0, deadline - time.monotonic())))

    checks = verification.objectives(service.slo, measured, args.min_requests)
    if reference is not None:
        against = "stable" if args.canary else f"baseline {args.baseline} before"
        checks += verification.regressions(measured, reference, against, args.tolerance, args.min_requests)
    return Judgement(service.name, tuple(checks), measured)


def table(stack: str, window: str, judgements: list[Judgement], verdicts: Mapping[str, str]) -> str:
    rows = [("service", "check", "measured", "limit", "result")]
    for judgement in judgements:
        for check in judgement.checks:
            rows.append((judgement.service, check.name, verification.show(check.value),
                         verification.show(check.limit), VERDICTS[check.result]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"stack {stack}, the last {window}:"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    for judgement in judgements:
        verdict = verdicts[judgement.result]
        lines.append(f"{judgement.service}: {verdict}" + (": " + "; ".join(judgement.reasons)
                                                          if judgement.reasons else ""))
    return "\n".join(lines)


def report(stack: str, args: argparse.Namespace, judgements: list[Judgement], result: str,
           verdicts: Mapping[str, str]) -> dict:
    return {"stack": stack, "window": args.window, "baseline": args.baseline, "canary": args.canary,
            "result": result, "verdict": verdicts[result],
            "services": [{"service": j.service, "result": j.result, "verdict": verdicts[j.result],
                          "reasons": j.reasons, "measured": dict(j.measured),
                          "checks": [asdict(c) for c in j.checks]} for j in judgements]}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make verify", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="the stack whose objectives apply: Pulumi.<stack>.yaml")
    parser.add_argument("--prometheus", default=os.environ.get("PROMETHEUS_URL"),
                        help="Prometheus' base URL (default: $PROMETHEUS_URL); $PROMETHEUS_TOKEN, if set, "
                             "is sent as a bearer token")
    parser.add_argument("--service", action="append", help="judge only this service (repeatable)")
    parser.add_argument("--window", default="10m", type=duration, help="the window judged (default 10m)")
    parser.add_argument("--baseline", type=duration, help="also compare with the window this long before")
    parser.add_argument("--canary", metavar="VERSION", help="compare this version's series with the others'")
    parser.add_argument("--min-requests", type=int, default=verification.MIN_REQUESTS,
                        help=f"requests a window needs to be judged (default {verification.MIN_REQUESTS})")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for them (default 300)")
    parser.add_argument("--poll", type=float, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--error-tolerance", type=float, default=Tolerance.error_ratio,
                        help="error ratio a deployment may add to its reference's (default %(default)s)")
    parser.add_argument("--latency-tolerance", type=float, default=Tolerance.latency,
                        help="share a quantile may grow over its reference's (default %(default)s)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline and args.canary:
        parser.error("--baseline and --canary compare with different references: give one")
    if not args.prometheus:
        parser.error("no Prometheus: give --prometheus or set PROMETHEUS_URL")
    args.tolerance = Tolerance(args.error_tolerance, args.latency_tolerance)
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    settings = stack_settings(args.stack, args.config_dir)
    if settings is None:
        return 2
    services = [s for s in settings.services if not args.service or s.name in args.service]
    unknown = set(args.service or ()) - {s.name for s in settings.services}
    if unknown:
        print(f"stack {args.stack} has no service {', '.join(sorted(unknown))}; it has "
              f"{', '.join(s.name for s in settings.services)}", file=sys.stderr)
        return 2
    prometheus = Prometheus(args.prometheus, os.environ.get("PROMETHEUS_TOKEN"))
    deadline = time.monotonic() + args.wait  # one wait for the whole stack, not one per service
    try:
        judgements = [judge(prometheus, service, settings.kubernetes.namespace, args, deadline,
                            lambda line: print(line, file=sys.stderr, flush=True)) for service in services]
    except PrometheusError as error:
        print(f"could not judge: {error}", file=sys.stderr)
        return 2
    result = verification.overall(j.result for j in judgements)
    verdicts = CANARY_VERDICTS if args.canary else VERDICTS
    if args.format == "json":
        print(json.dumps(report(args.stack, args, judgements, result, verdicts), indent=2))
    else:
        print(table(args.stack, args.window, judgements, verdicts))
        print(f"verdict: {verdicts[result]}")
    return verification.EXIT_CODES[result]


if __name__ == "__main__":
    sys.exit(main())
