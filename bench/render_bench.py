"""What renders and plan diffs cost, each against the figure it is budgeted by: `make bench`.

Each measurement is a fresh Python process (the OS file cache warm after the first run); the
median and best wall time and the peak memory of each are printed, then three ratios:

- per stack, its render against a bare import of the SDK modules it uses (budget 2x);
- a stack of 100 services against the same stack with one (budget 3x): the fixture stack
  `alerting` (every backend on) with its first service repeated;
- `make diff` of both stacks (two sides planned at once) against one stack's render (budget 2.5x).

    .venv/bin/python bench/render_bench.py [--runs N] [STACK ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "stacks"
SCALE_FIXTURE, SCALE = "alerting", 100
BUDGETS = {"import": 2.0, "scale": 3.0, "diff": 2.5}

# Renders once in-process and prints the SDK modules that were loaded.
_LIST_SDK_MODULES = """
import sys
from tools import render
render.main([sys.argv[1], "--out", sys.argv[2]])
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_azure_native",
      "pulumi_kubernetes", "pulumi_datadog"))), file=sys.stderr)
"""


def measure(argv: list[str], runs: int) -> tuple[float, float, float]:
    """Median and best wall seconds, and peak RSS (MiB), of `runs` processes."""
    seconds, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds.append(time.perf_counter() - start)
        # make diff exits 2 when the working tree differs from its base: a result, not a failure.
        if os.waitstatus_to_exitcode(status) not in (0, 2):
            raise SystemExit(f"failed: {' '.join(argv)}")
        peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(seconds), min(seconds), max(peaks)


def sdk_modules(stack: str, out: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _LIST_SDK_MODULES, stack, out],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stderr.split()


def scaled_stacks(directory: Path) -> tuple[str, str]:
    """The scale fixture with its first service once and SCALE times: the two stacks' names."""
    yaml = YAML()
    names = []
    for count in (1, SCALE):
        document = yaml.load((FIXTURES / f"Pulumi.{SCALE_FIXTURE}.yaml").read_text())
        services = document["config"]["ai-observability:services"]
        first = services[0]
        services[:] = [{**first, "name": f"{first['name']}-{index:03d}"} for index in range(count)]
        names.append(f"{SCALE_FIXTURE}-x{count}")
        with (directory / f"Pulumi.{names[-1]}.yaml").open("w") as file:
            yaml.dump(document, file)
    return names[0], names[1]


def report(label: str, what: str, figures: tuple[float, float, float]) -> float:
    median, best, peak = figures
    print(f"{label:<14} {what:<22} {median:>9.2f} {best:>7.2f} {peak:>9.0f}")
    return median


def verdict(name: str, ratio: float, detail: str) -> None:
    budget = BUDGETS[name]
    print(f"  {detail} = {ratio:.2f}x ({'within' if ratio <= budget else 'OVER'} the {budget:g}x budget)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", default=["staging", "prod"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(f"{'case':<14} {'what':<22} {'median s':>9} {'best s':>7} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as out:
        renders = {}
        for stack in args.stacks:
            modules = sdk_modules(stack, out)
            # Frozen before exit as the render freezes them: the floor is the import, not a last sweep.
            importing = f"import gc; gc.disable(); import {', '.join(modules)}; gc.freeze()"
            imported = report(stack, "sdk import", measure([sys.executable, "-c", importing], args.runs))
            renders[stack] = report(stack, "render", measure([sys.executable, "-m", "tools.render", stack, "--out",
                                                              out], args.runs))
            verdict("import", renders[stack] / imported, f"render / import ({len(modules)} SDK modules)")

        one, many = scaled_stacks(Path(out))
        single = report("scale", "render, 1 service", measure(
            [sys.executable, "-m", "tools.render", one, "--config-dir", out, "--out", out], args.runs))
        scaled = report("scale", f"render, {SCALE} services", measure(
            [sys.executable, "-m", "tools.render", many, "--config-dir", out, "--out", out], args.runs))
        verdict("scale", scaled / single, f"{SCALE} services / 1 service")

        diff = report("diff", f"make diff, {len(args.stacks)} stacks", measure(
            [sys.executable, "-m", "tools.diff", "--base", "HEAD", "--out", out,
             *(f"--stack={stack}" for stack in args.stacks)], args.runs))
        verdict("diff", diff / renders[args.stacks[0]], f"diff / render of {args.stacks[0]}")


if __name__ == "__main__":
    main()
