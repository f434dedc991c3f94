"""Resources registered as the engine receives every resource: the provider's type token and camelCase inputs,
through the explicit provider the component's `opts` carry. The plan, the diff and the policy pack see the same
type and inputs as from a typed SDK class.

Used where the typed classes cost more than the resources: all of Datadog, whose Python SDK takes seconds to
import (its inputs module defines thousands of classes), once in every render, test worker and subprocess; and
the resources a stack makes one or more of per alert or per service, where the typed class outweighs the inputs
(the Datadog Monitor makes an Output for each of the ~45 properties the provider has; Azure's ScheduledQueryRule
resolves 17 aliases of API versions these stacks never used; a typed Kubernetes object resolves the aliases of
its kind's old API groups and turns its outputs into typed objects). make bench measures them.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi


def register(type_token: str, name: str, inputs: Mapping[str, Any],
             opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Unset inputs (None) are left out, as the typed classes leave them out."""
    return pulumi.CustomResource(type_token, name, {key: value for key, value in inputs.items() if value is not None},
                                 opts)


def kubernetes(api_version: str, kind: str, name: str, inputs: Mapping[str, Any],
               opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """A Kubernetes object, under the type token its typed class has (`core/` before a bare v1)."""
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return register(f"kubernetes:{group_version}:{kind}", name, {"apiVersion": api_version, "kind": kind, **inputs},
                    opts)


def output(resource: pulumi.CustomResource, key: str) -> pulumi.Output[Any]:
    """A resource's output for one of the inputs it was registered with (the SDK makes one per input)."""
    return getattr(resource, key)


def provider(package: str, name: str, inputs: Mapping[str, Any], secrets: Sequence[str]) -> pulumi.ProviderResource:
    """The package's provider at the version installed beside the program, which its typed class would pin;
    `secrets`: the inputs its state keeps secret, as the typed class marks them."""
    return pulumi.ProviderResource(
        package, name, {key: value for key, value in inputs.items() if value is not None},
        pulumi.ResourceOptions(version=importlib.metadata.version(f"pulumi-{package}"),
                               additional_secret_outputs=list(secrets)))
