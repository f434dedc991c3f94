"""The platform's rules for every stack, as Pulumi CrossGuard policies.

The same policies run in the engine (`pulumi preview --policy-pack policy`, see __main__.py) and
offline over a render (`make policy STACK=<stack>`, tools/policy_check.py). They read resource
inputs as the engine passes them (camelCase); a secret the engine would pass unwrapped appears
in an offline plan as "[secret]", and both are caught. Self-contained: the engine loads this
file from the policy pack's directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
REQUIRED_TAGS = ["environment", "service", "managed-by"]
MIN_RETENTION_DAYS = 30
PROJECT = Path(__file__).resolve().parent.parent  # the engine loads this pack from policy/, inside the project
STATEFUL = ("azure-native:resources:ResourceGroup", "azure-native:operationalinsights:Workspace",
            "azure-native:applicationinsights:Component")
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"  # Argo Rollouts: a Deployment's pod template, released as canaries
REPLICATED = {"kubernetes:apps/v1:Deployment", ROLLOUT}  # what runs a service's replicas
WORKLOADS = {*REPLICATED, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
             "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Pod"}
MASKED = "[secret]"  # how an offline plan shows a secret
# Credentials by their shape: an App Insights connection string, a Slack or generic webhook with
# its token, a PagerDuty or Datadog key assigned to a key-like name, a private key.
CREDENTIAL = re.compile(
    r"InstrumentationKey=[0-9a-fA-F-]{36}"
    r"|hooks\.slack\.com/services/\S+"
    r"|(?i:(api|app|routing|integration)[_-]?key)\W{1,3}[0-9a-fA-F]{32}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----")
SECRET_NAME = re.compile(r"(?i)(secret|password|passwd|token|api_?key|app_?key|connection_?string|credential|"
                         r"private_?key)")


def _stack(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def production_stacks(directory: Path = PROJECT) -> list[str]:
    """The stacks whose file says `ai-observability:production: true`: production is declared there alone."""
    def production(path: Path) -> bool:
        config = (yaml.load(path.read_text(), Loader=yaml.CSafeLoader) or {}).get("config") or {}
        return config.get("ai-observability:production") is True

    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml")
                  for path in directory.glob("Pulumi.*.yaml") if production(path))


def _production(args: ResourceValidationArgs) -> bool:
    return _stack(args.urn) in args.get_config()["productionStacks"]


def _pod_spec(kind: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = props.get("spec") or {}
    if kind == "kubernetes:core/v1:Pod":
        return spec
    if kind == "kubernetes:batch/v1:CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec")


def _containers(args: ResourceValidationArgs, *, init: bool = True) -> Iterator[tuple[Mapping, Mapping]]:
    """(pod spec, container) for every container of a workload, its init containers too unless `init` is False."""
    if args.resource_type not in WORKLOADS:
        return
    pod = _pod_spec(args.resource_type, args.props) or {}
    for container in [*((pod.get("initContainers") or []) if init else []), *(pod.get("containers") or [])]:
        yield pod, container


def _is_credential(value: Any) -> bool:
    return isinstance(value, str) and (value == MASKED or CREDENTIAL.search(value) is not None)


# -- Azure ---------------------------------------------------------------------------------------

def azure_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith("azure-native:"):
        return
    tags = args.props.get("tags") or {}
    missing = [t for t in args.get_config().get("requiredTags", REQUIRED_TAGS) if not tags.get(t)]
    if missing:
        report(f"{args.name} has no {', '.join(missing)} tag: Azure resources are found, charged and owned by "
               "these tags", None)


def workspace_retention_and_cap(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "azure-native:operationalinsights:Workspace":
        return
    minimum = args.get_config().get("minRetentionDays", MIN_RETENTION_DAYS)
    retention = args.props.get("retentionInDays")
    if not isinstance(retention, int) or retention < minimum:
        report(f"{args.name} keeps logs {retention} days; at least {minimum} are required", None)
    cap = (args.props.get("workspaceCapping") or {}).get("dailyQuotaGb")
    if not isinstance(cap, int | float) or cap <= 0:
        report(f"{args.name} has no daily ingestion cap (workspaceCapping.dailyQuotaGb is {cap}): an unbounded "
               "bill", None)


def app_insights_workspace_based(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "azure-native:applicationinsights:Component":
        return
    if not args.props.get("workspaceResourceId") or args.props.get("ingestionMode") != "LogAnalytics":
        report(f"{args.name} is not workspace-based (workspaceResourceId set and ingestionMode LogAnalytics): "
               "classic App Insights is retired", None)


def alerts_have_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    actions: Any
    if args.resource_type == "azure-native:monitor:MetricAlert":
        actions = [a.get("actionGroupId") for a in args.props.get("actions") or []]
    elif args.resource_type == "azure-native:monitor:ScheduledQueryRule":
        actions = (args.props.get("actions") or {}).get("actionGroups")
    elif args.resource_type == "azure-native:monitor:ActivityLogAlert":
        actions = [a.get("actionGroupId") for a in (args.props.get("actions") or {}).get("actionGroups") or []]
    else:
        return
    if not actions or not all(actions):
        report(f"{args.name} notifies no action group: it would fire and nobody would know", None)


def production_state_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in STATEFUL and _production(args) and not args.opts.protect:
        report(f"{args.name} holds production state (logs, telemetry) and is not protected from deletion "
               "(protect=True)", None)


# -- Kubernetes ------------------------------------------------------------------------------------

def containers_resources_and_probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for _, container in _containers(args):
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            missing = [r for r in ("cpu", "memory") if not (resources.get(part) or {}).get(r)]
            if missing:
                report(f"{args.name}: container {container.get('name')} has no {part} for {', '.join(missing)}",
                       None)
    for _, container in _containers(args, init=False):  # init containers run to completion: no probes
        missing = [p for p in ("livenessProbe", "readinessProbe") if not container.get(p)]
        if missing:
            report(f"{args.name}: container {container.get('name')} has no {' or '.join(missing)}", None)


# The Pod Security Standard "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards).
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def restricted_problems(pod: Mapping[str, Any]) -> list[str]:
    """What the restricted Pod Security Standard refuses in a pod spec, each naming its container or volume:
    the one checker, which the policy and the tests both use."""
    found = [f"uses {flag}" for flag in ("hostNetwork", "hostPID", "hostIPC") if pod.get(flag)]
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')} is of a disallowed type {', '.join(sorted(kinds))}")
    pod_security = pod.get("securityContext") or {}
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        security = container.get("securityContext") or {}
        problems = []
        if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
            problems.append("may run as root (runAsNonRoot)")
        if 0 in (security.get("runAsUser"), pod_security.get("runAsUser")):
            problems.append("runs as UID 0")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append("allows privilege escalation")
        if security.get("privileged"):
            problems.append("is privileged")
        capabilities = security.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append("keeps capabilities (drop ALL)")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append("adds capabilities beyond NET_BIND_SERVICE")
        seccomp = (security.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"has seccomp profile {seccomp}")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            problems.append("uses a host port")
        if problems:
            found.append(f"container {container.get('name')} {'; '.join(problems)}")
    return found


def containers_restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The Pod Security Standard `restricted`, checked before the admission controller refuses the pod."""
    if args.resource_type in WORKLOADS:
        for problem in restricted_problems(_pod_spec(args.resource_type, args.props) or {}):
            report(f"{args.name}: {problem}", None)


def containers_read_only_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """This project's hardening beyond the standard: nothing writes to a container's image."""
    for _, container in _containers(args):
        if (container.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            report(f"{args.name}: container {container.get('name')} has a writable root filesystem "
                   "(readOnlyRootFilesystem)", None)


def images_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for _, container in _containers(args):
        image = container.get("image") or ""
        reference = image.split("@", 1)[0]
        tag = reference.rsplit("/", 1)[-1].partition(":")[2]
        if "@sha256:" not in image and tag in ("", "latest"):
            report(f"{args.name}: container {container.get('name')} runs {image or 'no image'}: untagged and "
                   "latest images change under a running stack", None)


def no_plain_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "kubernetes:core/v1:ConfigMap":
        for key, value in (args.props.get("data") or {}).items():
            if _is_credential(value):
                report(f"{args.name}: ConfigMap key {key} holds a credential; ConfigMaps are readable by anyone "
                       "who can read the namespace: use a Secret", None)
    for _, container in _containers(args):
        for entry in container.get("env") or []:
            variable, value = entry.get("name", ""), entry.get("value")
            named = SECRET_NAME.search(variable) and not variable.endswith("_FILE") and value
            if named or _is_credential(value):
                report(f"{args.name}: container {container.get('name')} has {variable} as a plain value; a "
                       "credential comes from a Secret, as a mounted file or valueFrom.secretKeyRef", None)


# -- Prometheus ------------------------------------------------------------------------------------

def prometheus_alerts_labelled(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("kind") != "PrometheusRule":
        return
    for group in (args.props.get("spec") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            missing = [f"label {label}" for label in ("severity", "routing") if not (rule.get("labels") or {})
                       .get(label)]
            if not (rule.get("annotations") or {}).get("runbook_url"):
                missing.append("annotation runbook_url")
            if missing:
                report(f"{args.name}: alert {rule['alert']} has no {', '.join(missing)}: Alertmanager routes "
                       "on severity and routing, and on-call needs the runbook", None)


# -- advisory --------------------------------------------------------------------------------------

def production_images_by_digest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _production(args):
        return
    for _, container in _containers(args):
        if "@sha256:" not in (container.get("image") or "") or container.get("imagePullPolicy") != "Always":
            report(f"{args.name}: container {container.get('name')} in production should run its image by "
                   "digest, pulled Always", None)


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pods_covered_by(kind: str, what: str) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """A stack check: every workload's pods are selected by some `kind` object in its namespace."""
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        selectors = [(((r.props.get("metadata") or {}).get("namespace")),
                      (r.props.get("spec") or {}).get("selector" if kind.endswith("PodDisruptionBudget")
                                                       else "podSelector", {}).get("matchLabels") or {})
                     for r in args.resources if r.resource_type == kind]
        for resource in args.resources:
            if resource.resource_type not in REPLICATED:
                continue
            namespace = (resource.props.get("metadata") or {}).get("namespace")
            labels = ((((resource.props.get("spec") or {}).get("template") or {}).get("metadata") or {})
                      .get("labels") or {})
            if not any(ns == namespace and _selects(selector, labels) for ns, selector in selectors):
                report(f"{resource.name} has no {what}", resource.urn)
    return validate


# -- the pack --------------------------------------------------------------------------------------

def _policy(name: str, description: str, validate: Any, level: EnforcementLevel,
            config: Mapping[str, Any] | None = None) -> ResourceValidationPolicy:
    schema = PolicyConfigSchema(properties=dict(config)) if config else None
    return ResourceValidationPolicy(name=name, description=description, validate=validate, enforcement_level=level,
                                    config_schema=schema)


PRODUCTION_CONFIG = {"productionStacks": {"type": "array", "items": {"type": "string"},
                                         "default": production_stacks()}}

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    _policy("azure-required-tags", "Every Azure resource carries the environment, service and managed-by tags.",
            azure_tags, MANDATORY, {"requiredTags": {"type": "array", "items": {"type": "string"},
                                                    "default": REQUIRED_TAGS}}),
    _policy("log-analytics-retention-and-cap", "Log Analytics keeps logs 30 days at least, under a daily cap.",
            workspace_retention_and_cap, MANDATORY, {"minRetentionDays": {"type": "integer",
                                                                         "default": MIN_RETENTION_DAYS}}),
    _policy("app-insights-workspace-based", "Application Insights is workspace-based.",
            app_insights_workspace_based, MANDATORY),
    _policy("alerts-have-actions", "Every Azure alert notifies an action group.", alerts_have_actions, MANDATORY),
    _policy("production-state-protected", "Production's resource group, workspace and App Insights are protected.",
            production_state_protected, MANDATORY, PRODUCTION_CONFIG),
    _policy("containers-resources-and-probes", "Every container has requests, limits, liveness and readiness.",
            containers_resources_and_probes, MANDATORY),
    _policy("containers-restricted", "Every container runs non-root under the restricted Pod Security Standard.",
            containers_restricted, MANDATORY),
    _policy("containers-read-only-root", "Every container's root filesystem is read-only.",
            containers_read_only_root, MANDATORY),
    _policy("images-pinned", "No container runs a latest or untagged image.", images_pinned, MANDATORY),
    _policy("no-plain-secrets", "No credential in a ConfigMap or a plain environment value.", no_plain_secrets,
            MANDATORY),
    _policy("prometheus-alerts-labelled", "Every Prometheus alert has severity, routing and runbook_url.",
            prometheus_alerts_labelled, MANDATORY),
    _policy("production-images-by-digest", "Production runs images by digest, pulled Always.",
            production_images_by_digest, ADVISORY, PRODUCTION_CONFIG),
    StackValidationPolicy(name="workloads-have-disruption-budgets",
                          description="Every Deployment's or Rollout's pods are covered by a PodDisruptionBudget.",
                          validate=_pods_covered_by("kubernetes:policy/v1:PodDisruptionBudget", "PodDisruptionBudget"),
                          enforcement_level=ADVISORY),
    StackValidationPolicy(name="workloads-have-network-policies",
                          description="Every Deployment's or Rollout's pods are selected by a NetworkPolicy.",
                          validate=_pods_covered_by("kubernetes:networking.k8s.io/v1:NetworkPolicy",
                                                    "NetworkPolicy"),
                          enforcement_level=ADVISORY),
]
