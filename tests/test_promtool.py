"""The rendered Prometheus rules under promtool: `check rules` and the repo's rule unit tests."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import STACKS, stack_plan
from tools import render

PROMTOOL = shutil.which("promtool")
UNIT_TESTS = Path(__file__).parent / "promtool"
IN_CI = os.environ.get("CI") == "true"

pytestmark = pytest.mark.skipif(
    PROMTOOL is None and not IN_CI,
    reason="PROMTOOL NOT INSTALLED: the Prometheus rule unit tests did not run "
           "(install Debian's prometheus package; CI does, and fails without it)")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    if PROMTOOL is None:
        pytest.fail("CI=true and promtool is missing: .ci/run must install Debian's prometheus package")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_rules_pass_promtool_check(stack, tmp_path):
    rules = render.write_rules(stack_plan(stack), tmp_path)
    result = promtool("check", "rules", rules.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 15 rules found" in result.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_rules_pass_the_repo_unit_tests(stack, tmp_path):
    render.write_rules(stack_plan(stack), tmp_path)
    shutil.copy(UNIT_TESTS / f"{stack}.test.yaml", tmp_path)
    result = promtool("test", "rules", f"{stack}.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
