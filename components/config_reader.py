"""Typed reads of Pulumi stack config that collect every problem before failing.

The Pulumi CLI hands a program its config as strings (objects and lists as
JSON). A `ConfigReader` turns them into Python values one key at a time, checks
each, and records every problem with the full key, the stack, the bad value and
what is allowed, so a bad stack file is fixed in one pass. Keys nobody read are
reported as unknown, so a typo is an error rather than a silently ignored value.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi

from components import kubernetes_shapes

REQUIRED: Any = object()
"""Default meaning "no default": the key must be set."""

Check = Callable[[Any], str | None]
"""Returns None when the value is fine, else the sentence saying what is allowed."""


class SettingsError(pulumi.RunError):
    """Every problem in a stack's config. A RunError, so the CLI prints it without a traceback."""

    def __init__(self, stack: str, problems: list[str]):
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f'stack "{stack}" has {len(problems)} configuration problem(s); '
            f"nothing was registered:\n{lines}"
        )


class SecretValue:
    """A secret from config: readable for validation, masked wherever it could be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self._value)

    def __repr__(self) -> str:
        return "SecretValue([secret])"

    __str__ = __repr__


def _shown(value: Any, cli: bool) -> str:
    """A value as the user wrote it: the CLI passes 7 and true as "7" and "true"."""
    if cli and isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = value
        if not isinstance(decoded, str):
            return json.dumps(decoded)
    return json.dumps(value)


class ConfigReader:
    """Reads one namespace of a stack's config and collects the problems found."""

    def __init__(
        self,
        namespace: str,
        stack: str,
        values: Mapping[str, str],
        secret_keys: Iterable[str] = (),
        other_namespaces: Iterable[str] = ("pulumi",),
    ):
        prefix = f"{namespace}:"
        self.namespace = namespace
        self.stack = stack
        self.problems: list[str] = []
        for key in values:
            other = key.split(":", 1)[0]
            if other != namespace and other not in other_namespaces:
                self.report_other(key, f"is not read by this program; {other}:* config would be ignored")
        self._secret_keys = {k[len(prefix):] for k in secret_keys if k.startswith(prefix)}
        self._sections: list[Section] = []
        self.item_names: dict[str, str] = {}  # a list item's path (services[1]) -> its name, for messages
        self.root = Section(self, "", {
            key[len(prefix):]: value for key, value in values.items() if key.startswith(prefix)
        }, from_cli=True)

    def full_key(self, path: str) -> str:
        """The key as a message shows it: a named list item with its name, `services[1] (embeddings).slo`."""
        for item, name in self.item_names.items():
            if path == item or path.startswith((f"{item}.", f"{item}[")):
                path = f"{item} ({name}){path[len(item):]}"
                break
        return f"{self.namespace}:{path}"

    def is_secret(self, path: str) -> bool:
        # Top-level key names contain dots themselves (azure.webhookUrls), so match whole names.
        return path in self._secret_keys

    def report(self, path: str, value: Any, allowed: str, *, cli: bool = False) -> None:
        """A bad value; `cli` when it is still the CLI's string for a top-level key."""
        shown = "[secret]" if self._covers_secret(path) else _shown(value, cli)
        self.problems.append(
            f'{self.full_key(path)} = {shown} in stack "{self.stack}": {allowed}'
        )

    def report_key(self, path: str, problem: str) -> None:
        """A problem with the key itself (missing, unknown), not with a value."""
        self.report_other(self.full_key(path), problem)

    def report_other(self, subject: str, problem: str) -> None:
        self.problems.append(f'{subject} in stack "{self.stack}": {problem}')

    def finish(self) -> None:
        """Reports keys nobody read, then raises if anything was wrong."""
        for section in self._sections:
            section.report_unread()
        if self.problems:
            raise SettingsError(self.stack, self.problems)

    def _covers_secret(self, path: str) -> bool:
        return any(path == key or path.startswith((f"{key}.", f"{key}["))
                   for key in self._secret_keys)


class Section:
    """A config object read field by field: the stack's top level, or an object inside it."""

    def __init__(self, reader: ConfigReader, path: str, data: Mapping[str, Any], *, from_cli: bool = False):
        self.reader = reader
        self.path = path
        self._data = data
        self._from_cli = from_cli  # top-level values are CLI strings still to be decoded
        self.kinds: dict[str, str] = {}  # field -> string, integer, number, boolean, array, object, objects, secret
        reader._sections.append(self)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self._data

    def fields(self) -> set[str]:
        """The names this object sets, read or not."""
        return set(self._data)

    # -- scalars ---------------------------------------------------------

    def text(self, name: str, default: Any = REQUIRED, *, choices: Iterable[str] = (),
             pattern: str = "", hint: str = "", max_length: int = 0, check: Check | None = None) -> Any:
        """`hint` says in words what `pattern` allows."""
        choices = tuple(choices)

        def parse(raw: Any) -> tuple[Any, str | None]:
            if choices and raw not in choices:
                return None, f"must be one of {', '.join(choices)}"
            if not isinstance(raw, str):
                return None, "must be a string (quote it in YAML)"
            if max_length and len(raw) > max_length:
                return None, f"must be at most {max_length} characters (is {len(raw)})"
            if pattern and not re.fullmatch(pattern, raw):
                return None, hint or f"must match {pattern}"
            return raw, None

        return self._scalar(name, "string", default, parse, check)

    def integer(self, name: str, default: Any = REQUIRED, *, minimum: int | None = None,
                maximum: int | None = None, check: Check | None = None) -> Any:
        allowed = "must be an integer" + _range_text(minimum, maximum)

        def parse(raw: Any) -> tuple[Any, str | None]:
            value = raw
            if self._from_cli and isinstance(raw, str) and re.fullmatch(r"-?\d+", raw):
                value = int(raw)
            if not isinstance(value, int) or isinstance(value, bool):
                return None, allowed
            if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
                return None, allowed
            return value, None

        return self._scalar(name, "integer", default, parse, check)

    def number(self, name: str, default: Any = REQUIRED, *, minimum: float | None = None,
               maximum: float | None = None, above: float | None = None,
               below: float | None = None, check: Check | None = None) -> Any:
        bounds = [f"at least {minimum}" if minimum is not None else "",
                  f"at most {maximum}" if maximum is not None else "",
                  f"greater than {above}" if above is not None else "",
                  f"less than {below}" if below is not None else ""]
        allowed = "must be a number" + (" " + " and ".join(b for b in bounds if b) if any(bounds) else "")

        def parse(raw: Any) -> tuple[Any, str | None]:
            value = raw
            if self._from_cli and isinstance(raw, str):
                try:
                    value = float(raw)
                except ValueError:
                    return None, allowed
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return None, allowed
            if ((minimum is not None and value < minimum) or (maximum is not None and value > maximum)
                    or (above is not None and value <= above) or (below is not None and value >= below)):
                return None, allowed
            return float(value), None

        return self._scalar(name, "number", default, parse, check)

    def boolean(self, name: str, default: Any = REQUIRED) -> Any:
        def parse(raw: Any) -> tuple[Any, str | None]:
            if self._from_cli and raw in ("true", "false"):
                return raw == "true", None
            if isinstance(raw, bool):
                return raw, None
            return None, "must be true or false"

        return self._scalar(name, "boolean", default, parse, None)

    # -- collections -----------------------------------------------------

    def text_list(self, name: str, default: Any = (), *, item: Check | None = None,
                  unique: bool = True) -> Any:
        raw = self._collection(name, "array", default, list, "must be a list of strings")
        if raw is None:
            return default
        values = []
        for index, value in enumerate(raw):
            problem = "must be a string" if not isinstance(value, str) else (item(value) if item else None)
            if problem:
                self.reader.report(f"{self.key(name)}[{index}]", value, problem)
            elif unique and value in values:
                self.reader.report(f"{self.key(name)}[{index}]", value, "is listed twice")
            else:
                values.append(value)
        return tuple(values)

    def number_list(self, name: str, default: Any = (), *, above: float | None = None) -> Any:
        """A list of numbers, each greater than `above` when given."""
        allowed = "must be a number" + (f" greater than {above}" if above is not None else "")
        raw = self._collection(name, "array", default, list, "must be a list of numbers")
        if raw is None:
            return default
        values = []
        for index, value in enumerate(raw):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or (above is not None and value <= above):
                self.reader.report(f"{self.key(name)}[{index}]", value, allowed)
            else:
                values.append(float(value))
        return tuple(values)

    def retired(self, name: str, instead: str) -> None:
        """A key this program no longer reads: setting it is an error that says what replaced it."""
        self.refused(name, f"is no longer read: {instead}")

    def refused(self, name: str, problem: str) -> None:
        """A key that may not be set here: setting it is an error that says why."""
        self.kinds[name] = "retired"
        if name in self._data:
            self.reader.report_key(self.key(name), problem)

    def mapping(self, name: str, default: Any = None, *, key: Check | None = None,
                value: Check | None = None) -> Any:
        """A string-to-string map, each key and value checked."""
        default = {} if default is None else default
        raw = self._collection(name, "object", default, dict, "must be a map of strings to strings")
        if raw is None:
            return dict(default)
        result = {}
        for entry_key, entry_value in raw.items():
            path = f"{self.key(name)}.{entry_key}"
            problem = key(entry_key) if key else None
            if problem:
                self.reader.report_key(path, problem)
                continue
            problem = "must be a string" if not isinstance(entry_value, str) else \
                (value(entry_value) if value else None)
            if problem:
                self.reader.report(path, entry_value, problem)
                continue
            result[entry_key] = entry_value
        return result

    def names(self, name: str) -> set[str]:
        """The keys an object value names, read or not: checks across keys use them so that one bad
        entry is reported once, not again as missing."""
        raw = self._data.get(name)
        if self._from_cli and isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return set()
        return set(raw) if isinstance(raw, dict) else set()

    def shaped(self, name: str, shape: Any, default: Any = None) -> Any:
        """A value in one of Kubernetes' own shapes (components/kubernetes_shapes.py), checked field by field."""
        python_type, allowed = (list, "must be a list") if isinstance(shape, list) else (dict, "must be an object")
        raw = self._collection(name, "array" if python_type is list else "object", default, python_type, allowed)
        if raw is None or raw is default:
            return default
        found = kubernetes_shapes.problems(raw, shape, self.key(name))
        for path, value, problem in found:
            if value is None:
                self.reader.report_key(path, problem)
            else:
                self.reader.report(path, value, problem)
        return default if found else raw

    def section(self, name: str) -> Section:
        """A nested object; absent means empty, so every field takes its default."""
        raw = self._collection(name, "object", {}, dict, "must be an object (a YAML map)")
        return Section(self.reader, self.key(name), raw or {})

    def sections(self, name: str, default: Any = ()) -> list[Section]:
        """A list of objects, e.g. one per inference service."""
        raw = self._collection(name, "objects", default, list, "must be a list of objects")
        result = []
        for index, item in enumerate(raw or ()):
            path = f"{self.key(name)}[{index}]"
            if isinstance(item, dict):
                if isinstance(item.get("name"), str) and item["name"]:
                    self.reader.item_names[path] = item["name"]
                result.append(Section(self.reader, path, item))
            else:
                self.reader.report(path, item, "must be an object (a YAML map)")
        return result

    def secret(self, name: str) -> SecretValue | None:
        """A value that must come from secret config (`pulumi config set --secret`)."""
        path = self.key(name)
        self.kinds[name] = "secret"
        if name not in self._data:
            return None
        if not self.reader.is_secret(path):
            self.reader.report_key(path, f"must be set as a secret: pulumi config set --secret {path} <value>")
            return None
        raw = self._data[name]
        if not isinstance(raw, str) or not raw:
            self.reader.report(path, raw, "must be a non-empty string")
            return None
        return SecretValue(raw)

    def secret_mapping(self, name: str, *, value: Check | None = None) -> dict[str, SecretValue] | None:
        """A secret JSON object of names to values, e.g. webhook names to their URLs."""
        secret = self.secret(name)
        if secret is None:
            return None
        try:
            raw = json.loads(secret.reveal())
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            self.reader.report(self.key(name), None,
                               'must be a JSON object of names to strings, e.g. {"slack": "https://…"}')
            return None
        result = {}
        for entry_key, entry_value in raw.items():
            problem = "must be a string" if not isinstance(entry_value, str) else \
                (value(entry_value) if value else None)
            if problem:
                self.reader.report(f"{self.key(name)}.{entry_key}", None, problem)
            # Kept even when bad, so checks across keys see every name once.
            result[entry_key] = SecretValue(entry_value if isinstance(entry_value, str) else "")
        return result

    # -- bookkeeping -----------------------------------------------------

    def report(self, name: str, value: Any, allowed: str) -> None:
        """A problem found by a check across fields."""
        self.reader.report(self.key(name), value, allowed)

    def report_unread(self) -> None:
        for name in self._data:
            if name in self.kinds:
                continue
            current = sorted(key for key, kind in self.kinds.items() if kind != "retired")
            hint = difflib.get_close_matches(name, current, n=1)
            suggestion = f"; did you mean {self.key(hint[0])}?" if hint else ""
            known = ", ".join(current)
            self.reader.report_key(self.key(name), f"unknown key{suggestion} (known here: {known})")

    def _scalar(self, name: str, kind: str, default: Any, parse: Callable, check: Check | None) -> Any:
        self.kinds[name] = kind
        if name not in self._data:
            if default is REQUIRED:
                how = f"; set it with: pulumi config set {self.key(name)} <value>" if self._from_cli else ""
                self.reader.report_key(self.key(name), f"is required{how}")
                return None
            return default
        raw = self._data[name]
        value, problem = parse(raw)
        if problem is None and check is not None:
            problem = check(value)
        if problem:
            self.reader.report(self.key(name), raw, problem, cli=self._from_cli)
            return None if default is REQUIRED else default
        return value

    def _collection(self, name: str, kind: str, default: Any, python_type: type, allowed: str) -> Any:
        self.kinds[name] = kind
        if name not in self._data:
            return default
        raw = self._data[name]
        if self._from_cli and isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                pass
        if not isinstance(raw, python_type):
            self.reader.report(self.key(name), raw, allowed, cli=self._from_cli)
            return None
        return raw


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" of at least {minimum}"
    if maximum is not None:
        return f" of at most {maximum}"
    return ""
