"""What never leaves the cluster in a trace or a log (pure): the OpenTelemetry GenAI conventions' content
(prompts, completions, system instructions) and common PII, as the transform processor's OTTL statements.

The collector runs them in every traces and logs pipeline before its first exporter or connector, so no
backend (App Insights, Datadog, the Datadog connector's APM stats) ever receives what they remove.

GenAI content, per stack: dropped (the default), cut to N characters, or kept. PII is masked in span
attributes, span event attributes, log attributes and string log bodies: e-mail addresses, payment card
numbers, bearer tokens, and API keys by their known shapes or a key-like name.
"""

from __future__ import annotations

from dataclasses import dataclass

# Attributes that carry content (semantic-conventions gen-ai: gen-ai-spans.md and gen-ai-events.md), and the
# indexed ones of the older conventions and of OpenLLMetry-style instrumentations (gen_ai.prompt.0.content).
CONTENT_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                      "gen_ai.prompt", "gen_ai.completion")
INDEXED_CONTENT_KEYS = r"^gen_ai\.(prompt|completion)\..+$"  # gen_ai.prompt.0.content, gen_ai.completion.1.role
# Events whose body or attributes are a message: the older gen_ai.content.* span events, the log-based
# gen_ai.{system,user,assistant,tool}.message and gen_ai.choice, and the inference details event.
CONTENT_EVENTS = r"^gen_ai\.(content\.(prompt|completion)|(system|user|assistant|tool)\.message|choice|" \
                 r"client\.inference\.operation\.details)$"

# RE2 (Go's regexp, which OTTL uses) and Python's re agree on these. Each maps to what replaces a match.
PII_PATTERNS = {
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}": "[email]",
    # Four-digit groups separated by a space or hyphen (13 to 19 digits), or 15 or 16 digits in a row (Amex, the
    # rest): not 13 (epoch milliseconds) or 19 (epoch nanoseconds, decimal 64-bit ids) in a row.
    r"\b(?:\d{4}[ -]){3}\d{1,7}\b|\b\d{15,16}\b": "[card]",
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}": "Bearer [token]",
    # Shapes of provider keys (OpenAI and Anthropic sk-, AWS access key ids, GitHub and Slack tokens), and any
    # long value after a key-like name.
    r"\b(sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,})\b": "[key]",
    r"(?i)\b(api[_-]?key|access[_-]?token|secret|password)\b[\"']?\s*[:=]\s*[\"']?[^\s\"',;&]{8,}": "[credential]",
}


@dataclass(frozen=True)
class Statements:
    """The transform processor's statements, per signal as (OTTL context, statements) in order, and with
    `drop`, the filter processor's conditions that drop whole content events (span events, log records)."""

    traces: tuple[tuple[str, tuple[str, ...]], ...]
    logs: tuple[tuple[str, tuple[str, ...]], ...]
    dropped_span_events: tuple[str, ...] = ()
    dropped_log_records: tuple[str, ...] = ()


def _quoted(text: str) -> str:
    """An OTTL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _content(attributes: str, genai_content: str, truncate_to: int) -> list[str]:
    """Statements on one attribute map's GenAI content: delete it, or cut each string value to `truncate_to`."""
    if genai_content == "drop":
        return [*(f"delete_key({attributes}, {_quoted(key)})" for key in CONTENT_ATTRIBUTES),
                f"delete_matching_keys({attributes}, {_quoted(INDEXED_CONTENT_KEYS)})"]
    if genai_content == "truncate":
        return [f"set({attributes}[{_quoted(key)}], Substring({attributes}[{_quoted(key)}], 0, {truncate_to})) "
                f"where IsString({attributes}[{_quoted(key)}]) and Len({attributes}[{_quoted(key)}]) > {truncate_to}"
                for key in CONTENT_ATTRIBUTES]
    return []


def _masked(attributes: str) -> list[str]:
    return [f'replace_all_patterns({attributes}, "value", {_quoted(pattern)}, {_quoted(mask)})'
            for pattern, mask in PII_PATTERNS.items()]


def statements(genai_content: str, truncate_to: int) -> Statements:
    """The redaction, GenAI content first (a prompt is removed whole before its PII would be masked). Dropped
    content events go whole (a transform statement cannot remove an event: the filter processor does);
    truncated ones keep their attributes cut to `truncate_to`."""
    truncated = genai_content == "truncate"
    events = [f"truncate_all(spanevent.attributes, {truncate_to}) "
              f"where IsMatch(spanevent.name, {_quoted(CONTENT_EVENTS)})"] if truncated else []
    is_content_log = f"IsMatch(log.event_name, {_quoted(CONTENT_EVENTS)})"
    bodies = [f"set(log.body, Substring(log.body, 0, {truncate_to})) where {is_content_log} and "
              f"IsString(log.body) and Len(log.body) > {truncate_to}"] if truncated else []
    masked_bodies = [f"replace_pattern(log.body, {_quoted(pattern)}, {_quoted(mask)}) where IsString(log.body)"
                     for pattern, mask in PII_PATTERNS.items()]
    dropped = genai_content == "drop"
    return Statements(
        traces=(("span", (*_content("span.attributes", genai_content, truncate_to), *_masked("span.attributes"),
                          # The status message is usually an exception's text, which can quote its input.
                          *(f"replace_pattern(span.status.message, {_quoted(pattern)}, {_quoted(mask)})"
                            for pattern, mask in PII_PATTERNS.items()))),
                ("spanevent", (*_content("spanevent.attributes", genai_content, truncate_to), *events,
                               *_masked("spanevent.attributes")))),
        logs=(("log", (*_content("log.attributes", genai_content, truncate_to), *bodies,
                       *_masked("log.attributes"), *masked_bodies)),),
        dropped_span_events=(f"IsMatch(spanevent.name, {_quoted(CONTENT_EVENTS)})",) if dropped else (),
        # The event's name in the log record's field, or as the older conventions' event.name attribute.
        dropped_log_records=(f"IsMatch(log.event_name, {_quoted(CONTENT_EVENTS)})",
                             f'IsMatch(log.attributes["event.name"], {_quoted(CONTENT_EVENTS)})') if dropped else ())
