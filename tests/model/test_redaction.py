"""The redaction's rules (model/redaction.py): which keys are GenAI content, and what the PII patterns mask.

The patterns run in the collector under Go's RE2; these use Python's re, which agrees with RE2 on every
construct they use (classes, counted repeats, \\b, (?i), alternation: no lookaround, no backreference).
"""

from __future__ import annotations

import re

import pytest

from model import redaction


def ottl(pattern: str) -> str:
    """A regex inside an OTTL string literal: each backslash doubled."""
    return pattern.replace("\\", "\\\\")


def deleted(key: str) -> bool:
    """Whether dropping content deletes `key`: by name, or as an indexed key of the older conventions."""
    return key in redaction.CONTENT_ATTRIBUTES or bool(re.fullmatch(redaction.INDEXED_CONTENT_KEYS, key))


def masked(text: str) -> str:
    for pattern, mask in redaction.PII_PATTERNS.items():
        text = re.sub(pattern, mask, text)
    return text


@pytest.mark.parametrize("key", ["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                                 "gen_ai.prompt", "gen_ai.completion", "gen_ai.prompt.0.content",
                                 "gen_ai.completion.1.role"])
def test_every_content_attribute_of_the_genai_conventions_is_content(key):
    assert deleted(key)


@pytest.mark.parametrize("key", ["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.response.id",
                                 "gen_ai.operation.name", "gen_ai.prompt_tokens", "http.route"])
def test_what_describes_a_call_without_its_content_is_kept(key):
    assert not deleted(key)


@pytest.mark.parametrize("text, expected", [
    ("reply to jane.doe+ai@example.co.uk today", "reply to [email] today"),
    ("card 4111 1111 1111 1111 exp 12/29", "card [card] exp 12/29"),
    ("card 5500-0000-0000-0004", "card [card]"),
    ("card 4111111111111111 on file", "card [card] on file"),
    ("amex 378282246310005", "amex [card]"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8", "Authorization: Bearer [token]"),
    ("key sk-proj-abcdefghijklmnop1234 in a prompt", "key [key] in a prompt"),
    ("aws AKIAIOSFODNN7EXAMPLE", "aws [key]"),
    ('{"api_key": "0123456789abcdef0123"}', '{"[credential]"}'),
    ("password=hunter2hunter2 and more", "[credential] and more"),
])
def test_pii_is_masked(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize("text", [
    "4bf92f3577b34da6a3ce929d0e0e4736",  # a trace id
    "00f067aa0ba902b7",  # a span id
    "123e4567-e89b-12d3-a456-426614174000",  # a UUID
    "2026-12-03T07:44:25Z took 1234 ms",
    "https://inference.example.com/v1/generate?model=llama",
    "12345678",  # an order number
    "1796282179347",  # epoch milliseconds
    "1796282179347955123",  # epoch nanoseconds
    "dd.trace_id 1234567890123456789",  # a decimal 64-bit trace id
])
def test_ids_times_and_urls_are_not_pii(text):
    assert masked(text) == text


def test_dropped_content_is_deleted_in_every_place_it_travels():
    found = redaction.statements("drop", 256)
    traces, logs = dict(found.traces), dict(found.logs)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt",
                "gen_ai.completion"):
        assert f'delete_key(span.attributes, "{key}")' in traces["span"]
    assert f'delete_matching_keys(span.attributes, "{ottl(redaction.INDEXED_CONTENT_KEYS)}")' in traces["span"]
    assert re.fullmatch(redaction.INDEXED_CONTENT_KEYS, "gen_ai.prompt.0.content")
    assert 'delete_key(spanevent.attributes, "gen_ai.input.messages")' in traces["spanevent"]
    assert 'delete_key(log.attributes, "gen_ai.input.messages")' in logs["log"]
    # The content events themselves go whole (the filter processor's conditions).
    assert found.dropped_span_events == (f'IsMatch(spanevent.name, "{ottl(redaction.CONTENT_EVENTS)}")',)
    assert found.dropped_log_records == (f'IsMatch(log.event_name, "{ottl(redaction.CONTENT_EVENTS)}")',
                                         f'IsMatch(log.attributes["event.name"], "{ottl(redaction.CONTENT_EVENTS)}")')
    for event in ("gen_ai.content.prompt", "gen_ai.user.message", "gen_ai.choice"):
        assert re.fullmatch(redaction.CONTENT_EVENTS, event)
    # Content goes before PII is masked: a prompt is removed whole.
    assert traces["span"][0].startswith("delete_key")


def test_truncated_content_is_cut_to_the_stacks_length_and_kept_content_only_masked():
    traces = dict(redaction.statements("truncate", 64).traces)
    assert 'set(span.attributes["gen_ai.input.messages"], Substring(span.attributes["gen_ai.input.messages"], 0, ' \
           '64)) where IsString(span.attributes["gen_ai.input.messages"]) and ' \
           'Len(span.attributes["gen_ai.input.messages"]) > 64' in traces["span"]
    kept = dict(redaction.statements("keep", 64).traces)
    assert all(s.startswith(("replace_all_patterns(span.attributes", "replace_pattern(span.status.message"))
               for s in kept["span"])
