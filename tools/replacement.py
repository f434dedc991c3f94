"""Which input changes make a provider replace a resource (delete and create it) instead of updating it.

From each provider's own rules, for the resource types this program creates:

- azure-native (provider/pkg/provider/diff.go, calculateDetailedDiff): every parameter of the
  resource's ARM path (its resource group and its name) and every create-only property
  (`willReplaceOnChanges` in its schema: `location`, a Component's `applicationType`).
- kubernetes (provider/pkg/provider/provider.go and diff.go's forceNew table): a changed
  `metadata.name` or `metadata.namespace`, and per kind the immutable fields: a Secret's type
  and data and a ConfigMap's data (the provider's defaults, which this program keeps), a
  Service's `spec.clusterIP`, a Deployment's `spec.selector`, a binding's `roleRef`.
- datadog (the bridged Terraform provider's ForceNew arguments): a monitor's or SLO's `type`
  (between `query alert` and `metric alert` excepted), a tag configuration's metric name and type.

A path given here also covers every path beneath it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from model.naming.kubernetes import GRAFANA_DASHBOARD_LABEL, content_hash_of

AZURE_PATH_NAMES = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:operationalinsights:Workspace": "workspaceName",
    "azure-native:applicationinsights:Component": "resourceName",
    "azure-native:applicationinsights:WebTest": "webTestName",
    "azure-native:monitor:ActionGroup": "actionGroupName",
    "azure-native:monitor:MetricAlert": "ruleName",
    "azure-native:monitor:ScheduledQueryRule": "ruleName",
}
AZURE_CREATE_ONLY = {"azure-native:applicationinsights:Component": ("applicationType",)}

KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")
KUBERNETES_IMMUTABLE = {
    "kubernetes:core/v1:Secret": ("type", "stringData", "data"),
    "kubernetes:core/v1:ConfigMap": ("data", "binaryData"),
    "kubernetes:core/v1:Service": ("spec.clusterIP",),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
}

DATADOG_FORCE_NEW = {
    "datadog:index/monitor:Monitor": ("type",),
    "datadog:index/serviceLevelObjective:ServiceLevelObjective": ("type",),
    "datadog:index/metricTagConfiguration:MetricTagConfiguration": ("metricName", "metricType"),
}
# The Terraform provider ignores a monitor switching between these two types.
INTERCHANGEABLE_MONITOR_TYPES = {"query alert", "metric alert"}


class Change(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def old(self) -> Any: ...
    @property
    def new(self) -> Any: ...


def replacing(type_: str) -> tuple[str, ...]:
    """The input paths of `type_` whose change replaces the resource."""
    if type_.startswith("azure-native:"):
        name = (AZURE_PATH_NAMES[type_],) if type_ in AZURE_PATH_NAMES else ()
        return ("resourceGroupName", *name, "location", *AZURE_CREATE_ONLY.get(type_, ()))
    if type_.startswith("kubernetes:"):
        return (*KUBERNETES_IDENTITY, *KUBERNETES_IMMUTABLE.get(type_, ()))
    return DATADOG_FORCE_NEW.get(type_, ())


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def replacing_paths(type_: str, changes: Iterable[Change]) -> set[str]:
    """The paths among `changes` that replace a resource of `type_`."""
    prefixes = replacing(type_)
    found = set()
    for change in changes:
        if not any(_under(change.path, prefix) for prefix in prefixes):
            continue
        if type_ == "datadog:index/monitor:Monitor" and {change.old, change.new} <= INTERCHANGEABLE_MONITOR_TYPES:
            continue
        found.add(change.path)
    return found


def routine_replacement(type_: str, old: Mapping[str, Any], new: Mapping[str, Any], forcing: Iterable[str]) -> str:
    """Why replacing a resource (`old` and `new` inputs, `forcing` the paths that force it) is routine, or "".

    A ConfigMap whose content changed is routine when its name carries its content's hash (the provider
    creates the new one before it deletes the old: kubernetes provider.go's Diff asks delete-before-replace
    only when the name stays), or when it is a Grafana dashboard the sidecar reloads (it keeps its name, so
    the provider deletes it and creates it again, and the dashboard is back within the sidecar's watch)."""
    if type_ != "kubernetes:core/v1:ConfigMap" or \
            not all(path == "metadata.name" or _under(path, "data") or _under(path, "binaryData") for path in forcing):
        return ""
    old_name, new_name = old["metadata"]["name"], new["metadata"]["name"]
    old_hashed, new_hashed = content_hash_of(old_name), content_hash_of(new_name)
    if old_name != new_name and old_hashed and new_hashed and old_hashed[0] == new_hashed[0]:
        return "its name carries its content's hash: the new ConfigMap is created before the old one is " \
               "deleted, and the pods that mount it roll onto it"
    if old_name == new_name and (new["metadata"].get("labels") or {}).items() >= GRAFANA_DASHBOARD_LABEL.items():
        return "a Grafana dashboard: the provider deletes the ConfigMap and creates it again under its name, " \
               "and Grafana's sidecar loads the new dashboard within seconds"
    return ""
