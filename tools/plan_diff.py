"""What changes between two plans of a stack, as a reviewer reads it (`make diff`): changed leaves.

Resources are matched by URN: one only in the head plan is created, one only in the base plan
deleted. A resource in both is updated when its inputs or protection differ, and replaced when
a property its provider cannot change in place differs (replacement.py), which says too when
such a replacement is routine.

Inside a resource, every change is a leaf, `path: old → new`:

- list items are matched by what names them, never by position: a rule by its `alert`, or its
  `record` and the labels that tell such recordings apart (`slo`); containers, ports, env vars,
  volumes, groups by `name`; dashboard panels by `title` (a renamed one by its content);
- a string that carries a JSON or YAML document (a dashboard, the collector's config) is parsed
  and compared as a document, so only the values that changed inside it appear.

A change that only follows a replaced resource's new id is marked as such: it is what the
replacement does, not a change of its own.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import yaml

from tools.replacement import AZURE_PATH_NAMES, replacing_paths, routine_replacement

ABSENT = object()  # a property one side does not have
ACTIONS = ("create", "replace", "update", "delete")  # the order a reviewer reads them in
# What names an item of a list, in that order: Prometheus rules, most named things, Grafana panels and their
# queries, Datadog widgets, Azure criteria, volume mounts (a volume may be mounted twice, at two paths).
IDENTITY_KEYS = ("alert", "record", "name", "title", "definition.title", "refId", "key", "mountPath")
# Where an item of a list sits (a Grafana panel's id and grid position): when nothing else of it changes, it
# only moved, and its moves are one line.
LAYOUT_KEYS = ("id", "gridPos")
SIMILAR = 0.6  # how alike two unnamed or renamed items must be to be taken as one item changed
PAIRING_LIMIT = 400  # item pairs compared for similarity at most; beyond, unmatched items are added and removed


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any  # ABSENT when the property is new
    new: Any  # ABSENT when it is gone
    follows: str = ""  # the replaced resource whose new id this is, if that is all it is
    note: str = ""  # what the change is, when it is not a value (items of a list that only moved)


@dataclass(frozen=True)
class ResourceChange:
    action: str  # one of ACTIONS
    type: str
    name: str  # the Pulumi name, from the URN
    title: str  # what the resource is called where it lives: Kubernetes, Azure or Datadog
    properties: tuple[PropertyChange, ...] = ()
    replaced_by: tuple[str, ...] = ()  # the inputs whose change forces a replacement
    routine: str = ""  # why the replacement is routine, when it is

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
    replaced_ids: dict[tuple[str, str], str] = {}  # (old id, new id) -> the replaced resource's title
    found = []
    for urn in before.keys() & after.keys():
        old, new = before[urn], after[urn]
        properties = list(changes_between(old.get("inputs", {}), new.get("inputs", {})))
        if old.get("protect", False) != new.get("protect", False):
            properties.append(PropertyChange("(protect)", old.get("protect", False), new.get("protect", False)))
        if not properties:
            continue
        forcing = replacing_paths(new["type"], properties)
        if forcing:
            replaced_ids[(old["id"], new["id"])] = title(new)
        found.append((old, new, properties, forcing))
    for old, new, properties, forcing in found:
        marked = tuple(replace(p, follows=_follows(replaced_ids, p)) for p in properties)
        routine = routine_replacement(new["type"], old.get("inputs", {}), new.get("inputs", {}), forcing) \
            if forcing else ""
        changes.append(ResourceChange("replace" if forcing else "update", new["type"], new["name"], title(new),
                                      marked, _inputs(forcing), routine))
    return sorted(changes, key=lambda c: (ACTIONS.index(c.action), c.type, c.title, c.name))


def _inputs(paths: set[str]) -> tuple[str, ...]:
    """The inputs that changed paths are in (`data`, `metadata.name`), each once, for a short reason."""
    found: list[str] = []
    for path in sorted(paths):
        top = re.split(r"[\[]", path, maxsplit=1)[0]
        top = top if top.startswith("metadata.") or top.startswith("spec.") else top.split(".")[0]
        if top not in found:
            found.append(top)
    return tuple(found)


def _follows(replaced_ids: dict[tuple[str, str], str], change: PropertyChange) -> str:
    """The replaced resource whose old and new id this change is, or ""."""
    if isinstance(change.old, str) and isinstance(change.new, str):
        return replaced_ids.get((change.old, change.new), "")
    return ""


def _whole(action: str, resource: dict) -> ResourceChange:
    return ResourceChange(action, resource["type"], resource["name"], title(resource))


# -- leaves ------------------------------------------------------------------------------------------

def changes_between(old: Any, new: Any, path: str = "") -> Iterator[PropertyChange]:
    """Every leaf that differs between `old` and `new`, documents inside strings included."""
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from changes_between(old.get(key, ABSENT), new.get(key, ABSENT), _key_path(path, key))
    elif isinstance(old, list) and isinstance(new, list):
        yield from _list_changes(old, new, path)
    elif isinstance(old, str) and isinstance(new, str) and \
            (documents := (document(old), document(new))) and None not in documents:
        yield from changes_between(*documents, path)
    else:
        yield PropertyChange(path, old, new)


PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*")


def _key_path(path: str, key: str) -> str:
    """`path.key`, or `path["key"]` for a key with dots or spaces (a ConfigMap's file name)."""
    part = key if PLAIN_KEY.fullmatch(key) else json.dumps(key)
    if not path:
        return part if PLAIN_KEY.fullmatch(key) else f"[{part}]"
    return f"{path}.{part}" if PLAIN_KEY.fullmatch(key) else f"{path}[{part}]"


def document(text: str) -> dict | list | None:
    """The JSON or YAML document a string carries (an object or a list), or None for plain text.
    PromQL, KQL and prose parse as YAML scalars at most, so they stay text."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return None
    elif "\n" in stripped and re.match(r"[\w\"'-][^\n]*:(\s|$)", stripped):
        try:
            parsed = yaml.load(stripped, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            return None
    else:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _list_changes(old: list, new: list, path: str) -> Iterator[PropertyChange]:
    if not all(isinstance(item, dict) for item in old + new):
        if len(old) == len(new):  # the same places (an alert's scopes): each that changed
            for index, (before, after) in enumerate(zip(old, new, strict=True)):
                yield from changes_between(before, after, f"{path}[{index}]")
        else:
            yield PropertyChange(path, old, new)  # shown as what was added and removed
        return
    moved = []
    for before, after, label in _pairs(old, new):
        found = list(changes_between(before, after, f"{path}[{label}]"))
        if found and all(_is_layout(change.path, f"{path}[{label}]") for change in found):
            moved.append(label)
        else:
            yield from found
    if moved:
        yield PropertyChange(path, ABSENT, ABSENT, note=f"{len(moved)} item(s) only moved ({', '.join(LAYOUT_KEYS)}): "
                                                        + ", ".join(moved))


def _is_layout(path: str, item: str) -> bool:
    return any(path == f"{item}.{key}" or path.startswith(f"{item}.{key}.") for key in LAYOUT_KEYS)


def _pairs(old: list[dict], new: list[dict]) -> list[tuple[Any, Any, str]]:
    """(old item or ABSENT, new item or ABSENT, its label) for every item that differs: items with the same
    name are one item (unnamed ones: the same item at the same place in the sequence); of the rest, those
    alike enough are one item changed, the others added or removed."""
    old_names, new_names = identities(old), identities(new)
    if old_names is None or new_names is None:  # unnamed: labelled by position
        old_names, new_names = [str(i) for i in range(len(old))], [str(i) for i in range(len(new))]
        texts = ([json.dumps(i, sort_keys=True) for i in old], [json.dumps(i, sort_keys=True) for i in new])
        opcodes = difflib.SequenceMatcher(None, *texts, autojunk=False).get_opcodes()
        unmatched_old = [old_names[i] for tag, i1, i2, _, _ in opcodes if tag != "equal" for i in range(i1, i2)]
        unmatched_new = [new_names[j] for tag, _, _, j1, j2 in opcodes if tag != "equal" for j in range(j1, j2)]
        pairs: list[tuple[Any, Any, str]] = []
    else:
        unmatched_old = [n for n in old_names if n not in new_names]
        unmatched_new = [n for n in new_names if n not in old_names]
        pairs = [(old[old_names.index(n)], item, n) for n, item in zip(new_names, new, strict=True) if n in old_names]
    before, after = dict(zip(old_names, old, strict=True)), dict(zip(new_names, new, strict=True))
    for old_name, new_name in _alike(unmatched_old, unmatched_new, before, after):
        pairs.append((before[old_name], after[new_name], new_name))
        unmatched_old.remove(old_name)
        unmatched_new.remove(new_name)
    pairs += [(ABSENT, after[n], n) for n in unmatched_new]
    pairs += [(before[n], ABSENT, n) for n in unmatched_old]
    return pairs


def _alike(old_names: list[str], new_names: list[str], before: dict, after: dict) -> list[tuple[str, str]]:
    """Pairs of unmatched items that are one item changed: the most alike first, each item once."""
    if not old_names or not new_names or len(old_names) * len(new_names) > PAIRING_LIMIT:
        return []
    texts = {**{("old", n): json.dumps(before[n], sort_keys=True) for n in old_names},
             **{("new", n): json.dumps(after[n], sort_keys=True) for n in new_names}}
    scored = sorted(((difflib.SequenceMatcher(None, texts["old", o], texts["new", n]).ratio(), o, n)
                     for o in old_names for n in new_names), reverse=True)
    taken: list[tuple[str, str]] = []
    for score, o, n in scored:
        if score >= SIMILAR and all(o != a and n != b for a, b in taken):
            taken.append((o, n))
    return taken


def _label(item: dict) -> str | None:
    for key in IDENTITY_KEYS:
        value: Any = item
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def identities(items: list[dict]) -> list[str] | None:
    """A name for each item, unique in the list, or None when the items are not all named. Items that share a
    name (recording rules of one metric) are told apart by the labels whose values differ among them."""
    names = [_label(item) for item in items]
    if any(name is None for name in names):
        return None
    found: list[str] = []
    for item, name in zip(items, names, strict=True):
        same = [other for other, n in zip(items, names, strict=True) if n == name]
        if len(same) > 1:
            labels = [other.get("labels") or {} for other in same]
            differing = sorted(k for k in set().union(*labels) if len({str(lbl.get(k)) for lbl in labels}) > 1)
            own = item.get("labels") or {}
            name = f"{name}{{{','.join(f'{k}={own.get(k)}' for k in differing)}}}" if differing else name
        found.append(str(name))
    return found if len(set(found)) == len(found) else None
