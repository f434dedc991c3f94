"""The floor of a render at scale: a rendered plan's resources registered again as generic resources.

Every resource of `build/<stack>/plan.json` (same type, name, parent, provider and inputs) as a plain
`pulumi.CustomResource`, `ComponentResource` or `ProviderResource`, under the same mocks and the same
stack config the render ran with: what registering that plan costs the SDK and the mocks with none of
the program's own work. Prints the seconds the registration took (imports excluded).

    .venv/bin/python bench/replay_floor.py <plan.json> <stack> <config dir>
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pulumi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import mocks, stack_config  # noqa: E402

PROVIDERS = "pulumi:providers:"


def depth(resource: dict[str, Any]) -> int:
    """How many parents stand above it: the type chain in its URN (`parent$child`)."""
    return resource["urn"].split("::")[2].count("$")


def replay(resources: list[dict[str, Any]]) -> None:
    # A custom resource's package has a provider in the plan; a component's (ai-observability:…) has none.
    packages = {r["type"][len(PROVIDERS):] for r in resources if r["type"].startswith(PROVIDERS)}
    registered: dict[str, pulumi.Resource] = {}
    providers: dict[str, pulumi.ProviderResource] = {}
    for resource in sorted(resources, key=depth):
        opts = pulumi.ResourceOptions(parent=registered.get(resource.get("parent", "")),
                                      provider=providers.get(resource.get("provider", "")))
        kind, name, inputs = resource["type"], resource["name"], resource.get("inputs", {})
        if kind.startswith(PROVIDERS):
            registered[resource["urn"]] = providers[resource["urn"]] = pulumi.ProviderResource(
                kind[len(PROVIDERS):], name, inputs, opts)
        elif kind.split(":", 1)[0] in packages:
            registered[resource["urn"]] = pulumi.CustomResource(kind, name, inputs, opts)
        else:
            registered[resource["urn"]] = pulumi.ComponentResource(kind, name, None, opts)


def main() -> None:
    plan_file, stack, config_dir = sys.argv[1:4]
    resources = json.loads(Path(plan_file).read_text())["resources"]
    config = stack_config.load(stack, config_dir=Path(config_dir))
    start = time.perf_counter()
    plan = mocks.run(lambda: replay(resources), config)
    print(f"{time.perf_counter() - start:.3f}")
    assert len(plan.resources) == len(resources), "the replay registered another number of resources"


if __name__ == "__main__":
    main()
