"""Durations in the three spellings the backends use: ISO 8601 (Azure), Prometheus, and minutes."""

from __future__ import annotations

import re

_ISO = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?")
_UNIT_MINUTES = {"d": 1440, "h": 60, "m": 1}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def prometheus_seconds(duration: str) -> int:
    """30s -> 30, 10m -> 600, 1d -> 86400: one unit, as a range selector's window is usually written.
    Raises ValueError for anything else."""
    number, unit = duration[:-1], duration[-1:]
    if unit not in _UNIT_SECONDS or not number.isdigit() or int(number) == 0:
        raise ValueError(f"not a Prometheus duration like 30s, 10m, 1h or 1d: {duration!r}")
    return int(number) * _UNIT_SECONDS[unit]
