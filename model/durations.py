"""Durations in the three spellings the backends use: ISO 8601 (Azure), Prometheus, and minutes."""

from __future__ import annotations

import re

_ISO = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?")
_UNIT_MINUTES = {"d": 1440, "h": 60, "m": 1}


def iso_minutes(duration: str) -> int:
    """PT5M -> 5, P1D -> 1440. Raises ValueError for anything else (seconds included)."""
    match = _ISO.fullmatch(duration)
    if not match or duration in ("P", "PT") or duration.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration of days, hours and minutes: {duration!r}")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return days * 1440 + hours * 60 + minutes


def iso(minutes: int) -> str:
    """5 -> PT5M, 60 -> PT1H, 1440 -> P1D, 4320 -> P3D."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    date = f"{days}D" if days else ""
    time = (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return "P" + date + (f"T{time}" if time else "")


def prometheus(minutes: int) -> str:
    """5 -> 5m, 60 -> 1h, 4320 -> 3d: the largest unit that divides exactly."""
    for unit, size in _UNIT_MINUTES.items():
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    raise AssertionError("unreachable: minutes are whole")
