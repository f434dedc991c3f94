"""What changes between two plans of a stack, the way a reviewer reads it (`make diff`).

Resources are matched by URN: one only in the head plan is created, one only in the base plan
deleted. A resource in both is updated when its inputs or protection differ, and replaced when
a property its provider cannot change in place differs (replacement.py). Changed properties
are listed by path; lists of named things (containers, env, ports, rules) are matched by name,
so adding one does not shift the others. A change that only follows a replaced resource's new
id is marked as such: it is what the replacement does, not a change of its own.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tools.replacement import AZURE_PATH_NAMES, replacing_paths

ABSENT = object()  # a property one side does not have
IDENTITY_KEYS = ("name", "alert", "record", "key")  # what names an item of a list, in that order
LONG = 80  # strings longer than this, or with a line break, are shown as a line diff
ACTIONS = ("create", "replace", "update", "delete")  # the order a reviewer reads them in


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any  # ABSENT when the property is new
    new: Any  # ABSENT when it is gone
    follows: str = ""  # the replaced resource whose new id this is, if that is all it is


@dataclass(frozen=True)
class ResourceChange:
    action: str  # one of ACTIONS
    type: str
    name: str  # the Pulumi name, from the URN
    title: str  # what the resource is called where it lives: Kubernetes, Azure or Datadog
    properties: tuple[PropertyChange, ...] = ()
    replaced_by: tuple[str, ...] = ()  # the changed paths that force a replacement

    @property
    def follows_only(self) -> bool:
        """An update whose every change is a replaced resource's new id."""
        return self.action == "update" and all(p.follows for p in self.properties)


def title(resource: dict) -> str:
    inputs = resource.get("inputs", {})
    metadata = inputs.get("metadata")
    if isinstance(metadata, dict) and "name" in metadata:
        return str(metadata["name"])
    name_input = AZURE_PATH_NAMES.get(resource["type"], "name")  # Datadog's, and what else names itself
    return str(inputs.get(name_input, resource["name"]))


def diff_plans(base: dict | None, head: dict | None) -> list[ResourceChange]:
    """Every resource that changes from `base` to `head` (either may be None: no such stack)."""
    before = {r["urn"]: r for r in (base or {}).get("resources", [])}
    after = {r["urn"]: r for r in (head or {}).get("resources", [])}
    changes = [_whole("create", r) for urn, r in after.items() if urn not in before]
    changes += [_whole("delete", r) for urn, r in before.items() if urn not in after]
    updated = [(before[urn], after[urn]) for urn in before.keys() & after.keys()]
    replaced_ids: dict[tuple[str, str], str] = {}  # (old id, new id) -> the replaced resource's title
    found = []
    for old, new in updated:
        properties = list(_changes(old.get("inputs", {}), new.get("inputs", {}), ""))
        if old.get("protect", False) != new.get("protect", False):
            properties.append(PropertyChange("(protect)", old.get("protect", False), new.get("protect", False)))
        if not properties:
            continue
        forcing = tuple(p.path for p in properties if p.path in replacing_paths(new["type"], properties))
        if forcing:
            replaced_ids[(old["id"], new["id"])] = title(new)
        found.append((old, new, properties, forcing))
    for _, new, properties, forcing in found:
        marked = tuple(PropertyChange(p.path, p.old, p.new, _follows(replaced_ids, p)) for p in properties)
        changes.append(ResourceChange("replace" if forcing else "update", new["type"], new["name"], title(new),
                                      marked, forcing))
    return sorted(changes, key=lambda c: (ACTIONS.index(c.action), c.type, c.title, c.name))


def _follows(replaced_ids: dict[tuple[str, str], str], change: PropertyChange) -> str:
    """The replaced resource whose old and new id this change is, or ""."""
    if isinstance(change.old, str) and isinstance(change.new, str):
        return replaced_ids.get((change.old, change.new), "")
    return ""


def _whole(action: str, resource: dict) -> ResourceChange:
    return ResourceChange(action, resource["type"], resource["name"], title(resource))


def _changes(old: Any, new: Any, path: str) -> Iterator[PropertyChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from _changes(old.get(key, ABSENT), new.get(key, ABSENT), f"{path}.{key}" if path else key)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _list_changes(old, new, path)
    elif old != new:
        yield PropertyChange(path, old, new)


def _list_changes(old: list, new: list, path: str) -> Iterator[PropertyChange]:
    key = _identity(old, new)
    if key:
        before = {item[key]: item for item in old}
        after = {item[key]: item for item in new}
        for name in [*(n for n in before if n not in after), *after]:
            yield from _changes(before.get(name, ABSENT), after.get(name, ABSENT), f"{path}[{name}]")
    elif len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _changes(a, b, f"{path}[{index}]")
    elif old != new:
        yield PropertyChange(path, old, new)


def _identity(old: list, new: list) -> str | None:
    """The key that names every item of both lists, once each; None when items are not named."""
    items = old + new
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        if all(isinstance(item.get(key), str) for item in items) and \
                len({i[key] for i in old}) == len(old) and len({i[key] for i in new}) == len(new):
            return key
    return None


# -- text -----------------------------------------------------------------------------------

MARKS = {"create": "+", "delete": "-", "update": "~", "replace": "±"}


def summary(changes: list[ResourceChange]) -> str:
    if not changes:
        return "no changes"
    counts = {action: sum(c.action == action for c in changes) for action in ACTIONS}
    words = {"create": "to create", "replace": "to REPLACE", "update": "to update", "delete": "to delete"}
    return ", ".join(f"{counts[a]} {words[a]}" for a in ACTIONS if counts[a])


def shown(value: Any) -> str:
    if value is ABSENT:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _is_long(value: Any) -> bool:
    return isinstance(value, str) and (len(value) > LONG or "\n" in value)


def property_lines(change: PropertyChange) -> list[str]:
    """`path: old → new`, or for long text, the path and a line diff of it."""
    if change.follows:
        return [f"{change.path}: → the new id of replaced {change.follows}"]
    if _is_long(change.old) or _is_long(change.new):
        old = change.old.splitlines() if isinstance(change.old, str) else [shown(change.old)]
        new = change.new.splitlines() if isinstance(change.new, str) else [shown(change.new)]
        body = [line.rstrip("\n") for line in difflib.unified_diff(old, new, lineterm="", n=1)][2:]
        return [f"{change.path}:", *(f"  {line}" for line in body)]
    return [f"{change.path}: {shown(change.old)} → {shown(change.new)}"]


def text(stack: str, changes: list[ResourceChange], header: str) -> str:
    lines = [f"stack {stack} ({header}): {summary(changes)}"]
    for change in changes:
        head = f"  {MARKS[change.action]} {change.type} {change.title}"
        if change.title != change.name:
            head += f"  [{change.name}]"
        if change.action == "replace":
            head += f"  REPLACED: {', '.join(change.replaced_by)} cannot change in place"
        elif change.follows_only:
            head += "  (follows a replacement)"
        lines.append(head)
        for prop in change.properties:
            lines += [f"      {line}" for line in property_lines(prop)]
    return "\n".join(lines)


def markdown(stack: str, changes: list[ResourceChange], header: str) -> str:
    lines = [f"### `{stack}`: {summary(changes)}", "", f"_{header}_", ""]
    for action in ACTIONS:
        group = [c for c in changes if c.action == action]
        if not group:
            continue
        heading = {"create": "Created", "replace": "**Replaced** (deleted and created again)", "update": "Updated",
                   "delete": "Deleted"}[action]
        lines += [f"**{heading}**", ""]
        for change in group:
            why = f": {', '.join(f'`{p}`' for p in change.replaced_by)} cannot change in place" \
                if change.replaced_by else " (follows a replacement)" if change.follows_only else ""
            lines.append(f"- `{change.type}` **{change.title}**{why}")
            if change.properties:
                lines += ["", "  ```diff", *(f"  {line}" for p in change.properties for line in _diff_lines(p)),
                          "  ```"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _diff_lines(change: PropertyChange) -> list[str]:
    """A property change as diff lines, which GitHub colours: `-` the old value, `+` the new."""
    if change.follows:
        return [f"  {property_lines(change)[0]}"]
    if _is_long(change.old) or _is_long(change.new):
        return [f"@@ {change.path} @@", *property_lines(change)[1:]]
    return [f"- {change.path}: {shown(change.old)}", f"+ {change.path}: {shown(change.new)}"]
