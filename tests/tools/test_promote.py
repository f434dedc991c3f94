"""`make promote`: a pushed image's digest into every stack that runs its repository, nothing else changed."""

import difflib
import shutil

import pytest

import config
from tests.helpers import FIXTURES
from tools import promote, stack_config

DIGEST = "@sha256:" + "cd" * 32
DETECTOR = "acr.example.azurecr.io/vision/detector:3.2.0" + DIGEST  # the platform fixture's repository


@pytest.fixture
def stacks(tmp_path):
    for stack in ("platform", "alerting"):
        shutil.copy(FIXTURES / f"Pulumi.{stack}.yaml", tmp_path)
    return tmp_path


def test_the_image_moves_in_every_stack_running_its_repository_and_nothing_else_changes(stacks, capsys):
    before = {p.name: p.read_text() for p in stacks.iterdir()}
    assert promote.main([DETECTOR, "--config-dir", str(stacks)]) == 0
    assert capsys.readouterr().out == f"Pulumi.platform.yaml: detector -> {DETECTOR}\n"
    changed = [line for line in difflib.unified_diff(before["Pulumi.platform.yaml"].splitlines(),
                                                     (stacks / "Pulumi.platform.yaml").read_text().splitlines(),
                                                     lineterm="", n=0) if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == ["-      image: registry.example.com/vision/detector:3.1.0@sha256:" + "3c" * 32,
                       f"+      image: {DETECTOR}"]
    assert (stacks / "Pulumi.alerting.yaml").read_text() == before["Pulumi.alerting.yaml"]
    # The production stack still loads, and its service runs the new image at the tag's version.
    stack = stack_config.load("platform", config_dir=stacks)
    service, = config.load(stack.values, stack.secret_keys, stack.stack, stack.project).services
    assert (service.image, service.version) == (DETECTOR, "3.2.0")


def test_an_image_without_a_digest_is_refused(stacks, capsys):
    assert promote.main(["acr.example.azurecr.io/vision/detector:3.2.0", "--config-dir", str(stacks)]) == 2
    assert "give the image by digest" in capsys.readouterr().err


def test_a_repository_no_stack_runs_is_an_error(stacks, capsys):
    assert promote.main(["acr.example.azurecr.io/vision/other:1" + DIGEST, "--config-dir", str(stacks)]) == 1
    assert "no stack runs vision/other" in capsys.readouterr().err


@pytest.mark.parametrize("image, expected", [
    ("registry.example.com/ai-observability/inference-service:0.1.0", "ai-observability/inference-service"),
    ("acr.azurecr.io/ai-observability/inference-service:sha-1" + DIGEST, "ai-observability/inference-service"),
    ("localhost:5000/team/app:1", "team/app"),
    ("team/app", "team/app"),
    ("otel/opentelemetry-collector-contrib:0.153.0", "otel/opentelemetry-collector-contrib"),
])
def test_the_repository_is_the_path_without_registry_tag_or_digest(image, expected):
    assert promote.repository(image) == expected
