"""What renders, plan diffs and the test suites cost, each against the figure it is budgeted by: `make bench`.

Each measurement is a fresh process (the OS file cache warm after the first run); the median and best wall
time and the peak memory of each are printed, then each ratio or time against its budget:

- per stack, its render against a bare import of the SDK modules it uses (budget 2x);
- at scale, the stack `staging` with its first service repeated 100 times, rendered, against its floor: the
  one-service render (imports, settings, the output of one service) plus registering exactly the same
  resources as the 100-service plan as generic resources under the same mocks (bench/replay_floor.py)
  (budget 1.5x);
- `make diff` of the stacks (two sides planned at once) against one stack's render (budget 2.5x);
- `make test-fast` (budget 10 s) and `make test` (budget 35 s), warm.

    .venv/bin/python bench/render_bench.py [--runs N] [--no-tests] [STACK ...]
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
SCALE_STACK, SCALE = "staging", 100
BUDGETS = {"import": 2.0, "scale": 1.5, "diff": 2.5, "test-fast": 10.0, "test": 35.0}

# Renders once in-process and prints the SDK modules that were loaded.
_LIST_SDK_MODULES = """
import sys
from tools import render
render.main([sys.argv[1], "--out", sys.argv[2]])
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_azure_native",
      "pulumi_kubernetes", "pulumi_datadog"))), file=sys.stderr)
"""

Figures = tuple[float, float, float]  # median and best wall seconds, peak RSS (MiB)


def measure(argv: list[str], runs: int) -> Figures:
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


def replay_seconds(plan: Path, stack: str, config_dir: Path, runs: int) -> Figures:
    """The floor's registration part, as bench/replay_floor.py times it in its own process."""
    seconds = [float(subprocess.run([sys.executable, str(ROOT / "bench" / "replay_floor.py"), str(plan), stack,
                                     str(config_dir)], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
               for _ in range(runs)]
    return statistics.median(seconds), min(seconds), 0.0


def sdk_modules(stack: str, out: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _LIST_SDK_MODULES, stack, out],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stderr.split()


def scaled_stacks(directory: Path) -> tuple[str, str]:
    """The scale stack with its first service once and SCALE times: the two stacks' names."""
    yaml = YAML()
    names = []
    for count in (1, SCALE):
        document = yaml.load((ROOT / f"Pulumi.{SCALE_STACK}.yaml").read_text())
        services = document["config"]["ai-observability:services"]
        first = services[0]
        services[:] = [{**first, "name": f"{first['name']}-{index:03d}"} for index in range(count)]
        names.append(f"{SCALE_STACK}-x{count}")
        with (directory / f"Pulumi.{names[-1]}.yaml").open("w") as file:
            yaml.dump(document, file)
    return names[0], names[1]


def report(label: str, what: str, figures: Figures) -> float:
    median, best, peak = figures
    print(f"{label:<14} {what:<30} {median:>9.2f} {best:>7.2f} {peak:>9.0f}")
    return median


def verdict(name: str, figure: float, detail: str, unit: str = "x") -> None:
    budget = BUDGETS[name]
    print(f"  {detail} = {figure:.2f}{unit} ({'within' if figure <= budget else 'OVER'} the {budget:g}{unit} budget)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", default=["staging", "prod"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-tests", action="store_true", help="skip timing make test-fast and make test")
    args = parser.parse_args()

    print(f"{'case':<14} {'what':<30} {'median s':>9} {'best s':>7} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as temporary:
        out = Path(temporary)
        renders = {}
        for stack in args.stacks:
            modules = sdk_modules(stack, temporary)
            # Frozen before exit as the render freezes them: the floor is the import, not a last sweep.
            importing = f"import gc; gc.disable(); import {', '.join(modules)}; gc.freeze()"
            imported = report(stack, "sdk import", measure([sys.executable, "-c", importing], args.runs))
            renders[stack] = report(stack, "render", measure([sys.executable, "-m", "tools.render", stack, "--out",
                                                              temporary], args.runs))
            verdict("import", renders[stack] / imported, f"render / import ({len(modules)} SDK modules)")

        one, many = scaled_stacks(out)
        single = report("scale", "render, 1 service", measure(
            [sys.executable, "-m", "tools.render", one, "--config-dir", temporary, "--out", temporary], args.runs))
        scaled = report("scale", f"render, {SCALE} services", measure(
            [sys.executable, "-m", "tools.render", many, "--config-dir", temporary, "--out", temporary], args.runs))
        replayed = report("scale", f"replay of the {SCALE}-service plan",
                          replay_seconds(out / many / "plan.json", many, out, args.runs))
        verdict("scale", scaled / (single + replayed), f"{SCALE} services / (1 service + replay)")

        diff = report("diff", f"make diff, {len(args.stacks)} stacks", measure(
            [sys.executable, "-m", "tools.diff", "--base", "HEAD", "--out", temporary,
             *(f"--stack={stack}" for stack in args.stacks)], args.runs))
        verdict("diff", diff / renders[args.stacks[0]], f"diff / render of {args.stacks[0]}")

    if not args.no_tests:
        for target in ("test-fast", "test"):
            measure(["make", "--no-print-directory", target], 1)  # warm: bytecode, the OS cache, pytest's cache
            seconds = report(target, "make " + target, measure(["make", "--no-print-directory", target], 1))
            verdict(target, seconds, f"make {target}", " s")


if __name__ == "__main__":
    main()
