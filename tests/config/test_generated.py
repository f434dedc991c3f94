"""What make docs generates from the schema: current, and agreeing with the stack files and the loader."""

import copy
import json
import re

import jsonschema
import pytest

from config import generate
from config import load as load_config
from tests.helpers import FIXTURES, NS, STACK_FILES, config, load_settings, read_yaml
from tools import stack_config, stack_file
from tools.stack_config import ROOT

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(generate.SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, document) -> list[str]:
    """Each schema error as `<path>: <message>`."""
    return sorted(f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
                  for error in validator.iter_errors(document))


def test_the_generated_files_are_current(capsys):
    # What make docs would write, against what is there: a stale file names itself and fails.
    assert generate.main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_file_is_named(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration reference\n\nwritten by hand\n")
    monkeypatch.setattr(generate, "REFERENCE_FILE", stale)
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    assert generate.main(["--check"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == "configuration.md is stale: run make docs"


@pytest.mark.parametrize("stack", STACK_FILES, ids=str)
def test_every_stack_file_validates_against_the_editor_schema(validator, stack):
    document = stack_file.read(stack.directory / f"Pulumi.{stack.name}.yaml")
    assert errors(validator, document) == []


@pytest.mark.parametrize("path", [*(ROOT / f"Pulumi.{s}.yaml" for s in ("staging", "prod")),
                                  *sorted(FIXTURES.glob("Pulumi.*.yaml"))], ids=lambda p: p.name)
def test_the_project_s_stack_files_name_the_schema_for_the_editor(path):
    found = MODELINE.search(path.read_text())
    assert found, f"{path.name} lacks the # yaml-language-server: $schema= line"
    assert (path.parent / found.group(1)).resolve() == generate.SCHEMA_FILE


def test_a_misspelled_key_a_bad_value_and_a_missing_key_fail_the_schema(validator):
    document = copy.deepcopy(stack_file.read(FIXTURES / "Pulumi.minimal.yaml"))
    settings = document["config"]
    settings[f"{NS}:azure.retentionDay"] = 30  # top level: the key itself
    settings[f"{NS}:services"][0]["slo"] = {"availabilty": 0.99}  # nested, in a list
    settings[f"{NS}:kubernetes.version"] = 1.34  # YAML's number, where the CLI needs the string "1.34"
    settings[f"{NS}:datadog.apiKey"] = "0123456789abcdef0123456789abcdef"  # a secret in plain text
    del settings[f"{NS}:azure.location"]
    found = errors(validator, document)
    assert any(e.startswith("config: ") and f"'{NS}:azure.retentionDay'" in e for e in found), found
    assert any(e.startswith(f"config/{NS}:services/0/slo: ") and "'availabilty' was unexpected" in e
               for e in found), found
    assert any(e.startswith(f"config/{NS}:kubernetes.version: ") for e in found), found
    assert any(e.startswith(f"config/{NS}:datadog.apiKey: ") for e in found), found
    assert any(f"'{NS}:azure.location' is a required property" in e for e in found), found
    assert len(found) == 5, found


def test_the_schema_accepts_secure_values_and_pulumi_s_own_keys(validator):
    document = copy.deepcopy(stack_file.read(FIXTURES / "Pulumi.alerting.yaml"))
    document["config"][f"{NS}:datadog.apiKey"] = {"secure": "v1:AAAA"}
    document["config"]["pulumi:disable-default-providers"] = ["*"]
    document["config"]["azure-native:location"] = "westeurope"  # another namespace: the program refuses it
    document["encryptionsalt"] = "v1:abc"
    found = errors(validator, document)
    assert len(found) == 1 and found[0].startswith("config: 'azure-native:location' does not match"), found


def test_each_key_s_hover_text_says_what_is_allowed():
    properties = json.loads(generate.SCHEMA_FILE.read_text())["properties"]["config"]["properties"]
    retention = properties[f"{NS}:azure.retentionDays"]
    assert (retention["minimum"], retention["maximum"], retention["default"]) == (30, 730, 30)
    assert retention["description"].endswith("Allowed: an integer from 30 to 730.")


def test_the_reference_lists_every_key_the_loader_reads_at_every_depth():
    reference = generate.REFERENCE_FILE.read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", reference, flags=re.MULTILINE))
    # Keys the fixture stacks set, at every depth, as a stack file writes them: each is in the reference.
    written: set[str] = set()

    def walk(value, path):
        if isinstance(value, dict) and path and not path.endswith(("tags", "Receivers", "ruleLabels", "env",
                                                                   "nodeSelector", "routing", "receivers",
                                                                   "affinity")):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                walk(item, f"{path}[]")
        written.add(path.removesuffix("[]"))

    for path in sorted(FIXTURES.glob("Pulumi.*.yaml")):
        for key, value in stack_file.read(path)["config"].items():
            if key.startswith(f"{NS}:"):
                walk(value, key.split(":", 1)[1])
    written = {re.sub(r"\.limits\.[a-z0-9.-]+/[a-z0-9.-]+$", ".limits", key) for key in written}  # nvidia.com/gpu
    assert written - documented == set()


def test_pulumi_yaml_defaults_are_the_schema_s_so_the_cli_and_the_program_agree():
    # The minimal fixture as the CLI passes it (with Pulumi.yaml's defaults) and without them: the same settings.
    with_defaults = load_settings("minimal")
    cfg = config("minimal")
    declared = {f"{NS}:{key}" for key in read_yaml((ROOT / "Pulumi.yaml").read_text())["config"]}
    stack_keys = {f"{NS}:{key.split(':', 1)[1]}" for key in stack_file.read(FIXTURES / "Pulumi.minimal.yaml")["config"]}
    overrides = {key: None for key in declared - stack_keys}
    assert overrides, "the minimal fixture should leave keys to Pulumi.yaml's defaults"
    without = stack_config.load("minimal", overrides=overrides, config_dir=FIXTURES)
    assert load_config(without.values, without.secret_keys, cfg.stack) == with_defaults
