"""The kinds of value a stack file holds, as pydantic metadata that says what is allowed in our words.

`Annotated[int, Integer(minimum=30, maximum=730)]` validates strictly (the stack file's YAML, not a
guess: "7" is not 7, yes is not true) and fails with the sentence a problem ends with ("must be an
integer from 30 to 730"); its JSON Schema is what the editor schema and the reference show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, core_schema

from config import limits
from config import values as check

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
    allowed: str = ""  # in words, for the reference: "an integer from 30 to 730"

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
    said = hint.removeprefix("must be ") if hint else (check.__doc__ or "").strip().rstrip(".") if check else ""
    if options:
        said = f"{said}: one of {', '.join(options)}" if said else f"one of {', '.join(options)}"
    elif max_length and not said:
        said = f"at most {max_length} characters"
    return Leaf(validate, schema, said[:1].lower() + said[1:])


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
    return Leaf(validate, schema, (check.__doc__ or "").strip().rstrip(".") if check else
                allowed.removeprefix("must be "))


def Number(*, minimum: float | None = None, maximum: float | None = None, above: float | None = None,  # noqa: N802
           below: float | None = None, check: Check | None = None) -> Leaf:
    bounds = [f"at least {minimum}" if minimum is not None else "",
              f"greater than {above}" if above is not None else "",
              f"at most {maximum}" if maximum is not None else "", f"less than {below}" if below is not None else ""]
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
    said = (check.__doc__ or "").strip().rstrip(".") if check else allowed.removeprefix("must be ")
    return Leaf(validate, schema, said)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        fail("must be true or false")
    return value


BOOLEAN = Leaf(_boolean, {"type": "boolean"}, "true or false")


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value:
        fail("must be a non-empty string")
    return value


# In the stack file a secret is ciphertext, {secure: <ciphertext>}; the program is given the plain string.
SECRET = Leaf(_secret, {"type": "object", "properties": {"secure": {"type": "string"}}, "required": ["secure"],
                        "additionalProperties": False}, "a secret: pulumi config set --secret")


def Retired(instead: str) -> Leaf:  # noqa: N802
    """A key this program no longer reads: setting it is an error that says what replaced it."""
    def validate(value: Any) -> None:
        fail(f"is no longer read: {instead}", KEY)

    return Leaf(validate, {"not": {}}, f"nothing: no longer read; {instead}")


class Spec(BaseModel):
    """An object of the stack file: its keys in camelCase, each known, the whole frozen."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)


class Open(Spec):
    """An object whose other keys checks.py reads (extended resources under a service's limits)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="allow", frozen=True)


# Kinds used in several places.
Str = Annotated[str, Text()]
Strings = Annotated[list[Str], Unique()]
Flag = Annotated[bool, BOOLEAN]
Secret = Annotated[str, SECRET]
Location = Annotated[str, Text(choices=limits.WEBTEST_LOCATIONS, hint="must be an availability test location id")]
DnsLabel = Annotated[str, Text(pattern=limits.DNS_LABEL, max_length=63, hint=limits.DNS_LABEL_HINT)]
LabelValue = Annotated[str, Text(pattern=limits.LABEL_VALUE, max_length=63, hint=limits.LABEL_VALUE_HINT)]
Labels = dict[Annotated[str, Text(check=check.label_key)], Annotated[str, Text(check=check.label_value)]]
Image = Annotated[str, Text(pattern=limits.IMAGE, hint=limits.IMAGE_HINT)]
Cpu = Annotated[str, Text(check=check.cpu)]
Memory = Annotated[str, Text(check=check.memory)]
Positive = Annotated[float, Number(above=0)]
Ratio = Annotated[float, Number(above=0, below=1)]
Share = Annotated[float, Number(above=0, maximum=1)]
MetricName = Annotated[str, Text(pattern=limits.PROMETHEUS_METRIC, hint="must be a Prometheus metric name")]
CounterName = Annotated[str, Text(pattern=limits.PROMETHEUS_METRIC, hint="must be a Prometheus metric name",
                                  check=check.counter_name)]
LabelName = Annotated[str, Text(pattern=limits.PROMETHEUS_LABEL, hint="must be a Prometheus label name")]
Weight = Annotated[int, Integer(minimum=1, maximum=100)]
