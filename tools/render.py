"""The offline render: `make render STACK=<stack>`.

Runs __main__.py under Pulumi mocks with the stack file's config and writes what
`pulumi up` would be asked to create to build/<stack>/: plan.json (every
resource with its inputs as the engine receives them, secrets masked),
manifests/ (each Kubernetes object as it would be applied, validated with
kubernetes-validate --strict for the stack's Kubernetes version), and
prometheus-rules.yaml (the PrometheusRules' groups as promtool reads them,
checked with `promtool check rules` when promtool is installed). Exit codes:
0 rendered, 2 the stack's file or config is invalid, 1 the output is wrong
(an invalid manifest or rule, a secret that would have leaked); on either
failure build/<stack>/ holds nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, VersionNotSupportedError

from config import ConfigError, Settings
from config import load as load_settings
from model.naming.kubernetes import GRAFANA_DASHBOARD_LABEL
from tools import mocks, stack_config
from tools.stack_file import StackFileError

BAD_CONFIG = 2
BAD_RENDER = 1

# kubernetes-validate reads a kind's schema and the 2 MB definitions file again for every
# manifest: most of a large render's time. One read per file and process does.
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate.utils.schema_contents)


def write_plan(plan: mocks.Plan, out: Path) -> dict[Path, str]:
    """plan.json, one resource a line: diffable resource by resource, and written by json's C encoder (an indented
    document goes through its Python one, ten times slower: a second for a 100-service plan). Every writer returns
    the text of each file it wrote, which the leak check reads instead of the disk."""
    document = plan.to_json()
    fields = [f"  {json.dumps(key)}: {json.dumps(value, sort_keys=True)}"
              for key, value in document.items() if key != "resources"]
    resources = ",\n".join(f"    {json.dumps(resource, sort_keys=True)}" for resource in document["resources"])
    return _write(out / "plan.json", "{\n" + ",\n".join([*fields, f'  "resources": [\n{resources}\n  ]']) + "\n}\n")


def _write(path: Path, text: str) -> dict[Path, str]:
    path.write_text(text)
    return {path: text}


# Apply order, as kubectl and Helm would use it; unknown kinds go last.
KIND_ORDER = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "ConfigMap",
              "Service", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy")


def manifests(plan: mocks.Plan) -> list[dict]:
    """The Kubernetes objects in the plan, as they would be applied."""
    objects = [r.inputs for r in plan.resources if r.type.startswith("kubernetes:")]
    ranked = sorted(objects, key=lambda o: (KIND_ORDER.index(o["kind"]) if o["kind"] in KIND_ORDER
                                            else len(KIND_ORDER), o["kind"], o["metadata"]["name"]))
    return [{"apiVersion": o["apiVersion"], "kind": o["kind"], "metadata": _sorted(o["metadata"]),
             **{k: _sorted(v) for k, v in sorted(o.items()) if k not in ("apiVersion", "kind", "metadata")}}
            for o in ranked]


def _sorted(value):
    """Keys in a stable order (the wire format has none), lists as they are."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def manifest_file(manifest: dict) -> str:
    """<kind's apply rank>-<kind>-<name>.yaml: kubectl applies a directory in file name order, and
    a file keeps its name when other objects come or go."""
    kind = manifest["kind"]
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    group = manifest["apiVersion"].rpartition("/")[0]
    # The managed Prometheus addon's PodMonitor shares its kind and name with the operator's.
    kind_name = f"{kind.lower()}.{group.split('.')[0]}" if group == AZURE_MONITORING_GROUP else kind.lower()
    return f"{rank:02d}-{kind_name}-{manifest['metadata']['name']}.yaml"


def manifest_paths(plan: mocks.Plan, out: Path) -> dict[Path, dict]:
    """Each object's file under <out>/manifests."""
    found: dict[Path, dict] = {}
    for manifest in manifests(plan):
        path = out / "manifests" / manifest_file(manifest)
        if path in found:  # two objects of a kind with one name, in different namespaces
            raise ValueError(f"two {manifest['kind']} objects named {manifest['metadata']['name']}: {path.name}")
        found[path] = manifest
    return found


def write_manifests(objects: Mapping[Path, dict], out: Path) -> dict[Path, str]:
    (out / "manifests").mkdir()
    written: dict[Path, str] = {}
    for path, manifest in objects.items():
        written |= _write(path, yaml.dump(manifest, Dumper=_ManifestDumper, sort_keys=False, width=200))
    return written


# Custom resources, which kubernetes-validate has no schema for: the Prometheus operator's (their rules
# are checked by promtool instead, their routing by amtool in the tests), the AKS managed Prometheus
# addon's PodMonitors, KEDA's ScaledObjects and Argo Rollouts' Rollouts and AnalysisTemplates (the tests
# validate each against its CRD, vendored under tests/fixtures/crds/).
AZURE_MONITORING_GROUP = "azmonitoring.coreos.com"
CUSTOM_GROUPS = ("monitoring.coreos.com/", f"{AZURE_MONITORING_GROUP}/", "keda.sh/", "argoproj.io/")
PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"


def is_operator_resource(manifest: dict) -> bool:
    return manifest["apiVersion"].startswith(CUSTOM_GROUPS)


def shape(value: Any) -> Any:
    """What kubernetes-validate's schemas judge of a manifest: its keys, nesting and JSON types. (Their only
    constraints on a value are the enums of apiVersion and kind, which invalid_manifests keeps beside this.)"""
    if isinstance(value, dict):
        return tuple((key, shape(inner)) for key, inner in value.items())
    if isinstance(value, list):
        return tuple(shape(item) for item in value)
    return type(value).__name__


def invalid_manifests(files: Mapping[Path, dict], kubernetes_version: str) -> list[str]:
    """What kubernetes-validate --strict says of each manifest file's object, for the stack's Kubernetes version.

    Validated once per shape: 100 services' Deployments differ in names and values, not in what is checked."""
    problems = []
    said: dict[Any, str | None] = {}  # per (apiVersion, kind, shape): the problem, or None when valid
    for path, manifest in files.items():
        if is_operator_resource(manifest):
            continue
        key = (manifest.get("apiVersion"), manifest.get("kind"), shape(manifest))
        if key not in said:
            said[key] = validation_problem(manifest, kubernetes_version)
        if said[key] is not None:
            problems.append(f"{path.name}: {said[key]}")
    return problems


def validation_problem(manifest: dict, kubernetes_version: str) -> str | None:
    try:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
    except ValidationError as error:
        return f"{'.'.join(str(p) for p in error.path)}: {error.message}"
    except (SchemaNotFoundError, VersionNotSupportedError) as error:
        return error.message
    return None


DATADOG_DASHBOARD = "datadog:index/dashboardJson:DashboardJson"
DATADOG_TAG_CONFIGURATION = "datadog:index/metricTagConfiguration:MetricTagConfiguration"


def dashboards(plan: mocks.Plan) -> dict[str, dict]:
    """Every dashboard the plan ships, by file name: Grafana's from their ConfigMaps, Datadog's as posted."""
    found = {}
    for resource in plan.resources:
        if resource.type == "kubernetes:core/v1:ConfigMap" and \
                resource.inputs["metadata"].get("labels", {}).items() >= GRAFANA_DASHBOARD_LABEL.items():
            found.update({f"grafana-{key}": json.loads(text) for key, text in resource.inputs["data"].items()})
        elif resource.type == DATADOG_DASHBOARD:
            document = json.loads(resource.inputs["dashboard"])
            found[f"datadog-{resource.name.removesuffix('-datadog-dashboard')}.json"] = document
    return found


def write_dashboards(plan: mocks.Plan, out: Path) -> dict[Path, str]:
    """The dashboards as files a reviewer opens, or imports into Grafana or Datadog as they are."""
    (out / "dashboards").mkdir()
    written: dict[Path, str] = {}
    for name, document in sorted(dashboards(plan).items()):
        written |= _write(out / "dashboards" / name, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return written


GROUP_KEYS = ("name", "interval", "rules")
RULE_KEYS = ("record", "alert", "expr", "for", "labels", "annotations")


def rule_groups(plan: mocks.Plan) -> dict:
    """Every PrometheusRule's groups, as one rule file, keys in the order people write them."""
    def ordered(entry: dict, keys: tuple[str, ...]) -> dict:
        return {key: _sorted(entry[key]) for key in keys if key in entry}

    return {"groups": [{**ordered(group, GROUP_KEYS), "rules": [ordered(rule, RULE_KEYS) for rule in group["rules"]]}
                       for r in plan.resources
                       if r.inputs.get("kind") == "PrometheusRule" and r.inputs.get("apiVersion") == PROMETHEUS_RULE_API
                       for group in r.inputs["spec"]["groups"]]}


def write_rules(plan: mocks.Plan, out: Path) -> dict[Path, str]:
    return _write(out / "prometheus-rules.yaml", yaml.dump(rule_groups(plan), Dumper=_ManifestDumper,
                                                           sort_keys=False, width=200))


def promtool_check(path: Path) -> tuple[bool | None, str]:
    """(passed, what promtool said); passed is None when promtool is not installed."""
    if shutil.which("promtool") is None:
        return None, "promtool not found (Debian package prometheus): rules not checked"
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


class _ManifestDumper(yaml.CSafeDumper):
    """Multi-line strings (the collector's config) as readable YAML blocks."""


_ManifestDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def leaked_secrets(files: Mapping[Path, str], secrets: set[str]) -> list[str]:
    """Files (by their text) that contain a revealed secret value; empty when masking held."""
    # Short values (true, 1) are not distinctive enough to search for.
    distinctive = [s for s in secrets if len(s) >= 8]
    return [str(path) for path, text in files.items() if any(s in text for s in distinctive)]


def settings_of(config: stack_config.StackConfig) -> Settings:
    return load_settings(config.values, config.secret_keys, config.stack, config.project)


def package(type_: str) -> str:
    return "providers" if type_.startswith("pulumi:providers:") else type_.split(":")[0]


def summary(plan: mocks.Plan) -> str:
    """Counts by provider package and type: what `pulumi up` would create."""
    by_type = Counter(r.type for r in plan.resources)
    lines = [f'stack "{plan.stack}": {len(plan.resources)} resources']
    for name in sorted({package(t) for t in by_type}):
        types = sorted(t for t in by_type if package(t) == name)
        lines.append(f"  {name:<18} {sum(by_type[t] for t in types):>3}")
        lines += [f"    {t:<56} {by_type[t]:>3}" for t in types]
    if plan.outputs.get("datadogSloIds") and not by_type.get(DATADOG_TAG_CONFIGURATION):
        lines.append("  datadog: the latency percentiles are another stack's (datadog.manageLatencyPercentiles: "
                     "false); deploy that stack first, or percentile and threshold queries read no data")
    excluded = {service: found for service, found in plan.outputs.get("excludedAlerts", {}).items() if found}
    for service, found in sorted(excluded.items()):
        lines.append(f"  {service}: {len(found)} alert(s) excluded, their server cannot measure them:")
        lines += [f"    {alert}: {reason}" for alert, reason in sorted(found.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make render", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT,
                        help="directory holding Pulumi.<stack>.yaml (default: the project)")
    parser.add_argument("--out", type=Path, default=stack_config.ROOT / "build",
                        help="output directory; the render writes <out>/<stack>/ (default: build)")
    args = parser.parse_args(argv)

    out = args.out / args.stack
    # A failed render leaves nothing behind that a reviewer could take for the current plan.
    shutil.rmtree(out, ignore_errors=True)
    try:
        config = stack_config.load(args.stack, config_dir=args.config_dir)
        plan = mocks.run_program(config)
    except StackFileError as error:
        print(f"Pulumi.{args.stack}.yaml cannot be read as the Pulumi CLI reads it; nothing was written:\n  "
              + "\n  ".join(error.problems), file=sys.stderr)
        return BAD_CONFIG
    except (ConfigError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return BAD_CONFIG
    return write(plan, config, out)


def write(plan: mocks.Plan, config: stack_config.StackConfig, out: Path) -> int:
    """Everything `make render` writes for a stack's plan into `out`, checked: 0, or BAD_RENDER with `out` gone."""
    manifest_files = manifest_paths(plan, out)  # before anything is written: it refuses two files of one name
    out.mkdir(parents=True)
    written = write_rules(plan, out)
    rules, = written
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as background:
        promtool = background.submit(promtool_check, rules)  # its own process: it checks while the rest is written
        written |= write_plan(plan, out) | write_dashboards(plan, out) | write_manifests(manifest_files, out)
        kubernetes_version = settings_of(config).kubernetes.version
        invalid = invalid_manifests(manifest_files, kubernetes_version)
        rules_valid, promtool_said = promtool.result()
    if invalid:
        print(f"manifests invalid for Kubernetes {kubernetes_version}:\n  " + "\n  ".join(invalid), file=sys.stderr)
        shutil.rmtree(out)
        return BAD_RENDER

    if rules_valid is False:
        print(f"promtool check rules failed:\n{promtool_said}", file=sys.stderr)
        shutil.rmtree(out)
        return BAD_RENDER

    leaks = leaked_secrets(written, plan.secret_values())
    if leaks:
        print(f"a secret value was written unmasked to: {', '.join(leaks)}", file=sys.stderr)
        shutil.rmtree(out)
        return BAD_RENDER

    print(summary(plan))
    if config.placeholders:
        print("secrets not available offline, rendered with placeholders: " + ", ".join(config.placeholders))
    checked = sum(not is_operator_resource(m) for m in manifest_files.values())
    groups = len(rule_groups(plan)["groups"])
    print(f"wrote {os.path.relpath(out / 'plan.json')}; {len(manifest_files)} manifests in "
          f"{os.path.relpath(out / 'manifests')} ({checked} valid for Kubernetes {kubernetes_version} under "
          f"kubernetes-validate --strict; {len(manifest_files) - checked} custom resources (Prometheus operator, "
          f"managed Prometheus, KEDA, Argo Rollouts), which it has no schema for); {os.path.relpath(rules)} "
          f"({groups} rule group{'' if groups == 1 else 's'}; "
          + (promtool_said.splitlines()[-1].strip() if rules_valid else promtool_said) + "); "
          f"{len(dashboards(plan))} dashboards in {os.path.relpath(out / 'dashboards')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
