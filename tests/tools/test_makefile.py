"""The Makefile's front door: `make` alone lists every command, one line each, with the variables it takes."""

import re
import subprocess

from tools.stack_config import ROOT


def test_make_alone_lists_every_command_it_has():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY: (.+)$", makefile, flags=re.MULTILINE)
    assert phony is not None
    listed = subprocess.run(["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    help_lines = listed.stdout.splitlines()
    assert help_lines == subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True,
                                        text=True, timeout=60).stdout.splitlines()
    # "  preview up refresh destroy [STACK=staging]   the Pulumi CLI on ...": the names before any variable.
    names = [re.match(r"\s+([a-z0-9 -]+?)(?:\s\[|\s[A-Z]|\s{2})", line) for line in help_lines
             if line.startswith("  ")]
    commands = {word for name in names if name for word in name.group(1).split()}
    assert set(phony.group(1).split()) <= commands, "make help does not list every command"
    # Each line says what the command does, and which variables it takes where it takes some.
    render = next(line for line in help_lines if line.startswith("  render"))
    assert "STACK=" in render and "offline" in render
    assert not any("up to date" in line for line in help_lines)
