"""What `make render` costs, beside the floor it cannot go under: importing the SDKs it uses.

Each measurement is a fresh Python process, so imports are cold for the
interpreter (but the OS file cache is warm after the first run). Prints the
median and best wall time and the peak memory of each, and the render's ratio
to the bare import; the budget is a render under twice the import.

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

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 2.0

# Renders once in-process and prints the SDK modules that were loaded.
_LIST_SDK_MODULES = """
import sys
from tools import render
render.main([sys.argv[1], "--out", sys.argv[2]])
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_azure_native",
      "pulumi_kubernetes", "pulumi_datadog"))), file=sys.stderr)
"""


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss / 1024


def sdk_modules(stack: str, out: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _LIST_SDK_MODULES, stack, out],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stderr.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", default=["staging", "prod"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print(f"{'stack':<9} {'what':<12} {'median s':>9} {'best s':>7} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as out:
        for stack in args.stacks:
            modules = sdk_modules(stack, out)
            cases = {
                "sdk import": [sys.executable, "-c", "import " + ", ".join(modules)],
                "render": [sys.executable, "-m", "tools.render", stack, "--out", out],
            }
            results = {}
            for name, argv in cases.items():
                runs = [measure(argv) for _ in range(args.runs)]
                seconds = [s for s, _ in runs]
                results[name] = statistics.median(seconds)
                print(f"{stack:<9} {name:<12} {statistics.median(seconds):>9.2f} {min(seconds):>7.2f} "
                      f"{max(m for _, m in runs):>9.0f}")
            ratio = results["render"] / results["sdk import"]
            verdict = "within" if ratio < BUDGET else "OVER"
            print(f"{stack:<9} render / import = {ratio:.2f} ({verdict} the {BUDGET:.0f}x budget; "
                  f"{len(modules)} SDK modules)")


if __name__ == "__main__":
    main()
