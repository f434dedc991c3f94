"""Helpers shared by the tests: configs from the real stack files, runs under mocks."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Optional

from components import settings as stack_settings
from components.config_reader import SettingsError
from components.settings import Settings
from tools import mocks, stack_config

STACKS = ("staging", "prod")
NS = "ai-observability"


def config(stack: str = "staging", overrides: Optional[Mapping[str, Any]] = None,
           secrets: Optional[Mapping[str, Any]] = None) -> stack_config.StackConfig:
    return stack_config.load(stack, overrides=overrides, secrets=secrets)


def load_settings(stack: str = "staging", overrides: Optional[Mapping[str, Any]] = None,
                  secrets: Optional[Mapping[str, Any]] = None) -> Settings:
    cfg = config(stack, overrides, secrets)
    return stack_settings.load(cfg.values, cfg.secret_keys, cfg.stack, cfg.project)


def problems(stack: str = "staging", overrides: Optional[Mapping[str, Any]] = None,
             secrets: Optional[Mapping[str, Any]] = None) -> list[str]:
    """The problems settings report for a config; fails the test if there are none."""
    try:
        load_settings(stack, overrides, secrets)
    except SettingsError as error:
        return error.problems
    raise AssertionError(f"expected configuration problems for {overrides or secrets}")


def problem_for(key: str, found: list[str]) -> str:
    """The one problem naming `key` (short key, without namespace)."""
    matching = [p for p in found if p.startswith(f"{NS}:{key} ")]
    assert len(matching) == 1, f"expected one problem for {key}, got {found}"
    return matching[0]


def run_component(build: Callable[[Settings], Any], stack: str = "staging",
                  overrides: Optional[Mapping[str, Any]] = None,
                  secrets: Optional[Mapping[str, Any]] = None) -> mocks.Plan:
    """Runs just `build(settings)` under mocks, with settings from the stack file."""
    cfg = config(stack, overrides, secrets)
    return mocks.run(lambda: build(stack_settings.load(cfg.values, cfg.secret_keys, cfg.stack, cfg.project)), cfg)


@functools.lru_cache(maxsize=None)
def stack_plan(stack: str) -> mocks.Plan:
    """The whole program for a real stack file, as `make render` runs it (cached: it is pure)."""
    return mocks.run_program(config(stack))


def program_plan(stack: str = "staging", overrides: Optional[Mapping[str, Any]] = None,
                 secrets: Optional[Mapping[str, Any]] = None) -> mocks.Plan:
    return mocks.run_program(config(stack, overrides, secrets))
