"""What is wrong with a stack file, said so that it is fixed in one pass.

Every problem names the full key as the stack file writes it (a list item with its name too:
`services[1] (embeddings).slo.latency.p95Seconds`), the stack, the value (never a secret's) and
what is allowed; an unknown key gets the nearest known one.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from config.fields import KEY, Leaf

NO_VALUE: Any = object()  # a problem with a key itself: missing, unknown, not secret
SECRET_SHOWN = "[secret]"


class ConfigError(Exception):
    """Every problem in a stack's config; nothing was registered."""

    def __init__(self, stack: str, problems: list[str]):
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f'stack "{stack}" has {len(problems)} configuration problem(s); '
                         f"nothing was registered:\n{lines}")


@dataclass(frozen=True)
class Problem:
    key: str  # as the file writes it, without the namespace: services[0].slo.availability
    allowed: str
    value: Any = NO_VALUE


def path(loc: Iterable[Any]) -> str:
    """A pydantic location as the file writes the key: services[0].slo, tags.owner."""
    found = ""
    for part in loc:
        found += f"[{part}]" if isinstance(part, int) else (f".{part}" if found else str(part))
    return found


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's type holds: itself, or what a list, map, Optional or Annotated wraps."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models(arg)]


def model_at(root: type[BaseModel], loc: Iterable[Any]) -> type[BaseModel] | None:
    """The model of the object at `loc` (indexes skipped), e.g. Slo for ("services", 0, "slo")."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        found = _models(field.annotation) if field else []
        model = found[0] if found else None
    return model


def aliases(model: type[BaseModel]) -> list[str]:
    """The keys a model's object takes, as the file writes them; retired ones left out."""
    return [field.alias or name for name, field in model.model_fields.items()
            if not any(isinstance(m, Leaf) and "not" in m.schema for m in field.metadata)]


def unknown(key: str, known: list[str], prefix: str) -> Problem:
    """`key` under `prefix` (`services[0].affinity.`), or a top-level key (`azure.retentionDays`) without one."""
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f"; did you mean {prefix}{hint[0]}?" if hint else ""
    return Problem(f"{prefix}{key}", f"unknown key{suggestion} (known here: {', '.join(sorted(known))})")


def from_pydantic(error: ErrorDetails, root: type[BaseModel], prefix: tuple[Any, ...] = ()) -> Problem:
    """A pydantic error as our problem: our own sentence where a field said it, else pydantic's kind in words."""
    loc = (*prefix, *error["loc"])
    kind = error["type"]
    if loc and loc[-1] == "[key]":  # a map's key itself
        return Problem(path(loc[:-1]), error["msg"])
    if kind == "extra_forbidden":
        model = model_at(root, loc[:-1])
        parent = path(loc[:-1])
        return unknown(str(loc[-1]), aliases(model) if model else [], f"{parent}." if parent else "")
    if kind == "missing":
        return Problem(path(loc), "is required")
    said = {"dict_type": "must be a map of strings to strings", "list_type": "must be a list",
            "model_type": "must be an object (a YAML map)", "model_attributes_type": "must be an object (a YAML map)",
            }.get(kind, error["msg"])
    return Problem(path(loc), said, NO_VALUE if kind == KEY else error.get("input"))


def shown(value: Any) -> str:
    return json.dumps(value)


def describe(problem: Problem, namespace: str, stack: str, names: Mapping[str, str],
             secret: bool = False) -> str:
    """One line: `<namespace>:<key> = <value> in stack "<stack>": <allowed>`; a named list item gets its name."""
    key = problem.key
    for item in sorted(names, key=len, reverse=True):  # services[1] (embeddings).slo
        if key == item or key.startswith((f"{item}.", f"{item}[")):
            key = f"{item} ({names[item]}){key[len(item):]}"
            break
    subject = key if re.match(r"[\w-]+:", key) or key == "the stack name" else f"{namespace}:{key}"
    if problem.value is NO_VALUE:
        return f'{subject} in stack "{stack}": {problem.allowed}'
    value = SECRET_SHOWN if secret else shown(problem.value)
    return f'{subject} = {value} in stack "{stack}": {problem.allowed}'
