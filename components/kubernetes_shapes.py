"""The parts of the Pod API a service sets in Kubernetes' own shape (tolerations, affinity), checked.

A shape is a dict of field -> shape for an object (a `Required` field must be set), a list of
one shape for an array, a tuple of strings for an enum, or one of the scalar kinds below. The
fields follow kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1
(Scheduling); the render checks the whole manifest again with kubernetes-validate --strict.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STRING, INTEGER, STRINGS, STRING_MAP = "a string", "an integer", "a list of strings", "a map of strings"


@dataclass(frozen=True)
class Required:
    shape: Any


@dataclass(frozen=True)
class Between:
    low: int
    high: int


LABEL_SELECTOR_REQUIREMENT = {"key": Required(STRING), "operator": Required(("In", "NotIn", "Exists", "DoesNotExist")),
                              "values": STRINGS}
LABEL_SELECTOR = {"matchLabels": STRING_MAP, "matchExpressions": [LABEL_SELECTOR_REQUIREMENT]}
NODE_SELECTOR_REQUIREMENT = {"key": Required(STRING),
                             "operator": Required(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")),
                             "values": STRINGS}
NODE_SELECTOR_TERM = {"matchExpressions": [NODE_SELECTOR_REQUIREMENT], "matchFields": [NODE_SELECTOR_REQUIREMENT]}
POD_AFFINITY_TERM = {"labelSelector": LABEL_SELECTOR, "namespaceSelector": LABEL_SELECTOR, "namespaces": STRINGS,
                     "topologyKey": Required(STRING), "matchLabelKeys": STRINGS, "mismatchLabelKeys": STRINGS}
POD_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": [POD_AFFINITY_TERM],
    "preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": Required(Between(1, 100)), "podAffinityTerm": Required(POD_AFFINITY_TERM)}],
}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": Required([NODE_SELECTOR_TERM])},
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": Required(Between(1, 100)), "preference": Required(NODE_SELECTOR_TERM)}],
    },
    "podAffinity": POD_AFFINITY,
    "podAntiAffinity": POD_AFFINITY,
}
TOLERATION = {"key": STRING, "operator": ("Exists", "Equal"), "value": STRING,
              "effect": ("NoSchedule", "PreferNoSchedule", "NoExecute"), "tolerationSeconds": INTEGER}


def problems(value: Any, shape: Any, path: str) -> list[tuple[str, Any, str]]:
    """(key, value, what is allowed) for everything in `value` that does not fit `shape`."""
    shape = shape.shape if isinstance(shape, Required) else shape
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [(path, value, "must be an object (a YAML map)")]
        found = [(f"{path}.{field}", None, "is required") for field, inner in shape.items()
                 if isinstance(inner, Required) and field not in value]
        for field, item in value.items():
            if field in shape:
                found += problems(item, shape[field], f"{path}.{field}")
            else:
                hint = difflib.get_close_matches(field, list(shape), n=1)
                suggestion = f"; did you mean {hint[0]}?" if hint else f" (fields: {', '.join(shape)})"
                found.append((f"{path}.{field}", item, f"is not a field here{suggestion}"))
        return found
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [(path, value, "must be a list")]
        return [p for index, item in enumerate(value) for p in problems(item, shape[0], f"{path}[{index}]")]
    if isinstance(shape, tuple):
        return [] if value in shape else [(path, value, f"must be one of {', '.join(shape)}")]
    if isinstance(shape, Between):
        in_range = isinstance(value, int) and not isinstance(value, bool) and shape.low <= value <= shape.high
        return [] if in_range else [(path, value, f"must be an integer from {shape.low} to {shape.high}")]
    return [] if _SCALARS[shape](value) else [(path, value, f"must be {shape}")]


_SCALARS: dict[str, Callable[[Any], bool]] = {
    STRING: lambda v: isinstance(v, str),
    INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    STRINGS: lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    STRING_MAP: lambda v: isinstance(v, dict) and all(isinstance(i, str) for i in v.values()),
}
