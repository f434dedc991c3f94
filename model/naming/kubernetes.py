"""How this program names and labels Kubernetes objects that other components find by name or label.

kube-prometheus-stack runs Grafana with its dashboard sidecar watching every namespace for
ConfigMaps labelled grafana_dashboard: "1" (its values.yaml: grafana.sidecar.dashboards label,
labelValue "1", searchNamespace ALL). The sidecar writes each data key to a file of that name
and deletes the file when the ConfigMap goes, so a dashboard's ConfigMap keeps one name.

A ConfigMap named by its content (kustomize's configMapGenerator does the same): a changed
content is a new name, so the Kubernetes provider replaces it by creating the new ConfigMap
before deleting the old one, and a workload that mounts it rolls onto the new name. The plan
diff (tools/replacement.py) knows such a replacement as routine by this shape.
"""

from __future__ import annotations

import hashlib
import re

GRAFANA_DASHBOARD_LABEL = {"grafana_dashboard": "1"}
HASH_DIGITS = 10  # of the content's SHA-256, as kustomize keeps 10 characters of its hash


def content_named(name: str, content: str) -> str:
    return f"{name}-{hashlib.sha256(content.encode()).hexdigest()[:HASH_DIGITS]}"


def content_hash_of(name: str) -> tuple[str, str] | None:
    """(the name without its hash, the hash) for a name content_named gave, else None."""
    match = re.fullmatch(rf"(.+)-([0-9a-f]{{{HASH_DIGITS}}})", name)
    return (match.group(1), match.group(2)) if match else None
