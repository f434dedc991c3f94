"""A plan diff as a reviewer reads it: a summary per stack, then per resource one line per changed leaf.

`~ path: old → new` for a changed value, `+ path: …` for an added one, `- path: …` for a removed one.
A value too long for a line (a PromQL expression, a KQL query, a description) shows only what changed
in it, with a little context: `…[5m]))) > «1 → 0.5» and on() …`. No line is longer than MAX_LINE.
The pull-request comment fits GitHub's limit: when the whole diff does not, it keeps every stack's
summary and every resource's header, and says where the whole diff is.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from tools.plan_diff import ABSENT, ACTIONS, PropertyChange, ResourceChange

MAX_LINE = 300  # characters in any line of the report
INDENT = 6  # before a leaf's line, under its resource
LONG = 120  # two texts longer than this together show only what changed between them
CONTEXT = 40  # characters of unchanged text kept each side of a change
ALIGNED_TOKENS = 40_000  # token pairs a token-by-token alignment may compare (its cost grows with their product)
COMMENT_LIMIT = 65_536  # characters GitHub accepts in an issue or pull-request comment
MARKS = {"create": "+", "delete": "-", "update": "~", "replace": "±"}
WORDS = {"create": "to create", "replace": "to replace", "update": "to update", "delete": "to delete"}
HEADINGS = {"create": "Created", "replace": "Replaced (deleted and created again)", "update": "Updated",
            "delete": "Deleted"}
# A number with its unit (1s, 0.5s, 99.9%), a word, a run of white space, or one other character.
TOKEN = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[A-Za-z%]*|\w+|\s+|[^\w\s]")


def summary(changes: list[ResourceChange]) -> str:
    if not changes:
        return "no changes"
    parts = []
    for action in ACTIONS:
        count = sum(c.action == action for c in changes)
        if count:
            routine = sum(bool(c.routine) for c in changes if c.action == action)
            parts.append(f"{count} {WORDS[action]}" + (f" ({routine} routine)" if routine else ""))
    return ", ".join(parts)


def shown(value: Any) -> str:
    if value is ABSENT:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def clipped(text: str, limit: int = LONG) -> str:
    """`text` on one line, at most `limit` characters."""
    flat = re.sub(r"\n\s*", "⏎", text)
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _head(text: str) -> str:
    """About CONTEXT characters from the start of `text`, ending at a word's end where one is near."""
    cut = text[:CONTEXT]
    space = cut.rfind(" ")
    return cut[:space] if space > CONTEXT // 2 else cut


def _tail(text: str) -> str:
    """About CONTEXT characters from the end of `text`, starting at a word's start where one is near."""
    cut = text[-CONTEXT:]
    space = cut.find(" ")
    return cut[space:] if 0 <= space < CONTEXT // 2 else cut


def inline_diff(old: str, new: str) -> str:
    """What changed from `old` to `new`, each change as «old → new» («+ added», «- removed») with CONTEXT
    characters of the unchanged text around it."""
    a, b = TOKEN.findall(old), TOKEN.findall(new)
    opcodes: list[tuple[str, int, int, int, int]]
    if len(a) * len(b) > ALIGNED_TOKENS:  # too long to align token by token: the one span between what both keep
        head = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        tail = next((i for i, (x, y) in enumerate(zip(reversed(a[head:]), reversed(b[head:]), strict=False))
                     if x != y),
                    min(len(a), len(b)) - head)
        opcodes = [("equal", 0, head, 0, head), ("replace", head, len(a) - tail, head, len(b) - tail),
                   ("equal", len(a) - tail, len(a), len(b) - tail, len(b))]
    else:
        opcodes = list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
    pieces = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            text = re.sub(r"\n\s*", "⏎", before)
            first, last = index == 0, index == len(opcodes) - 1
            if first and len(text) > CONTEXT:
                text = "…" + _tail(text)
            elif last and len(text) > CONTEXT:
                text = _head(text) + "…"
            elif not first and not last and len(text) > 2 * CONTEXT:
                text = _head(text) + " … " + _tail(text)
            pieces.append(text)
        elif tag == "replace":
            pieces.append(f"«{clipped(before, 60)} → {clipped(after, 60)}»")
        elif tag == "insert":
            pieces.append(f"«+ {clipped(after, 60)}»")
        else:
            pieces.append(f"«- {clipped(before, 60)}»")
    return "".join(pieces)


def outline(value: Any) -> str:
    """A whole added or removed value, short: its texts clipped, what nests deeper shown as {…} or […]."""
    def brief(item: Any, depth: int) -> str:
        if isinstance(item, str):
            return json.dumps(clipped(item, 50), ensure_ascii=False)
        if isinstance(item, dict):
            return "{" + ", ".join(f"{json.dumps(k)}: {brief(v, depth + 1)}" for k, v in sorted(item.items())) + "}" \
                if depth < 1 else "{…}"
        if isinstance(item, list):
            return "[" + ", ".join(brief(v, depth + 1) for v in item) + "]" if depth < 1 else "[…]"
        return shown(item)
    return brief(value, 0)


def _list_change(old: list, new: list) -> str:
    """A list of plain values (tags, handles, arguments) as what it gained and lost."""
    added = [shown(v) for v in new if v not in old]
    removed = [shown(v) for v in old if v not in new]
    said = [f"added {', '.join(added)}" if added else "", f"removed {', '.join(removed)}" if removed else ""]
    return "; ".join(s for s in said if s) or f"reordered: {shown(new)}"


def leaf_line(change: PropertyChange) -> str:
    """One line for one changed leaf: its mark, path, and old → new."""
    old, new = change.old, change.new
    if change.note:
        line = f"~ {change.path}: {change.note}"
    elif change.follows:
        line = f"~ {change.path}: → the new id of replaced {change.follows}"
    elif old is ABSENT:
        line = f"+ {change.path}: {clipped(outline(new), 200)}"
    elif new is ABSENT:
        line = f"- {change.path}: {clipped(outline(old), 200)}"
    elif isinstance(old, list) and isinstance(new, list):
        line = f"~ {change.path}: {_list_change(old, new)}"
    elif isinstance(old, str) and isinstance(new, str) and (len(old) + len(new) > LONG or "\n" in old + new):
        line = f"~ {change.path}: {inline_diff(old, new)}"
    else:
        line = f"~ {change.path}: {clipped(shown(old))} → {clipped(shown(new))}"
    room = MAX_LINE - INDENT
    return line if len(line) <= room else line[:room - 1] + "…"


def _reason(change: ResourceChange) -> str:
    forced = f"{', '.join(change.replaced_by)} cannot change in place"
    return f"{forced}; routine: {change.routine}" if change.routine else forced


def header(change: ResourceChange) -> str:
    head = f"{MARKS[change.action]} {change.type} {change.title}"
    if change.title != change.name:
        head += f"  [{change.name}]"
    if change.follows_only:
        head += "  (follows a replacement)"
    return head


def text(stack: str, changes: list[ResourceChange], compared: str) -> str:
    """The report for a terminal: the summary line, then each resource and its leaves."""
    lines = [clipped(f"stack {stack} ({compared}): {summary(changes)}", MAX_LINE)]
    for change in changes:
        lines.append(clipped(f"  {header(change)}", MAX_LINE))
        if change.action == "replace":
            lines.append(" " * INDENT + clipped(f"replaced: {_reason(change)}", MAX_LINE - INDENT))
        lines += [" " * INDENT + leaf_line(p) for p in change.properties]
    return "\n".join(lines)


def markdown(stack: str, changes: list[ResourceChange], compared: str, *, leaves: bool = True) -> str:
    """The report for a pull-request comment; without `leaves`, the resources' headers only."""
    lines = [f"### `{stack}`: {summary(changes)}", "", clipped(f"_{compared}_", MAX_LINE), ""]
    for action in ACTIONS:
        group = [c for c in changes if c.action == action]
        if not group:
            continue
        lines += [f"**{HEADINGS[action]}**", ""]
        for change in group:
            why = f": {_reason(change)}" if change.action == "replace" else \
                " (follows a replacement)" if change.follows_only else ""
            lines.append(clipped(f"- `{change.type}` **{change.title}**{why}", MAX_LINE))
            if leaves and change.properties:
                lines += ["", "  ```diff", *(f"  {leaf_line(p)}" for p in change.properties), "  ```"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def comment(marker: str, sections: list[tuple[str, list[ResourceChange], str, str]], artifact: str) -> str:
    """One pull-request comment for every stack (`sections`: stack, changes, what was compared, a note),
    within COMMENT_LIMIT: the whole diff when it fits, else every summary and resource header and where the
    whole diff is, else the summaries alone."""
    table = ["| stack | " + " | ".join(ACTIONS) + " |", "|---|" + "---|" * len(ACTIONS)]
    table += [f"| `{stack}` | " + " | ".join(str(sum(c.action == a for c in changes)) for a in ACTIONS) + " |"
              for stack, changes, _, _ in sections]
    head = [marker, "## What this change does to each stack", "", *table, ""]
    for leaves, cut in ((True, ""),
                        (False, f"_The whole diff is longer than a comment can be ({COMMENT_LIMIT:,} characters): "
                                f"each resource's changes are left out here. They are in the `{artifact}` artifact "
                                "of this workflow run._"),
                        (None, f"_Too many resources change to list them in a comment: the whole diff is in the "
                               f"`{artifact}` artifact of this workflow run._")):
        body = [*head, *([cut, ""] if cut else [])]
        for stack, changes, compared, note in sections:
            body += [markdown(stack, changes, compared, leaves=bool(leaves)) if leaves is not None
                     else f"### `{stack}`: {summary(changes)}\n", *([note, ""] if note else [])]
        document = "\n".join(body)
        if len(document) <= COMMENT_LIMIT:
            return document
    return document[:COMMENT_LIMIT - 2] + "…\n"
