"""Resources a stack makes one of per alert, registered as the engine receives every resource: the provider's
type token and camelCase inputs, through the same explicit provider the component's `opts` carry.

A typed SDK class costs more than such a resource's own inputs: the Datadog Monitor makes an Output for each
of the ~45 properties the provider has, and Azure's ScheduledQueryRule resolves 17 aliases (its earlier API
versions, which these stacks never used). At 100 services, 2,600 monitors and 600 log alerts, that was a
third of the render (make bench). The plan, the diff and the policy pack see the same type and inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi


def register(type_token: str, name: str, inputs: Mapping[str, Any],
             opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Unset inputs (None) are left out, as the typed classes leave them out."""
    return pulumi.CustomResource(type_token, name, {key: value for key, value in inputs.items() if value is not None},
                                 opts)
