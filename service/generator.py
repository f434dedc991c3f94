"""A tiny deterministic text generator: a stand-in for a language model, with no download.

The same prompt always yields the same tokens (picked from a fixed vocabulary by a hash of the
prompt), so a test knows what a stream carries. A prompt's tokens are its words.
"""

from __future__ import annotations

import hashlib

VOCABULARY = ("the", "model", "serves", "tokens", "quickly", "and", "every", "request", "is", "observed",
              "by", "its", "platform", "with", "care", "today")


def prompt_tokens(prompt: str) -> int:
    return len(prompt.split())


def tokens(prompt: str, count: int) -> list[str]:
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
    return [VOCABULARY[(seed + 7 * index) % len(VOCABULARY)] for index in range(count)]
