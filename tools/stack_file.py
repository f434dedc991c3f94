"""Pulumi's YAML files read as the Pulumi CLI reads them, or refused where it would read them otherwise.

The CLI reads YAML 1.2, where `yes` is the string "yes", not true. Many readers (and habits)
are YAML 1.1. So a plain scalar whose meaning depends on the reader is refused with the fix:
yes/no/on/off (strings to the CLI), dates (quote them), and numbers not written as the CLI
passes them on (`1.30` reaches the program as 1.3: a version must be quoted). A file that is
not YAML at all is refused with its line, column and the key it was in.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from model.numbers import plain

YAML_11_BOOLEANS = re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF")
_TAG = "tag:yaml.org,2002:"


class StackFileError(Exception):
    """Every problem found in one file, each naming the file, the line and the key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def read(path: Path) -> Any:
    """The file's data, or StackFileError with every problem. Parsed once per version of the file."""
    return _read(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _read(path: Path, _version: int) -> Any:
    text = path.read_text()
    reader = YAML(typ="safe", pure=True)
    reader.version = (1, 2)
    try:
        node = reader.compose(text)
    except MarkedYAMLError as error:
        raise StackFileError([_syntax_problem(path, text, error)]) from None
    problems: list[str] = []
    value = _value(node, path, "", problems) if node is not None else None
    if problems:
        raise StackFileError(problems)
    return value


def _syntax_problem(path: Path, text: str, error: MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    line = mark.line if mark else 0
    # The top-level key (under config:) the broken line belongs to.
    keys = [m.group(1) for m in (re.match(r"  ([^\s#].*?):(\s|$)", row) for row in text.splitlines()[:line + 1]) if m]
    where = f", in {keys[-1]}" if keys else ""
    what = " ".join(part for part in (error.problem, error.context) if part)
    return (f"{path.name} line {line + 1}, column {(mark.column if mark else 0) + 1}{where}: not valid YAML: {what} "
            "(check the indentation: two spaces per level, list items under their key)")


def _shown(key: str) -> str:
    """A key as the settings name it: the stack file's config: level is implied."""
    return key.removeprefix("config.")


def _value(node: Node, path: Path, key: str, problems: list[str]) -> Any:
    if isinstance(node, MappingNode):
        result = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            child = f"{key}.{name}" if key else name
            if name in result:
                problems.append(f"{path.name} line {key_node.start_mark.line + 1}: {_shown(child)} is set twice")
            result[name] = _value(value_node, path, child, problems)
        return result
    if isinstance(node, SequenceNode):
        return [_value(item, path, f"{key}[{index}]", problems) for index, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return _scalar(node, path, key, problems)


def _scalar(node: ScalarNode, path: Path, key: str, problems: list[str]) -> Any:
    text, tag, plain_style = node.value, (node.tag or "").removeprefix(_TAG), node.style is None
    where = f"{path.name} line {node.start_mark.line + 1}: {_shown(key)}"

    def refuse(problem: str) -> None:
        problems.append(f"{where}: {problem}")

    if tag == "str":
        if plain_style and YAML_11_BOOLEANS.fullmatch(text):
            refuse(f"{text} is the string \"{text}\" to Pulumi, which reads YAML 1.2; write true or false, "
                   f"or quote it if you mean the word")
        return text
    if tag == "bool":
        return text.lower() == "true"
    if tag == "null":
        return None
    if tag == "timestamp":
        refuse(f"{text} is a date to YAML but not to the program; quote it: \"{text}\"")
        return text
    if tag in ("int", "float"):
        number: float = int(text, 0) if tag == "int" and text.lower().startswith(("0x", "0o")) else \
            int(text) if tag == "int" else float(text)
        passed_on = str(number) if isinstance(number, int) else plain(number)
        if text != passed_on:
            refuse(f"{text} is read as the number {passed_on}, which is what the program gets; write {passed_on}, "
                   f"or quote it (\"{text}\") if it is text such as a version")
        return number
    refuse(f"{text} is read as a YAML {tag}, which no setting takes; quote it")
    return text
