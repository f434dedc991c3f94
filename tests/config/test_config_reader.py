"""The generic reader: typed reads, every problem collected, unknown keys, secrets kept hidden."""

import pytest
from components.config_reader import ConfigError, ConfigReader, SecretValue


def reader(values, secret_keys=()):
    return ConfigReader("proj", "dev", {f"proj:{k}" if ":" not in k else k: v for k, v in values.items()},
                        [f"proj:{k}" for k in secret_keys])


def test_cli_strings_are_decoded_by_the_type_asked_for():
    r = reader({"count": "30", "ratio": "0.5", "on": "true", "names": '["a","b"]', "obj": '{"x": {"y": 2}}'})
    assert r.root.integer("count") == 30
    assert r.root.number("ratio") == 0.5
    assert r.root.boolean("on") is True
    assert r.root.text_list("names") == ("a", "b")
    assert r.root.section("obj").section("x").integer("y") == 2
    r.finish()


def test_every_problem_is_reported_at_once_with_key_stack_value_and_what_is_allowed():
    r = reader({"count": "7", "flag": "yes", "name": "UPPER"})
    r.root.integer("count", minimum=30, maximum=730)
    r.root.boolean("flag")
    r.root.text("name", pattern="[a-z]+", hint="must be lowercase letters")
    r.root.text("required")
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert error.value.problems == [
        'proj:count = 7 in stack "dev": must be an integer from 30 to 730',
        'proj:flag = "yes" in stack "dev": must be true or false',
        'proj:name = "UPPER" in stack "dev": must be lowercase letters',
        'proj:required in stack "dev": is required; set it with: pulumi config set required <value>',
    ]
    assert 'stack "dev" has 4 configuration problem(s); nothing was registered' in str(error.value)


def test_nested_values_are_typed_json_and_keep_their_path():
    r = reader({"alerts": '{"rule": {"severity": "2", "window": 5}}'})
    rule = r.root.section("alerts").section("rule")
    assert rule.integer("severity", 3) == 3  # the default stands in while the problem is reported
    rule.text("window", "PT5M")
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert error.value.problems == [
        'proj:alerts.rule.severity = "2" in stack "dev": must be an integer',
        'proj:alerts.rule.window = 5 in stack "dev": must be a string (quote it in YAML)',
    ]


def test_unknown_keys_are_errors_with_a_suggestion():
    r = reader({"retentionDays": "30", "retentionDay": "30", "obj": '{"sevrity": 1}'})
    r.root.integer("retentionDays")
    r.root.section("obj").integer("severity", 2)
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert any(p.startswith('proj:retentionDay in stack "dev": unknown key; did you mean retentionDays?')
               for p in error.value.problems)
    assert any(p.startswith('proj:obj.sevrity in stack "dev": unknown key; did you mean obj.severity?')
               for p in error.value.problems)


def test_other_namespaces_are_reported_but_pulumi_settings_are_fine():
    r = ConfigReader("proj", "dev", {"azure-native:location": "westeurope",
                                     "pulumi:disable-default-providers": '["*"]'})
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert error.value.problems == [
        'azure-native:location in stack "dev": is not read by this program; azure-native:* config would be ignored']


def test_a_secret_must_come_from_secret_config_and_is_never_printed():
    plain = reader({"token": "hunter2-plain"})
    assert plain.root.secret("token") is None
    with pytest.raises(ConfigError) as error:
        plain.finish()
    assert "must be set as a secret: pulumi config set --secret token <value>" in str(error.value)
    assert "hunter2" not in str(error.value)

    secret = reader({"token": "hunter2-secret"}, secret_keys=["token"])
    value = secret.root.secret("token")
    secret.finish()
    assert isinstance(value, SecretValue) and value.reveal() == "hunter2-secret"
    assert "hunter2" not in repr(value) and "hunter2" not in str(value)


def test_problems_inside_a_secret_mapping_hide_the_value():
    r = reader({"hooks": '{"slack": "http://hooks.example.com/T0/B0/hunter2"}'}, secret_keys=["hooks"])
    r.root.secret_mapping("hooks", value=lambda v: None if v.startswith("https://") else "must be https")
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert error.value.problems == ['proj:hooks.slack = [secret] in stack "dev": must be https']


def test_lists_report_bad_and_repeated_items_by_index():
    r = reader({"names": '["a", 3, "a"]'})
    assert r.root.text_list("names") == ("a",)
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert error.value.problems == ['proj:names[1] = 3 in stack "dev": must be a string',
                                    'proj:names[2] = "a" in stack "dev": is listed twice']


def test_wrong_container_types_are_reported():
    r = reader({"obj": '["not", "a", "map"]', "items": '{"a": 1}'})
    r.root.section("obj")
    r.root.sections("items")
    with pytest.raises(ConfigError) as error:
        r.finish()
    assert error.value.problems == [
        'proj:obj = ["not", "a", "map"] in stack "dev": must be an object (a YAML map)',
        'proj:items = {"a": 1} in stack "dev": must be a list of objects',
    ]
