"""What a change does to each stack: `make diff [BASE=<git ref>] [STACK=<stack>]`.

Plans every stack (or the one named) at BASE (default: where this branch left main) and in the
working tree, each side in its own process so both run at once, and prints what changes per
stack: a summary, then each resource created, replaced, updated or deleted with one line per
changed value (tools/plan_diff.py, tools/diff_report.py), and secret config whose ciphertext
changed (never a value). It writes the same as Markdown to build/diff/<stack>.md, and all
stacks in one file that fits a pull-request comment, build/diff/comment.md.

Exit codes, as `terraform plan -detailed-exitcode`: 0 no change, 2 changes, 1 an error (a
stack that cannot be planned on either side is named with the reason). `make diff` exits 0 for
both 0 and 2; scripts that need to tell them apart run `.venv/bin/python -m tools.diff`.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools import diff_report, plan_diff, stack_config, stack_file

NO_CHANGES, ERROR, CHANGES = 0, 1, 2
COMMENT_MARKER = "<!-- make diff -->"  # lets a workflow find and update its one comment
ARTIFACT = "plan-diff"  # what the pull-request workflow uploads build/diff/ as

# Plans stacks with the tree's own code (run with the tree as working directory): one process per
# side, importing the SDKs once for all its stacks.
PLANNER = """
import gc, json, sys
from pathlib import Path
from tools import mocks, stack_config
out = Path(sys.argv[1])
for stack in sys.argv[2:]:
    try:
        plan = mocks.run_program(stack_config.load(stack)).to_json()
    except Exception as error:  # reported by the caller, with the stack and the side
        (out / f"{stack}.error").write_text(f"{type(error).__name__}: {error}")
    else:
        (out / f"{stack}.json").write_text(json.dumps(plan))
gc.freeze()  # the process ends here: spare it a last sweep of the SDKs' objects
"""


@dataclass(frozen=True)
class Side:
    label: str  # "base" or "working tree"
    root: Path
    stacks: tuple[str, ...]  # the stacks with a file on this side


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=stack_config.ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def base_commit(ref: str | None) -> tuple[str, str]:
    """(the ref as given or chosen, its commit): by default where HEAD left main."""
    if ref:
        return ref, git("rev-parse", "--verify", f"{ref}^{{commit}}")
    for main in ("main", "origin/main"):
        try:
            return f"merge-base with {main}", git("merge-base", "HEAD", main)
        except subprocess.CalledProcessError:
            continue
    raise ValueError("no main or origin/main to compare with: give BASE=<git ref>")


def export(commit: str, into: Path) -> None:
    """The commit's files (not its history) into `into`."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=stack_config.ROOT,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def plan_all(sides: list[Side], out: Path) -> dict[str, dict[str, dict | str]]:
    """Each side's plans, side label -> stack -> plan, or the reason it could not be planned."""
    running = []
    for side in sides:
        directory = out / side.label.replace(" ", "-")
        directory.mkdir(parents=True)
        process = subprocess.Popen([sys.executable, "-c", PLANNER, str(directory), *side.stacks], cwd=side.root,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        running.append((side, directory, process))
    plans: dict[str, dict[str, dict | str]] = {}
    for side, directory, process in running:
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"planning the {side.label} failed:\n{stderr.strip()}")
        plans[side.label] = {stack: (json.loads((directory / f"{stack}.json").read_text())
                                     if (directory / f"{stack}.json").exists()
                                     else (directory / f"{stack}.error").read_text())
                             for stack in side.stacks}
    return plans


def secret_changes(base: Path, head: Path) -> list[str]:
    """Secret config keys added, removed or re-encrypted with another value (their ciphertext differs)."""
    def secrets(path: Path) -> dict[str, str]:
        config = (stack_file.read(path) or {}).get("config") or {} if path.exists() else {}
        return {key: value["secure"] for key, value in config.items() if isinstance(value, dict) and "secure" in value}
    before, after = secrets(base), secrets(head)
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make diff", description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git ref to compare with (default: the merge base of HEAD and main)")
    parser.add_argument("--stack", action="append", help="a stack to compare (default: every stack)")
    parser.add_argument("--out", type=Path, default=stack_config.ROOT / "build" / "diff")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as work:
        try:
            ref, commit = base_commit(args.base)
            base_root = Path(work) / "base"
            export(commit, base_root)
        except (subprocess.CalledProcessError, ValueError) as error:
            said = error.stderr.strip() if isinstance(error, subprocess.CalledProcessError) else str(error)
            print(f"cannot find the base to compare with: {said}", file=sys.stderr)
            return ERROR
        head_root = stack_config.ROOT
        base_stacks, head_stacks = stack_config.stacks(base_root), stack_config.stacks(head_root)
        stacks = args.stack or sorted(set(base_stacks) | set(head_stacks))
        unknown = [s for s in stacks if s not in base_stacks and s not in head_stacks]
        if unknown:
            print(f"no stack file for {', '.join(unknown)} at {ref} or in the working tree", file=sys.stderr)
            return ERROR
        sides = [Side("base", base_root, tuple(s for s in stacks if s in base_stacks)),
                 Side("working tree", head_root, tuple(s for s in stacks if s in head_stacks))]
        try:
            plans = plan_all(sides, Path(work) / "plans")
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return ERROR
        failed = [f"stack {stack} at the {label}: {plan}" for label, side in plans.items()
                  for stack, plan in side.items() if isinstance(plan, str)]
        if failed:
            print("\n".join(failed), file=sys.stderr)
            return ERROR
        secrets = {s: secret_changes(base_root / f"Pulumi.{s}.yaml", head_root / f"Pulumi.{s}.yaml") for s in stacks}

    compared = f"{ref} ({commit[:8]}) → working tree"
    args.out.mkdir(parents=True, exist_ok=True)
    sections = []
    for stack in stacks:
        base_plan, head_plan = plans["base"].get(stack), plans["working tree"].get(stack)
        assert not isinstance(base_plan, str) and not isinstance(head_plan, str)
        changes = plan_diff.diff_plans(base_plan, head_plan)
        note = f"secret config changed (values not shown): {', '.join(secrets[stack])}" if secrets[stack] else ""
        sections.append((stack, changes, compared, note))
        print(diff_report.text(stack, changes, compared) + (f"\n  {note}" if note else ""))
        (args.out / f"{stack}.md").write_text(diff_report.markdown(stack, changes, compared)
                                              + (f"\n{note}\n" if note else ""))
    (args.out / "comment.md").write_text(diff_report.comment(COMMENT_MARKER, sections, ARTIFACT))
    changed = any(changes or note for _, changes, _, note in sections)
    return CHANGES if changed else NO_CHANGES


if __name__ == "__main__":
    sys.exit(main())
