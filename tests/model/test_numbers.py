"""Numbers in queries: plain decimals, never exponent notation."""

import random

import pytest

from model.numbers import plain


@pytest.mark.parametrize("value, text", [
    (14.4, "14.4"), (6.0, "6"), (5e6, "5000000"), (14.4 * 0.01, "0.144"), (1 - 0.999, "0.001"), (1e-5, "0.00001"),
    (0.0, "0"), (100, "100"), (2.5e-7, "0.00000025"), (123456789.125, "123456789.125"), (-3.5, "-3.5"),
])
def test_plain_writes_what_a_person_would(value, text):
    assert plain(value) == text


def test_plain_never_uses_exponents_and_keeps_the_value():
    rng = random.Random(7)
    for _ in range(2000):
        value = rng.uniform(1, 10) * 10 ** rng.randint(-9, 15)
        text = plain(value)
        assert "e" not in text.lower()
        assert float(text) == pytest.approx(value, rel=1e-11)
