"""What the command-line tools share: a duration argument, and a stack's settings or the reason there are none."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from config import ConfigError
from model.durations import prometheus_seconds
from tools import stack_config
from tools.stack_file import StackFileError

if TYPE_CHECKING:
    from config.settings import Settings


def duration(text: str) -> str:
    """An argparse type: a duration in one unit (30s, 10m, 1h), as Prometheus and Locust take it."""
    try:
        prometheus_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return text


def stack_settings(stack: str, config_dir: Path) -> Settings | None:
    """The stack's settings; None, with every problem printed, when its file is missing or wrong (exit 2)."""
    from tools.render import settings_of  # the program's settings: a tool taking a duration alone needs none

    try:
        return settings_of(stack_config.load(stack, config_dir=config_dir))
    except (ConfigError, StackFileError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return None
