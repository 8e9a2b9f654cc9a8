from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from shared.domain.number_plans import is_valid_number
from shared.domain.phone import InvalidPhoneNumber, normalize, parse_e164


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


def _examples() -> list[phonenumbers.PhoneNumber]:
    """libphonenumber's example number of every type of every region and non-geographic
    code: valid numbers of every kind of plan."""
    found = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in PhoneNumberType.values():
            if (n := phonenumbers.example_number_for_type(region, kind)) is not None:
                found.append(n)
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        if (n := phonenumbers.example_number_for_non_geo_entity(code)) is not None:
            found.append(n)
    return found


def _near(number: phonenumbers.PhoneNumber) -> list[phonenumbers.PhoneNumber]:
    """Numbers one digit away from `number`: its last digit changed, one more, one fewer."""
    nsn = phonenumbers.national_significant_number(number)
    variants = [nsn[:-1] + d for d in "0123456789"] + [nsn + "5", nsn[:-1]]
    e164s = [f"+{number.country_code}{v}" for v in variants]
    return [n for e in e164s if (n := parse_e164(e)) is not None]


def test_the_compiled_plans_agree_with_libphonenumber_on_every_example() -> None:
    """Valid numbers of every type of every region, and those one digit away from them (the
    edges of each plan's patterns and lengths)."""
    examples = _examples()
    assert len(examples) > 1300
    checked = 0
    for example in examples:
        assert is_valid_number(example), example
        for number in _near(example):
            assert is_valid_number(number) == phonenumbers.is_valid_number(number), number
            checked += 1
    assert checked > 15_000


@settings(max_examples=3000, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text(alphabet="0123456789", min_size=5, max_size=13),
)
def test_the_compiled_plans_agree_with_libphonenumber_on_any_digits(
    code: int, national: str
) -> None:
    number = parse_e164(f"+{code}{national}")
    if number is not None and number.country_code == code:
        assert is_valid_number(number) == phonenumbers.is_valid_number(number), number


def test_the_compiled_plans_agree_with_libphonenumber_on_random_numbers() -> None:
    """The compiled plans answer exactly as libphonenumber does, for every country code, on
    random and on known-valid numbers."""
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
