"""Run the Pulumi program under mocks and record every resource it registers.

Shared by the tests and the offline render, so both see exactly the same plan.
Mock ids are deterministic (Azure ones shaped like ARM ids), so references
between resources can be followed and compared. Each registration is recorded
from the wire format the engine would receive, where a secret is marked at the
exact place it sits; the recorder keeps that structure and masks only the
secret leaves.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import runpy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import Stack, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.stack_config import ROOT, StackConfig

MASK = "[secret]"
MAIN = ROOT / "__main__.py"

# ARM resource types of the azure-native tokens the program uses, for realistic ids.
_ARM_TYPES = {
    "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "azure-native:applicationinsights:Component": "Microsoft.Insights/components",
    "azure-native:applicationinsights:WebTest": "Microsoft.Insights/webtests",
    "azure-native:monitor:ActionGroup": "Microsoft.Insights/actionGroups",
    "azure-native:monitor:MetricAlert": "Microsoft.Insights/metricAlerts",
    "azure-native:monitor:ScheduledQueryRule": "Microsoft.Insights/scheduledQueryRules",
}
# The input carrying the Azure name, per token; a resource group's own name is resourceGroupName.
_AZURE_NAME_INPUTS = ("workspaceName", "resourceName", "webTestName", "actionGroupName", "ruleName")


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    id: str
    parent: str
    provider: str  # URN of the explicit provider, "" for providers and components
    protect: bool
    inputs: dict  # as the engine receives them, secret leaves masked
    raw_inputs: dict = field(repr=False)  # the same, unmasked: for tests that follow a secret's wiring
    secret_paths: tuple[str, ...] = ()  # where secrets sit in the inputs, e.g. webhookReceivers[0].serviceUri
    depends_on: tuple[str, ...] = ()  # URNs it waits for beyond what its inputs reference (depends_on)

    def to_json(self) -> dict:
        entry: dict[str, Any] = {"urn": self.urn, "type": self.type, "name": self.name, "id": self.id}
        if self.parent:
            entry["parent"] = self.parent
        if self.provider:
            entry["provider"] = self.provider
        if self.protect:
            entry["protect"] = True
        if self.depends_on:
            entry["dependsOn"] = list(self.depends_on)
        entry["inputs"] = self.inputs
        return entry


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: tuple[Resource, ...]  # sorted by URN, so the plan diffs cleanly
    outputs: dict  # stack exports, secrets masked
    raw_outputs: dict = field(repr=False)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def secret_values(self) -> set[str]:
        """Every revealed secret string in the plan, to prove none of them leaks into a render."""
        found: set[str] = set()
        for masked, raw in [(r.inputs, r.raw_inputs) for r in self.resources] + [(self.outputs, self.raw_outputs)]:
            _collect_secrets(masked, raw, found)
        return found

    def to_json(self) -> dict:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }


class PlanMocks(pulumi_mocks.Mocks):
    """Deterministic ids and the computed outputs the program reads back."""

    def __init__(self) -> None:
        self._providers: dict[str, dict] = {}  # provider reference "urn::id" -> its inputs

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-provider", inputs
        if args.typ.startswith("azure-native:"):
            return self._azure(args, inputs)
        if args.typ.startswith("kubernetes:"):
            metadata = inputs.get("metadata") or {}
            namespace = metadata.get("namespace")
            name = metadata.get("name", args.name)
            return (f"{namespace}/{name}" if namespace else name), inputs
        if args.typ == "datadog:index/monitor:Monitor":  # Datadog numbers its monitors; composites join the numbers
            return str(int(_stable_hex(args.typ, args.name), 16) % 10**9), inputs
        return _stable_hex(args.typ, args.name), inputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
        if args.token == "azure-native:resources:getResourceGroup":
            name = args.args["resourceGroupName"]
            subscription = self._subscription(args.provider)
            return {"name": name, "location": "existing-location",
                    "id": f"/subscriptions/{subscription}/resourceGroups/{name}"}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")

    def register_provider(self, reference: str, inputs: dict) -> None:
        self._providers[reference] = inputs

    def _subscription(self, provider: str | None) -> str:
        return (self._providers.get(provider or "") or {}).get("subscriptionId", "00000000-0000-0000-0000-000000000000")

    def _azure(self, args: pulumi_mocks.MockResourceArgs, inputs: dict) -> tuple[str, dict]:
        group = f"/subscriptions/{self._subscription(args.provider)}/resourceGroups/{inputs.get('resourceGroupName')}"
        if args.typ == "azure-native:resources:ResourceGroup":
            inputs["name"] = inputs["resourceGroupName"]
            return group, inputs
        name = next((inputs[key] for key in _AZURE_NAME_INPUTS if key in inputs), args.name)
        inputs["name"] = name
        arm_type = _ARM_TYPES.get(args.typ, "/".join(args.typ.split(":")[1:]))
        resource_id = f"{group}/providers/{arm_type}/{name}"
        if args.typ == "azure-native:applicationinsights:Component":
            key = str(uuid.uuid5(uuid.NAMESPACE_URL, resource_id))
            app_id = str(uuid.uuid5(uuid.NAMESPACE_URL, resource_id + "/app"))
            region = inputs.get("location", "westeurope")
            inputs.update(
                instrumentationKey=key,
                appId=app_id,
                connectionString=(f"InstrumentationKey={key};"
                                  f"IngestionEndpoint=https://{region}-0.in.applicationinsights.azure.com/;"
                                  f"LiveEndpoint=https://{region}.livediagnostics.monitor.azure.com/;"
                                  f"ApplicationId={app_id}"),
            )
        elif args.typ == "azure-native:operationalinsights:Workspace":
            inputs["customerId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, resource_id))
        return resource_id, inputs


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration as the engine would see it."""

    def __init__(self, mocks: PlanMocks):
        super().__init__(mocks)
        self.plan_mocks = mocks
        self.recorded: list[Resource] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        masked, secret_paths = _decode(request.object, reveal=False)
        raw, _ = _decode(request.object, reveal=True)
        if request.type.startswith("pulumi:providers:"):
            self.plan_mocks.register_provider(f"{response.urn}::{response.id}", raw)
        through_inputs = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
        self.recorded.append(Resource(
            urn=response.urn, type=request.type, name=request.name, id=response.id,
            parent=request.parent, provider=request.provider.rsplit("::", 1)[0],
            protect=request.protect, inputs=masked, raw_inputs=raw, secret_paths=tuple(secret_paths),
            depends_on=tuple(sorted(set(request.dependencies) - through_inputs)),
        ))
        return response


def run_program(config: StackConfig, monitor: RecordingMonitor | None = None) -> Plan:
    """The project's own __main__.py, exactly as `pulumi up` would run it."""
    return run(lambda: runpy.run_path(str(MAIN), run_name="__main__"), config, monitor)


def run(program: Callable[[], Any], config: StackConfig, monitor: RecordingMonitor | None = None) -> Plan:
    """Runs `program` against `config` under mocks; raises whatever the program raises.

    Pass a `monitor` to see what was registered even when the program fails.
    """
    monitor = monitor or RecordingMonitor(PlanMocks())
    mocks = monitor.plan_mocks
    pulumi.runtime.reset_options(project=config.project, stack=config.stack)
    pulumi.runtime.set_mocks(mocks, project=config.project, stack=config.stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
    with _config_environment(config), _collector_paused(), _no_source_positions():
        _sync_await(run_pulumi_func(program))
    root = pulumi.runtime.get_root_resource()
    assert isinstance(root, Stack), "the program ran without a root stack"
    exports = root.outputs
    wire = _sync_await(rpc.serialize_properties(exports, {}))
    outputs, _ = _decode(wire, reveal=False)
    raw_outputs, _ = _decode(wire, reveal=True)
    resources = tuple(sorted(monitor.recorded, key=lambda r: r.urn))
    return Plan(config.project, config.stack, resources, outputs, raw_outputs)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The run builds millions of long-lived objects (the SDK modules it imports, resources, outputs),
    which the cyclic garbage collector would scan again and again: 60% of a 100-service stack's
    run, and a full sweep of seconds once it ends. It leaves little cyclic garbage (a few thousand
    objects), so the collector sleeps through the run and the survivors are frozen out of its
    sweeps after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """The SDK walks the call stack of every resource it registers, turning each frame into a file URI, for
    the engine to show where a resource was declared. The mocks drop it unread (it costs about 0.4 s of a
    100-service render)."""
    with mock.patch.object(pulumi_resource, "_get_stack_trace", source_pb2.StackTrace):
        yield


@contextlib.contextmanager
def _config_environment(config: StackConfig) -> Iterator[None]:
    """The variables the Python language host sets, which the program reads its config from."""
    values = {"PULUMI_CONFIG": json.dumps(dict(config.values)),
              "PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(config.secret_keys))}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _decode(struct: struct_pb2.Struct, *, reveal: bool) -> tuple[dict, list[str]]:
    """Wire properties -> plain values; secrets masked in place unless `reveal`."""
    secret_paths: list[str] = []
    value = {key: _value(v, key, reveal, False, secret_paths) for key, v in struct.fields.items()}
    return {k: v for k, v in value.items() if v is not None}, secret_paths


def _value(value: struct_pb2.Value, path: str, reveal: bool, secret: bool, secret_paths: list[str]) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        fields = value.struct_value.fields
        signature = fields[rpc._special_sig_key].string_value if rpc._special_sig_key in fields else None
        if signature == rpc._special_secret_sig:
            if not secret:
                secret_paths.append(path)
            return _value(fields["value"], path, reveal, True, secret_paths)
        if signature == rpc._special_resource_sig:
            return fields["urn"].string_value
        if signature is not None:
            raise ValueError(f"unexpected wire value at {path}: signature {signature}")
        return {k: _value(v, f"{path}.{k}", reveal, secret, secret_paths) for k, v in fields.items()}
    if kind == "list_value":
        return [_value(v, f"{path}[{i}]", reveal, secret, secret_paths) for i, v in enumerate(value.list_value.values)]
    if kind is None or kind == "null_value":
        return None
    if secret and not reveal:
        return MASK
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number  # the wire has only doubles
    return getattr(value, kind)


def _stable_hex(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)).hex[:16]


def _collect_secrets(masked: Any, raw: Any, found: set[str]) -> None:
    if masked == MASK and isinstance(raw, str) and raw != MASK:
        found.add(raw)
    elif isinstance(masked, dict) and isinstance(raw, dict):
        for key in masked:
            _collect_secrets(masked[key], raw.get(key), found)
    elif isinstance(masked, list) and isinstance(raw, list):
        for masked_item, raw_item in zip(masked, raw, strict=True):
            _collect_secrets(masked_item, raw_item, found)
