"""Helpers shared by the tests: configs from the real stack files, runs under mocks."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import pickle
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config import ConfigError
from config import load as load_config
from config.settings import Settings
from policy.rules import REPLICATED
from tools import mocks, stack_config

NS = "ai-observability"
FIXTURES = Path(__file__).parent / "fixtures" / "stacks"  # small stacks the tests own, so user edits never break them
STACKS = tuple(stack_config.stacks())  # every Pulumi.<stack>.yaml of the project, whatever its values

# docs.datadoghq.com/service_management/service_level_objectives/burn_rate, "Recommended values": route,
# burn rate, long and short window (minutes), share of the budget consumed, per SLO period in days.
PUBLISHED_BURN_RATES = {
    7: [("page", 16.8, 60, 5, 0.10), ("page", 5.6, 360, 30, 0.20), ("ticket", 2.8, 1440, 120, 0.40)],
    30: [("page", 14.4, 60, 5, 0.02), ("page", 6, 360, 30, 0.05), ("ticket", 3, 1440, 120, 0.10)],
    90: [("page", 21.6, 60, 5, 0.01), ("page", 10.8, 360, 30, 0.03), ("ticket", 4.5, 1440, 120, 0.05)],
}
# The slow burn: the SRE workbook's ticket at 1x (sre.google/workbook/alerting-on-slos, its 3d/6h row), over the
# longest window both Datadog (48 hours) and an Azure log alert (two days, ingestion delay included) read:
# 36 hours, and a twelfth of it. Every burn above 1x would exhaust the budget before the period ends.
SLOW_BURN = ("ticket", 1.0, 36 * 60, 3 * 60)
POLICY_ROWS = {days: [*rows, (*SLOW_BURN, round(SLOW_BURN[1] * SLOW_BURN[2] / (days * 1440), 6))]
               for days, rows in PUBLISHED_BURN_RATES.items()}


@dataclass(frozen=True)
class StackFile:
    """A Pulumi.<name>.yaml in `directory`: the project's own, or a fixture stack."""

    name: str
    directory: Path

    def __str__(self) -> str:
        return str((self.directory / f"Pulumi.{self.name}.yaml").relative_to(stack_config.ROOT))


# Every stack file the stack suite checks: the project's, and every fixture a user may copy to the root.
STACK_FILES = (*(StackFile(s, stack_config.ROOT) for s in STACKS),
               *(StackFile(s, FIXTURES) for s in stack_config.stacks(FIXTURES)))


def config(stack: str, overrides: Mapping[str, Any] | None = None,
           secrets: Mapping[str, Any] | None = None, config_dir: Path | None = None) -> stack_config.StackConfig:
    """A stack's config from `config_dir`; by default a fixture stack's (tests/fixtures/stacks/Pulumi.<stack>.yaml),
    else the project's."""
    return stack_config.load(stack, overrides=overrides, secrets=secrets, config_dir=config_dir or home(stack))


def home(stack: str) -> Path:
    """Where a stack's file is: the fixtures' directory if it holds one, else the project's root."""
    return FIXTURES if (FIXTURES / f"Pulumi.{stack}.yaml").exists() else stack_config.ROOT


def load_settings(stack: str, overrides: Mapping[str, Any] | None = None,
                  secrets: Mapping[str, Any] | None = None, config_dir: Path | None = None) -> Settings:
    cfg = config(stack, overrides, secrets, config_dir)
    return load_config(cfg.values, cfg.secret_keys, cfg.stack, cfg.project)


def problems(stack: str, overrides: Mapping[str, Any] | None = None,
             secrets: Mapping[str, Any] | None = None) -> list[str]:
    """The problems settings report for a config; fails the test if there are none."""
    try:
        load_settings(stack, overrides, secrets)
    except ConfigError as error:
        return error.problems
    raise AssertionError(f"expected configuration problems for {overrides or secrets}")


def keyed(problem: str) -> str:
    """A problem with its key as written in the stack file: without the name a message gives a list item,
    `services[1] (embeddings).slo` -> `services[1].slo`."""
    return re.sub(r"^(\S*?\[\d+\]) \([^)]*\)", r"\1", problem)


def problem_for(key: str, found: list[str]) -> str:
    """The one problem naming `key` (short key, without namespace)."""
    matching = [p for p in found if keyed(p).startswith(f"{NS}:{key} ")]
    assert len(matching) == 1, f"expected one problem for {key}, got {found}"
    return matching[0]


def run_component(build: Callable[[Settings], Any], stack: str = "staging",
                  overrides: Mapping[str, Any] | None = None,
                  secrets: Mapping[str, Any] | None = None) -> mocks.Plan:
    """Runs just `build(settings)` under mocks, with settings from the stack file."""
    cfg = config(stack, overrides, secrets)
    return mocks.run(lambda: build(load_config(cfg.values, cfg.secret_keys, cfg.stack, cfg.project)), cfg)


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def loopback_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` serving on a free loopback port until the block ends; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the loop's next poll: a short one keeps every test that starts a server quick.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def read_yaml(text: str) -> Any:
    """One YAML document, parsed by libyaml: PyYAML's pure-Python parser took a tenth of the fast suite."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


# In a pytest-xdist worker, the directory its run's workers share (tests/conftest.py sets it): a plan one worker
# rendered, another reads back instead of rendering it again.
SHARED_PLANS: Path | None = None


def stack_plan(stack: str, config_dir: Path | None = None) -> mocks.Plan:
    """The whole program for a stack file, as `make render` runs it (cached, across workers too: it is pure)."""
    return _plan(stack, (config_dir or home(stack)).resolve())


@functools.cache
def _plan(stack: str, config_dir: Path) -> mocks.Plan:
    where = hashlib.sha256(str(config_dir).encode()).hexdigest()[:12]
    shared = SHARED_PLANS / f"plan-{where}-{stack}.pickle" if SHARED_PLANS else None
    if shared and shared.exists():
        return pickle.loads(shared.read_bytes())  # noqa: S301 (written by this run's own workers)
    plan = mocks.run_program(config(stack, config_dir=config_dir))
    if shared:
        partial = shared.with_suffix(f".{os.getpid()}")
        partial.write_bytes(pickle.dumps(plan))
        partial.replace(shared)  # at once: a worker reading it sees all of it or none
    return plan


def replicated(plan: mocks.Plan) -> list[mocks.Resource]:
    """What runs each service's pods: a Deployment, or an Argo Rollout for a service released as canaries."""
    return [r for r in plan.resources if r.type in REPLICATED]


def workload(plan: mocks.Plan, service: str) -> dict:
    """The inputs of the Deployment or Rollout running `service`."""
    found, = [r.inputs for r in replicated(plan) if r.inputs["metadata"]["name"] == service]
    return found


def container_port(container: dict, port) -> int:
    """A probe's or Service's port, by name or number, as the container's port number."""
    if isinstance(port, int):
        return port
    numbers = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in numbers, f"{port} is not a port of container {container['name']}"
    return numbers[port]


# The collector refuses a config that uses an undeclared component and ignores one it never uses.
def collector_config_problems(config: dict) -> list[str]:
    """What the collector would refuse or silently ignore: undeclared or unused components."""
    found = []
    pipelines = config["service"]["pipelines"]
    connectors = set(config.get("connectors", {}))
    used: dict[str, set[str]] = {kind: set() for kind in ("receivers", "processors", "exporters")}
    for signal, pipeline in pipelines.items():
        if not pipeline.get("exporters"):
            found.append(f"pipeline {signal} exports nowhere")
        for kind in used:
            for name in pipeline.get(kind, []):
                used[kind].add(name)
                if name not in config.get(kind, {}) and name not in connectors:
                    found.append(f"pipeline {signal} uses undeclared {kind[:-1]} {name}")
    for kind, names in used.items():
        for name in set(config.get(kind, {})) - names:
            found.append(f"{kind[:-1]} {name} is declared but used by no pipeline")
    for connector in connectors:
        as_exporter = [s for s, p in pipelines.items() if connector in p.get("exporters", [])]
        as_receiver = [s for s, p in pipelines.items() if connector in p.get("receivers", [])]
        if not as_exporter or not as_receiver:
            found.append(f"connector {connector} must be exported to and received from")
    for extension in set(config.get("extensions", {})) ^ set(config["service"].get("extensions", [])):
        found.append(f"extension {extension} is declared or enabled, not both")
    if list(pipelines) and any(p["processors"][0] != "memory_limiter" or p["processors"][-1] != "batch"
                               for p in pipelines.values()):
        found.append("processors must start with memory_limiter and end with batch")
    return found


COLLECTOR_CONFIG_MAP = ("kubernetes:core/v1:ConfigMap", "otel-collector-config")  # type and name in a plan


def counter(*segments: tuple[float, int]) -> str:
    """A promtool counter sampled each minute from 0: each (increase per minute, minutes) segment in turn."""
    value, parts = 0.0, ["0"]
    for increase, minutes in segments:
        first = value + increase
        parts.append(f"{first:g}+{increase:g}x{minutes - 1}")
        value = first + increase * (minutes - 1)
    return " ".join(parts)


def metric_of(contract, role: str) -> str:
    """The metric a contract role names, which the fixture's contract must provide."""
    found = contract.role(role)
    assert found is not None, f"{contract.server} lacks {role}"
    return str(found.metric)
