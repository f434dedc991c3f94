"""Checks of one value, each returning None when it is fine, else what is allowed."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlparse

from config import limits
from model.quantities import memory_bytes, millicores


def https_url(value: str) -> str | None:
    """An https:// URL."""
    parsed = urlparse(value)
    return None if parsed.scheme == "https" and parsed.hostname else "must be an https:// URL"


def http_url(value: str) -> str | None:
    """An http(s) URL, or empty for none."""
    parsed = urlparse(value)
    if not value:
        return None
    return None if parsed.scheme in ("http", "https") and parsed.hostname else "must be an http:// or https:// URL"


def email(value: str) -> str | None:
    """An e-mail address."""
    return None if re.fullmatch(limits.EMAIL, value) else "must be an e-mail address like oncall@example.com"


def receiver_name(value: str) -> str | None:
    """1-128 letters, digits, spaces, hyphens or underscores."""
    return None if re.fullmatch(limits.RECEIVER_NAME, value) else \
        "must be 1-128 letters, digits, spaces, hyphens or underscores"


def tag_key(value: str) -> str | None:
    """1-512 characters without < > % & \\ ? /, not one the program sets."""
    if value in limits.RESERVED_TAGS:
        return f"is set by the program; {', '.join(limits.RESERVED_TAGS)} cannot be overridden"
    if not value or len(value) > 512 or re.search(r"[<>%&\\?/]", value):
        return "must be 1-512 characters without < > % & \\ ? /"
    return None


def tag_value(value: str) -> str | None:
    """At most 256 characters."""
    return None if len(value) <= 256 else "must be at most 256 characters"


def label_key(value: str) -> str | None:
    """A Kubernetes label key."""
    return None if re.fullmatch(limits.LABEL_KEY, value) else "must be a Kubernetes label key"


def label_value(value: str) -> str | None:
    """A Kubernetes label value."""
    return None if re.fullmatch(limits.LABEL_VALUE, value) else limits.LABEL_VALUE_HINT


def dns_label(value: str) -> str | None:
    """A DNS label."""
    return None if re.fullmatch(limits.DNS_LABEL, value) else limits.DNS_LABEL_HINT


def daily_cap(value: float) -> str | None:
    """-1 (no cap) or a number of GB greater than 0."""
    return None if value == -1 or value > 0 else "must be -1 (no cap) or a number of GB greater than 0"


def env_name(value: str) -> str | None:
    """An environment variable name the program does not set."""
    if value in limits.PROGRAM_ENV:
        return ("is set by the program (it names the service to the backends, or carries its credentials); "
                "it cannot be overridden")
    return None if re.fullmatch(limits.ENV_NAME, value) else "must be an environment variable name"


def kubernetes_version(value: str) -> str | None:
    """A Kubernetes release this program validates its manifests against."""
    if not limits.KUBERNETES_MIN_MINOR <= int(value.split(".")[1]) <= limits.KUBERNETES_MAX_MINOR:
        return (f"must be a Kubernetes release from 1.{limits.KUBERNETES_MIN_MINOR} (the oldest this program's "
                f"manifests need) to 1.{limits.KUBERNETES_MAX_MINOR} (the newest it validates them against)")
    return None


def parses(parse: Callable[[str], int], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def cpu(value: str) -> str | None:
    """A CPU quantity like 500m or 2."""
    return None if parses(millicores, value) else "must be a CPU quantity like 500m or 2"


def memory(value: str) -> str | None:
    """A memory quantity like 512Mi or 2Gi."""
    return None if parses(memory_bytes, value) else "must be a memory quantity like 512Mi or 2Gi"


def webtest_frequency(value: int) -> str | None:
    """300, 600 or 900 seconds."""
    return None if value in limits.WEBTEST_FREQUENCIES else "must be one of 300, 600, 900"


def counter_name(value: str) -> str | None:
    """A counter name ending in _total."""
    return None if value.endswith("_total") else "must be a counter name ending in _total"


def datadog_handle(value: str) -> str | None:
    """A Datadog handle like @slack-ai-alerts."""
    return None if re.fullmatch(r"@[\w.@+-]+", value) else \
        "must be a Datadog handle like @slack-ai-alerts or @pagerduty-ai"


def image_tag(image: str) -> str | None:
    """The tag of an image reference (registry/name:tag@digest), or None."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def duration(value: str) -> str | None:
    """A duration in one unit: 30s, 5m, 1h."""
    return None if re.fullmatch(r"[1-9]\d*[smh]", value) else "must be a duration in one unit, like 30s, 5m or 1h"
