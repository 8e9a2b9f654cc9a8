"""Distinct, valid phone numbers for tests, so that tests never share a number."""

from __future__ import annotations

import itertools

import phonenumbers

# +1 415 2xx xxxx to 8xx xxxx: valid San Francisco numbers in libphonenumber's plan.
_sequence = itertools.count(2_000_000)
#: The fuzzer's numbers start here (tests/fuzz/formats.py): those it puts on the do-not-call
#: list must never be a test's.
FUZZ_NUMBERS_FROM = 9_000_000


def fresh_numbers(count: int) -> list[str]:
    numbers = [f"+1415{next(_sequence):07d}" for _ in range(count)]
    assert numbers[-1] < f"+1415{FUZZ_NUMBERS_FROM:07d}", "out of test numbers"
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(n)) for n in numbers[:3])
    return numbers
