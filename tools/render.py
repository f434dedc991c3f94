"""The offline render: `make render STACK=<stack>`.

Runs __main__.py under Pulumi mocks with the stack file's config and writes what
`pulumi up` would be asked to create to build/<stack>/plan.json: every resource
with its inputs as the engine receives them, secrets masked. Exit codes:
0 rendered, 2 the stack's config is invalid (nothing written), 1 the render
itself found a problem (e.g. a secret that would have leaked).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

from components.config_reader import SettingsError
from tools import mocks, stack_config

BAD_CONFIG = 2
BAD_RENDER = 1


def write_plan(plan: mocks.Plan, out: Path) -> list[Path]:
    path = out / "plan.json"
    path.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n")
    return [path]


def leaked_secrets(files: list[Path], secrets: set[str]) -> list[str]:
    """Files that contain a revealed secret value; empty when masking held."""
    # Short values (true, 1) are not distinctive enough to search for.
    distinctive = [s for s in secrets if len(s) >= 8]
    return [str(f) for f in files if any(s in f.read_text() for s in distinctive)]


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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make render", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT,
                        help="directory holding Pulumi.<stack>.yaml (default: the project)")
    parser.add_argument("--out", type=Path, default=stack_config.ROOT / "build",
                        help="output directory; the render writes <out>/<stack>/ (default: build)")
    args = parser.parse_args(argv)

    try:
        config = stack_config.load(args.stack, config_dir=args.config_dir)
        plan = mocks.run_program(config)
    except (SettingsError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return BAD_CONFIG

    out = args.out / args.stack
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    written = write_plan(plan, out)

    leaks = leaked_secrets(written, plan.secret_values())
    if leaks:
        print(f"a secret value was written unmasked to: {', '.join(leaks)}", file=sys.stderr)
        shutil.rmtree(out)
        return BAD_RENDER

    print(summary(plan))
    if config.placeholders:
        print("secrets not available offline, rendered with placeholders: " + ", ".join(config.placeholders))
    print("wrote " + ", ".join(os.path.relpath(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
