from __future__ import annotations

import random

import phonenumbers
import pytest

from shared.domain.phone import InvalidPhoneNumber, is_valid_number, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155550100", "+14155550100"),
        ("+1 415 555 0100", "+14155550100"),
        ("(415) 555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("0014155550100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+390612345678", "+390612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
    ],
)
def test_valid_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_default_region_applies_to_national_numbers() -> None:
    assert normalize("020 7946 0958", default_region="GB") == "+442079460958"


@pytest.mark.parametrize(
    "raw", ["", "   ", "+1234567890", "+0987654321", "12", "call me", "+1415555010", "9" * 41]
)
def test_invalid_numbers_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize(raw)
    assert str(caught.value)


def test_the_shortcut_agrees_with_libphonenumber_everywhere() -> None:
    """is_valid_number saves libphonenumber's second look; it must answer exactly as it does,
    for every country code, on random and on known-valid numbers."""
    rng = random.Random(11)
    checked = 0
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        samples = [
            phonenumbers.PhoneNumber(
                country_code=code, national_number=rng.randrange(10 ** rng.randint(4, 11))
            )
            for _ in range(60)
        ]
        samples += [n for r in regions if (n := phonenumbers.example_number(r)) is not None]
        for number in samples:
            assert is_valid_number(number) == phonenumbers.is_valid_number(number), number
            checked += 1
    assert checked > 10_000
