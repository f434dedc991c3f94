"""A collector config against the collector's own code at the pinned version (tests/fixtures/collector/: the
keys each component's Config struct accepts, the signals its factory registers, the OTTL functions and paths;
SOURCE.md names where each came from).

- keys: every key of a processor, exporter or connector exists in its Config struct (the collector refuses an
  unknown key at start; a misspelt one would otherwise be a silent default);
- signals: a pipeline uses only defined components that take its signal (a connector: its input signal where it
  exports, its output where it receives);
- OTTL: the transform and filter processors' statements call only functions the OTTL library registers and read
  only paths their context has.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONTRACT = Path(__file__).parent / "fixtures" / "collector" / "contract.json"
KINDS = ("receivers", "processors", "exporters", "connectors")


@functools.cache
def contract() -> dict:
    return json.loads(CONTRACT.read_text())


def component(kind: str, name: str) -> dict | None:
    """The contract of a configured component (`type/name`), by its type or one of its aliases."""
    kind_type = name.split("/")[0]
    for canonical, entry in contract()["components"][kind].items():
        if kind_type == canonical or kind_type in entry.get("aliases", []):
            return entry
    return None


def paths(value: Any, prefix: str = "") -> Iterator[str]:
    """A component config's keys as dotted paths: `policies[].latency.threshold_ms`."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from paths(inner, path)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                yield from paths(item, f"{prefix}[]")


def _accepted(path: str, keys: set[str]) -> bool:
    if path in keys:
        return True
    # A free-form map (`*`) accepts any key under it.
    parts = path.split(".")
    return any(".".join([*parts[:i], "*"]) in keys for i in range(len(parts)))


def key_problems(config: dict) -> list[str]:
    found = []
    for kind in ("processors", "exporters", "connectors"):
        for name, settings in (config.get(kind) or {}).items():
            entry = component(kind, name)
            if entry is None:
                found.append(f"{kind[:-1]} {name}: no contract for its type")
                continue
            keys = set(entry["keys"])
            found += [f"{kind[:-1]} {name}: {path} is not a key of its config" for path in paths(settings or {})
                      if not _accepted(path, keys)]
    return found


def signal_problems(config: dict) -> list[str]:
    found = []
    for pipeline, spec in config["service"]["pipelines"].items():
        signal = pipeline.split("/")[0]
        for kind in ("receivers", "processors", "exporters"):
            for name in spec.get(kind, []):
                connector = name in (config.get("connectors") or {})
                if name not in (config.get(kind) or {}) and not connector:
                    found.append(f"pipeline {pipeline}: {kind[:-1]} {name} is not defined")
                    continue
                entry = component("connectors" if connector else kind, name)
                if entry is None:
                    found.append(f"pipeline {pipeline}: no contract for {name}")
                    continue
                takes = entry["signals"]
                if connector:  # exported to: its input signals; received from: what it outputs
                    ok = signal in takes if kind == "exporters" else any(signal in out for out in takes.values())
                else:
                    ok = signal in takes
                if not ok:
                    found.append(f"pipeline {pipeline}: {kind[:-1]} {name} does not take {signal}")
    return found


STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
PATH = re.compile(r"\b([a-z_]+)\.([a-z_]+)\b")


def statement_problems(statement: str, context: str) -> list[str]:
    """Functions and paths of one OTTL statement or condition, in its context."""
    ottl = contract()["ottl"]
    code = STRING.sub('""', statement.replace("$$", "$"))  # string literals hold regexes, not code
    found = [f"{function}(): not an OTTL function at this version" for function in CALL.findall(code)
             if function not in ottl["editors"] and function not in ottl["converters"]]
    for prefix, field in PATH.findall(code):
        if prefix not in ottl["contexts"][context]:
            found.append(f"{prefix}.{field}: not a path of the {context} context")
        elif field not in ottl["fields"][prefix]:
            found.append(f"{prefix}.{field}: {prefix} has no field {field}")
    return found


def _inferred(condition: str) -> str:
    """The context the filter processor infers for a flat condition: its lowest path prefix."""
    prefixes = {prefix for prefix, _ in PATH.findall(STRING.sub('""', condition))}
    return next(c for c in ("spanevent", "span", "log") if c in prefixes)


def ottl_problems(config: dict) -> list[str]:
    found = []
    for name, settings in (config.get("processors") or {}).items():
        kind = name.split("/")[0]
        if kind == "transform":
            for key in ("trace_statements", "log_statements"):
                for group in settings.get(key, []):
                    found += [f"{name}: {problem} in {statement}" for statement in group["statements"]
                              for problem in statement_problems(statement, group["context"])]
        elif kind == "filter":
            for key in ("trace_conditions", "log_conditions"):
                found += [f"{name}: {problem} in {condition}" for condition in settings.get(key, [])
                          for problem in statement_problems(condition, _inferred(condition))]
    return found
