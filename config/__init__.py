"""A stack's config, read and checked before anything is registered: `load()` gives the settings or every problem.

Pure: no Pulumi here. The schema (schema.py, fields.py) types each key, the checks (checks.py) read
across keys, the settings (settings.py) are what the program uses. Each top-level key is validated
on its own, and each service on its own, so that one bad value leaves the rest checked too.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from config import checks, schema
from config.fields import SECRET, Leaf, Unique
from config.problems import ConfigError, Problem, describe, from_pydantic, unknown
from config.settings import Settings, build

PROJECT = "ai-observability"
__all__ = ["PROJECT", "ConfigError", "Settings", "load"]


def _adapter(field: FieldInfo) -> TypeAdapter[Any]:
    return TypeAdapter(field.rebuild_annotation())


FIELDS = {field.alias or name: (name, field) for name, field in schema.StackSpec.model_fields.items()}
ADAPTERS = {alias: _adapter(field) for alias, (_, field) in FIELDS.items()}
SERVICE = TypeAdapter(schema.Service)


def _metadata(field: FieldInfo) -> list[Any]:
    """A field's own metadata, an Optional's included (not that of a list's items)."""
    own = list(field.metadata)
    if typing.get_origin(field.annotation) in (typing.Union, types.UnionType):
        own += [m for arg in typing.get_args(field.annotation) for m in getattr(arg, "__metadata__", ())]
    return own


def is_secret(field: FieldInfo) -> bool:
    return any(m is SECRET for m in _metadata(field))


def _is_text(field: FieldInfo) -> bool:
    """Whether the CLI's string is the value itself (a string key), not JSON to decode."""
    return any(isinstance(m, Leaf) and m.schema.get("type") == "string" for m in _metadata(field))


def decode(raw: str, field: FieldInfo) -> Any:
    """How the CLI passes a value: strings as they are, everything else as JSON."""
    if _is_text(field) or is_secret(field):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def item_names(data: Mapping[str, Any]) -> dict[str, str]:
    """`services[1]` -> `embeddings`: the name of each named item of a top-level list, for messages."""
    return {f"{alias}[{i}]": item["name"] for alias, value in data.items() if isinstance(value, list)
            for i, item in enumerate(value) if isinstance(item, dict) and isinstance(item.get("name"), str)}


def _unique(alias: str, field: FieldInfo, raw: Any, value: Any) -> Iterable[Problem]:
    """Repeats in a top-level list as written (so beside its other items' problems), and anywhere in the objects
    the schema let through."""
    if isinstance(raw, list) and any(isinstance(m, Unique) for m in _metadata(field)):
        yield from (Problem(f"{alias}[{i}]", "is listed twice", item) for i, item in enumerate(raw)
                    if item in raw[:i])
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        if isinstance(item, schema.BaseModel):
            yield from checks.repeats(item, f"{alias}[{i}]." if isinstance(value, list) else f"{alias}.")


def load(values: Mapping[str, str], secret_keys: Iterable[str], stack: str, project: str = PROJECT) -> Settings:
    """The settings of a stack's config as the Pulumi CLI passes it (keys `<namespace>:<key>`, values as strings);
    ConfigError with every problem when there is any."""
    found: list[tuple[Problem, bool]] = []  # (problem, whether its value is a secret's)
    secrets = {key.split(":", 1)[1] for key in secret_keys if key.startswith(f"{project}:")}
    ours: dict[str, Any] = {}
    for key, raw in values.items():
        namespace, _, alias = key.partition(":")
        if namespace == project:
            ours[alias] = raw
        elif namespace != "pulumi":  # providers are explicit: another namespace's config would be ignored
            found.append((Problem(key, f"is not read by this program; {namespace}:* config would be ignored"), False))
    decoded = {alias: decode(raw, FIELDS[alias][1]) for alias, raw in ours.items() if alias in FIELDS}
    names = item_names(decoded)
    valid: dict[str, Any] = {}
    services: checks.Services = []
    exposed: set[str] = set()  # secret keys set in plain text: that is their problem, not what checks.py would say
    for alias in ours:
        if alias not in FIELDS:
            found.append((unknown(alias, list(FIELDS), ""), alias in secrets))
            continue
        name, field = FIELDS[alias]
        if is_secret(field) and alias not in secrets:
            found.append((Problem(alias, f"must be set as a secret: pulumi config set --secret {alias} <value>"), True))
            exposed.add(alias)
            continue
        value = decoded[alias]
        if alias == "services" and isinstance(value, list):
            for index, item in enumerate(value):
                try:
                    services.append((index, SERVICE.validate_python(item)))
                except ValidationError as error:
                    found += [(from_pydantic(e, schema.StackSpec, ("services", index)), False) for e in error.errors()]
            if not value:
                found.append((Problem("services", "is required: list at least one inference service"), False))
            valid[name] = [service for _, service in services]
            continue
        try:
            valid[name] = ADAPTERS[alias].validate_python(value)
        except ValidationError as error:
            found += [(from_pydantic(e, schema.StackSpec, (alias,)), alias in secrets) for e in error.errors()]
    for alias, (name, field) in FIELDS.items():
        if alias in ours:
            continue
        if field.is_required():
            said = "is required: list at least one inference service" if alias == "services" else \
                f"is required; set it with: pulumi config set {alias} <value>"
            found.append((Problem(alias, said), False))
        else:
            valid[name] = field.get_default(call_default_factory=True)
    for alias, (name, field) in FIELDS.items():
        found += [(p, alias in secrets) for p in _unique(alias, field, decoded.get(alias), valid.get(name))]
    for index, service in services:
        found += [(p, False) for p in checks.repeats(service, f"services[{index}].")]
    found += [(p, any(p.key == s or p.key.startswith(f"{s}.") for s in secrets))
              for p in checks.stack_problems(valid, services, names, stack) if p.key not in exposed]
    if found:
        raise ConfigError(stack, [describe(p, project, stack, names, secret) for p, secret in found])
    return build(schema.StackSpec.model_construct(**valid), stack, project)
