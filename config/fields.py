"""The kinds of value a stack file holds, as pydantic metadata that says what is allowed in our words.

`Annotated[int, Integer(minimum=30, maximum=730)]` validates strictly (the stack file's YAML, not a
guess: "7" is not 7, yes is not true) and fails with the sentence a problem ends with ("must be an
integer from 30 to 730"); its JSON Schema is what the editor schema and the reference show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

Check = Callable[[Any], str | None]
"""None when the value is fine, else the sentence saying what is allowed."""

VALUE, KEY = "value", "key"  # a problem with a value (shown), or with a key itself (no value to show)


def fail(allowed: str, kind: str = VALUE) -> NoReturn:
    raise PydanticCustomError(kind, allowed)


@dataclass(frozen=True, eq=False)  # hashed by identity: typing hashes Annotated metadata
class Leaf:
    """A scalar's validator and its JSON Schema, as pydantic metadata."""

    validate: Callable[[Any], Any]
    schema: dict[str, Any] = field(default_factory=dict)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(self.schema)


@dataclass(frozen=True)
class Unique:
    """Marks a list whose items may appear once each: a repeat is reported at its index (checks.py)."""


def _checked(value: Any, check: Check | None) -> Any:
    if check is not None and (problem := check(value)):
        fail(problem)
    return value


def Text(*, pattern: str = "", hint: str = "", max_length: int = 0, choices: Iterable[str] = (),  # noqa: N802
         check: Check | None = None) -> Leaf:
    """A string; `hint` says in words what `pattern` or `choices` allow."""
    options = tuple(choices)

    def validate(value: Any) -> str:
        if options and value not in options:
            fail(f"{hint}: {', '.join(options)}" if hint else f"must be one of {', '.join(options)}")
        if not isinstance(value, str):
            fail("must be a string (quote it in YAML)")
        if max_length and len(value) > max_length:
            fail(f"must be at most {max_length} characters (is {len(value)})")
        if pattern and not re.fullmatch(pattern, value):
            fail(hint or f"must match {pattern}")
        return _checked(value, check)

    schema: dict[str, Any] = {"type": "string"}
    if options:
        schema["enum"] = list(options)
    if pattern:
        schema["pattern"] = f"^(?:{pattern})$"
    if max_length:
        schema["maxLength"] = max_length
    return Leaf(validate, schema)


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" of at least {minimum}"
    return f" of at most {maximum}" if maximum is not None else ""


def Integer(*, minimum: int | None = None, maximum: int | None = None,  # noqa: N802
            check: Check | None = None) -> Leaf:
    allowed = "must be an integer" + _range(minimum, maximum)

    def validate(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or \
                (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            fail(allowed)
        return _checked(value, check)

    schema: dict[str, Any] = {"type": "integer"}
    schema.update({k: v for k, v in (("minimum", minimum), ("maximum", maximum)) if v is not None})
    return Leaf(validate, schema)


def Number(*, minimum: float | None = None, maximum: float | None = None, above: float | None = None,  # noqa: N802
           below: float | None = None, check: Check | None = None) -> Leaf:
    bounds = [f"at least {minimum}" if minimum is not None else "", f"at most {maximum}" if maximum is not None else "",
              f"greater than {above}" if above is not None else "", f"less than {below}" if below is not None else ""]
    allowed = "must be a number" + (" " + " and ".join(b for b in bounds if b) if any(bounds) else "")

    def validate(value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or \
                (minimum is not None and value < minimum) or (maximum is not None and value > maximum) or \
                (above is not None and value <= above) or (below is not None and value >= below):
            fail(allowed)
        return _checked(float(value), check)

    schema: dict[str, Any] = {"type": "number"}
    schema.update({k: v for k, v in (("minimum", minimum), ("maximum", maximum), ("exclusiveMinimum", above),
                                     ("exclusiveMaximum", below)) if v is not None})
    return Leaf(validate, schema)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        fail("must be true or false")
    return value


BOOLEAN = Leaf(_boolean, {"type": "boolean"})


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value:
        fail("must be a non-empty string")
    return value


# In the stack file a secret is ciphertext, {secure: <ciphertext>}; the program is given the plain string.
SECRET = Leaf(_secret, {"type": "object", "properties": {"secure": {"type": "string"}}, "required": ["secure"],
                        "additionalProperties": False})


def Retired(instead: str) -> Leaf:  # noqa: N802
    """A key this program no longer reads: setting it is an error that says what replaced it."""
    def validate(value: Any) -> None:
        fail(f"is no longer read: {instead}", KEY)

    return Leaf(validate, {"not": {}, "description": f"No longer read: {instead}"})
