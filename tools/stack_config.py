"""A stack's config as the Pulumi CLI would hand it to the program, without the CLI.

Reads Pulumi.yaml (project name, typed keys and their defaults) and
Pulumi.<stack>.yaml as the CLI reads them (YAML 1.2, tools/stack_file.py),
applies the defaults, and turns every value into the string the CLI passes
(objects and lists as JSON). Secrets the stack file cannot
provide offline (none should be there, and `secure:` values cannot be decrypted
without the stack's key) are replaced by placeholders that pass validation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import stack_file

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: Mapping[str, str]
    secret_keys: frozenset[str]
    placeholders: tuple[str, ...] = field(default=())  # secret keys given stand-in values


def cli_string(value: Any) -> str:
    """How the CLI passes a config value: strings as is, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def project_file() -> dict:
    return stack_file.read(ROOT / "Pulumi.yaml")


def project_defaults(project: dict) -> dict[str, str]:
    """Defaults declared in Pulumi.yaml, keyed by full config key."""
    name = project["name"]
    defaults = {}
    for key, spec in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            defaults[full_key] = cli_string(spec["default"])
        elif isinstance(spec, dict) and "value" in spec:
            defaults[full_key] = cli_string(spec["value"])
        elif not isinstance(spec, dict):
            defaults[full_key] = cli_string(spec)
    return defaults


def _placeholder_key(digits: int) -> str:
    """Hex that passes a key's check and matches nothing else a render writes (not a run of zeros,
    which an image digest placeholder has too, and the leak check would report)."""
    return ("feedface" * 8)[:digits]


def placeholder_secrets(values: Mapping[str, str], project: str) -> dict[str, str]:
    """A harmless value, valid for the stack's checks, for each secret its config needs."""
    names = json.loads(values.get(f"{project}:azure.webhookReceivers", "[]") or "[]")
    placeholders = {}
    if values.get(f"{project}:datadog.enabled") == "true":
        placeholders[f"{project}:datadog.apiKey"] = _placeholder_key(32)
        placeholders[f"{project}:datadog.appKey"] = _placeholder_key(40)
    if isinstance(names, list) and names:
        placeholders[f"{project}:azure.webhookUrls"] = json.dumps(
            {name: f"https://placeholder.invalid/webhook/{name}" for name in names if isinstance(name, str)})
    receivers = json.loads(values.get(f"{project}:alertmanager.receivers", "{}") or "{}")
    if isinstance(receivers, dict) and receivers:
        placeholders[f"{project}:alertmanager.credentials"] = json.dumps(
            {route: _placeholder_key(32) if kind == "pagerduty" else f"https://placeholder.invalid/alertmanager/{route}"
             for route, kind in receivers.items()})
    return placeholders


def stacks(config_dir: Path = ROOT) -> list[str]:
    return sorted(path.name[len("Pulumi."):-len(".yaml")] for path in config_dir.glob("Pulumi.*.yaml"))


def load(stack: str, *, overrides: Mapping[str, Any] | None = None,
         secrets: Mapping[str, Any] | None = None, config_dir: Path = ROOT) -> StackConfig:
    """The stack's effective config, from Pulumi.<stack>.yaml in `config_dir`.

    `overrides` (None removes a key) and `secrets` take short or full keys; tests use them.
    """
    project = project_file()
    name = project["name"]
    path = config_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path}; stacks there: {', '.join(stacks(config_dir))}")
    stack_values = (stack_file.read(path) or {}).get("config") or {}

    def full(key: str) -> str:
        return key if ":" in key else f"{name}:{key}"

    values = project_defaults(project)
    for key, value in stack_values.items():
        # Ciphertext (`secure:`) needs the stack's key; offline it gets a placeholder below.
        if not (isinstance(value, dict) and set(value) == {"secure"}):
            values[full(key)] = cli_string(value)
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(full(key), None)
        else:
            values[full(key)] = cli_string(value)
    secret_keys = set()
    for key, value in (secrets or {}).items():
        values[full(key)] = cli_string(value)
        secret_keys.add(full(key))

    placeholders = []
    for key, value in placeholder_secrets(values, name).items():
        if key not in values:
            values[key] = value
            secret_keys.add(key)
            placeholders.append(key)
    return StackConfig(name, stack, values, frozenset(secret_keys), tuple(sorted(placeholders)))
