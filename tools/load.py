"""Load before the gate: `make load URL=<base url> [DURATION=30s] [USERS=10]`.

Runs Locust headless, in its own process, with the reference service's request shapes
(tools/locustfile.py: a prediction, and a streamed generation timed to its last token and to its first),
each user sending at most one request a second. Prints requests, failures, median and P95 per shape and
for all requests. Exit 0 when the failed share is within --max-failure-ratio (default 1%), 1 above it,
2 on bad arguments or when Locust could not run.

The staging deploy job runs it before `make verify --baseline`, so the gate has traffic to judge;
`make e2e` drives its services with it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from model.durations import prometheus_seconds
from tools.arguments import duration

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
FIRST_TOKEN = "FIRST-TOKEN"  # tools/locustfile.py's request type for a stream's first token
STOP_SECONDS = 30  # how long the last requests may take to finish


@dataclass(frozen=True)
class Shape:
    """One request shape's figures: Locust's entry for it."""

    name: str  # what the table shows: POST /predict, first token /generate
    requests: int
    failures: int
    median_ms: int
    p95_ms: int
    response_times: Mapping[int, int] = field(repr=False)  # Locust's histogram: rounded ms -> count

    @property
    def is_request(self) -> bool:
        return not self.name.startswith("first token")


def percentile(response_times: Mapping[int, int], count: int, share: float) -> int:
    """The time `share` of the requests finished within, from Locust's histogram, as Locust computes it
    (stats.calculate_response_time_percentile)."""
    within, processed = int(count * share), 0
    for time in sorted(response_times, reverse=True):
        processed += response_times[time]
        if count - processed <= within:
            return time
    return 0


def shapes(entries: list[dict]) -> list[Shape]:
    """Locust's --json-file entries, each as a shape."""
    found = []
    for entry in entries:
        times = {int(ms): n for ms, n in entry["response_times"].items()}
        name = (f"first token {entry['name']}" if entry["method"] == FIRST_TOKEN else
                f"{entry['method']} {entry['name']}")
        count = entry["num_requests"]
        found.append(Shape(name, count, entry["num_failures"], percentile(times, count, 0.5),
                           percentile(times, count, 0.95), times))
    return sorted(found, key=lambda shape: shape.name)


def overall(found: list[Shape]) -> Shape:
    """Every request's figures (a first token is part of its stream, not a request of its own)."""
    times: dict[int, int] = {}
    for shape in (s for s in found if s.is_request):
        for ms, n in shape.response_times.items():
            times[ms] = times.get(ms, 0) + n
    count = sum(s.requests for s in found if s.is_request)
    return Shape("all requests", count, sum(s.failures for s in found if s.is_request),
                 percentile(times, count, 0.5), percentile(times, count, 0.95), times)


def table(url: str, args: argparse.Namespace, found: list[Shape]) -> str:
    rows = [("request", "requests", "failures", "median ms", "P95 ms")]
    rows += [(s.name, str(s.requests), str(s.failures) if s.is_request else "-", str(s.median_ms), str(s.p95_ms))
             for s in [*found, overall(found)]]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"load on {url} for {args.duration}, {args.users} users:"]
    lines += ["  " + "  ".join(cell.rjust(width) if i else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths, strict=True))) for row in rows]
    return "\n".join(lines)


def run_locust(url: str, duration: str, users: int) -> list[dict]:
    """Locust's entries after a headless run; raises RuntimeError when it could not run."""
    with tempfile.TemporaryDirectory() as work:
        prefix = Path(work) / "load"
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
                   "--users", str(users), "--spawn-rate", str(users), "--run-time", duration, "--only-summary",
                   # Each user finishes the request it is in when the time is up: none is cut off half-counted.
                   "--stop-timeout", str(STOP_SECONDS),
                   "--loglevel", "WARNING", "--json-file", str(prefix), "--exit-code-on-error", "0"]
        ran = subprocess.run(command, capture_output=True, text=True,
                             timeout=prometheus_seconds(duration) + STOP_SECONDS + 60)
        result = prefix.with_suffix(".json")
        if ran.returncode != 0 or not result.exists():
            raise RuntimeError(f"locust exited {ran.returncode}: {ran.stderr.strip()[-600:]}")
        return json.loads(result.read_text())


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.splitlines()[0])
    parser.add_argument("url", type=_url, help="the service's base URL: http://127.0.0.1:8080")
    parser.add_argument("--duration", default="30s", type=duration, help="how long: 30s, 5m (default 30s)")
    parser.add_argument("--users", default=10, type=_positive, help="concurrent users, each at most a request a "
                                                                     "second (default 10)")
    parser.add_argument("--max-failure-ratio", type=float, default=0.01,
                        help="the failed share of requests above which it fails (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures, with each shape's histogram, here")
    return parser.parse_args(argv)


def _url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// base URL")
    return text.rstrip("/")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        found = shapes(run_locust(args.url, args.duration, args.users))
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"could not load {args.url}: {error}", file=sys.stderr)
        return 2
    total = overall(found)
    ratio = total.failures / total.requests if total.requests else 1.0
    passed = total.requests > 0 and ratio <= args.max_failure_ratio
    print(table(args.url, args, found))
    print(f"{'pass' if passed else 'FAIL'}: {total.failures} of {total.requests} requests failed ({ratio:.1%}; "
          f"at most {args.max_failure_ratio:.1%})")
    if args.json:
        args.json.write_text(json.dumps({"url": args.url, "duration": args.duration, "users": args.users,
                                         "failure_ratio": ratio, "passed": passed,
                                         "shapes": [asdict(s) for s in [*found, total]]}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
