"""Pulumi.yaml's schema, settings.py and the docs describe the same keys and the same policy."""

import re

import pytest
from components.config_reader import ConfigReader

import config as stack_settings
from tests.helpers import NS, config
from tools import stack_config
from tools.stack_config import ROOT

# How Pulumi's project config schema spells the kinds the reader records.
SCHEMA_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean", "array": "array"}


@pytest.fixture(scope="module")
def keys_read():
    """Every top-level key settings.py reads, with its kind."""
    cfg = config("platform")
    reader = ConfigReader(NS, cfg.stack, cfg.values, cfg.secret_keys)
    stack_settings.read(reader)
    reader.finish()
    return reader.root.kinds


def test_every_key_in_the_project_schema_is_read_with_the_same_type(keys_read):
    schema = stack_config.project_file()["config"]
    for key, spec in schema.items():
        assert key in keys_read, f"Pulumi.yaml declares {key}, which settings never reads"
        assert SCHEMA_TYPES.get(keys_read[key]) == spec["type"], key
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}


def test_every_scalar_key_is_in_the_project_schema_so_the_cli_checks_it(keys_read):
    schema = stack_config.project_file()["config"]
    scalar = {key for key, kind in keys_read.items() if kind in SCHEMA_TYPES}
    assert scalar - set(schema) == set()


def test_the_configuration_reference_documents_every_key(keys_read):
    reference = (ROOT / "docs" / "configuration.md").read_text()
    table = reference.split("| key | type |", 1)[1].split("\n\n", 1)[0]  # the reference table
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))
    assert set(keys_read) - documented == set(), "keys missing from docs/configuration.md"
    assert documented - set(keys_read) == set(), "docs/configuration.md documents keys settings does not read"


def test_the_alerting_pages_burn_rate_table_is_the_policy():
    from model import burn_rate

    readme = (ROOT / "docs" / "alerting.md").read_text()
    table = readme.split("| period | route | windows |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| (\d+)d \| (\w+) \| (\d+)h / (\d+)m \| ([\d.]+)× \| (\d+)% "
                      r"\| ([\d.]+) min \| ([\d.]+) min \|$",
                      table, flags=re.MULTILINE)
    documented = [(int(d), route, int(h) * 60, int(m), float(burn), int(share), float(at99), float(at999))
                  for d, route, h, m, burn, share, at99, at999 in rows]
    expected = [(days, w.route, w.long_minutes, w.short_minutes, w.burn_rate,
                 round(100 * w.burn_rate * w.long_minutes / (days * 1440)),  # the budget spent over the long window
                 round(w.long_minutes * w.burn_rate * 0.01, 2), round(w.long_minutes * w.burn_rate * 0.001, 2))
                for days, windows in burn_rate.POLICY.items() for w in windows]
    assert documented == expected
    for days in burn_rate.POLICY:
        assert f"{round(100 * burn_rate.loosest_target(days), 2)}% for {days}" in readme.replace("\n", " ")
