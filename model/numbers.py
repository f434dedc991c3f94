"""Numbers as query languages and APIs read them: plain decimals, never exponent notation.

Python's shortest float spelling switches to exponents (5e+06, 1e-05), which
Datadog documents no support for and which reads badly in PromQL and KQL; the
products of thresholds also carry float noise (14.4 * 0.01 = 0.14400000000000002).
"""

from __future__ import annotations

from decimal import Decimal

SIGNIFICANT_DIGITS = 12  # far beyond any threshold's precision, far short of float noise


def plain(value: float) -> str:
    """14.4 -> "14.4", 5e6 -> "5000000", 0.14400000000000002 -> "0.144", 1e-05 -> "0.00001"."""
    text = format(Decimal(f"{value:.{SIGNIFICANT_DIGITS}g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
