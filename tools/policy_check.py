"""The policy pack offline: `make policy STACK=<stack>`, or over a plan file with --plan.

Runs every policy of policy/rules.py over the stack's plan (the program under mocks, as the render
runs it) the way the engine runs them in `pulumi preview --policy-pack policy`: each resource
policy on each resource's inputs and options, each stack policy on all of them, with each policy's
configuration defaults. Prints every violation with its policy and resource; exit 1 when a
mandatory policy is violated, 0 otherwise (advisory ones are printed as warnings), 2 when the stack
cannot be planned.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from config import ConfigError
from policy.rules import POLICIES, production_stacks
from tools import mocks, stack_config
from tools.stack_file import StackFileError


@dataclass(frozen=True)
class Violation:
    policy: str
    mandatory: bool
    resource: str  # its URN, or the stack's name for a stack-wide finding
    message: str

    def __str__(self) -> str:
        level = "MANDATORY" if self.mandatory else "advisory"
        return f"[{level}] {self.policy}: {self.resource}\n    {self.message}"


def config_of(policy: Any) -> dict[str, Any]:
    """A policy's configuration as the engine gives it without a config file: its schema's defaults."""
    schema = policy.config_schema
    return {key: spec["default"] for key, spec in (schema.properties if schema else {}).items() if "default" in spec}


def _options(resource: Mapping[str, Any]) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=bool(resource.get("protect")), ignore_changes=[], delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=[], parent=resource.get("parent"))


def check(plan: Mapping[str, Any], config_dir: Path = stack_config.ROOT) -> list[Violation]:
    """Every violation of every policy in `plan` (a plan.json document) of a stack whose file is in `config_dir`."""
    resources = [r for r in plan["resources"] if not r["type"].startswith("pulumi:providers:")]
    found: list[Violation] = []

    def reporter(policy: Any, where: str) -> Callable[..., None]:
        mandatory = policy.enforcement_level == EnforcementLevel.MANDATORY
        return lambda message, urn=None: found.append(Violation(policy.name, mandatory, urn or where, message))

    production = production_stacks(config_dir)
    for policy in POLICIES:
        config = config_of(policy)
        if "productionStacks" in config:  # as the pack reads them from the project's stack files
            config["productionStacks"] = production
        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                policy.validate(ResourceValidationArgs(r["type"], r.get("inputs", {}), r["urn"], r["name"],
                                                       _options(r), None, config), reporter(policy, r["urn"]))
        else:
            policy.validate(StackValidationArgs([PolicyResource(r["type"], r.get("inputs", {}), r["urn"], r["name"],
                                                                _options(r), None, None, [], {}) for r in resources],
                                                config), reporter(policy, f"stack {plan['stack']}"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make policy", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", help="plan this stack (Pulumi.<stack>.yaml) and check it")
    parser.add_argument("--plan", type=Path, help="check this plan.json instead (e.g. build/<stack>/plan.json)")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT)
    args = parser.parse_args(argv)
    if bool(args.stack) == bool(args.plan):
        parser.error("give a stack or --plan, one of them")
    try:
        plan = json.loads(args.plan.read_text()) if args.plan else \
            mocks.run_program(stack_config.load(args.stack, config_dir=args.config_dir)).to_json()
    except (ConfigError, StackFileError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    violations = check(plan, args.config_dir)
    for violation in sorted(violations, key=lambda v: (not v.mandatory, v.policy, v.resource)):
        print(violation)
    mandatory = [v for v in violations if v.mandatory]
    print(f"stack {plan['stack']}: {len(POLICIES)} policies, {len(mandatory)} mandatory violation(s), "
          f"{len(violations) - len(mandatory)} advisory")
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
