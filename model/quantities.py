"""Kubernetes resource quantities (CPU and memory) as numbers, so they can be compared."""

from __future__ import annotations

import re

_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?")
_CPU = re.compile(r"(\d+(?:\.\d+)?)(m)?")


def millicores(quantity: str) -> int:
    """"500m" -> 500, "1" -> 1000, "0.25" -> 250."""
    match = _CPU.fullmatch(quantity)
    if not match:
        raise ValueError(f"not a CPU quantity like 500m or 2: {quantity!r}")
    value = float(match.group(1))
    return round(value if match.group(2) else value * 1000)


def memory_bytes(quantity: str) -> int:
    """"512Mi" -> 536870912, "1G" -> 10**9."""
    match = _MEMORY.fullmatch(quantity)
    if not match:
        raise ValueError(f"not a memory quantity like 512Mi or 2Gi: {quantity!r}")
    return round(float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""])


def mebibytes(quantity: str) -> int:
    return memory_bytes(quantity) // 2**20
