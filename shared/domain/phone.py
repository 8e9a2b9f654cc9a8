"""Phone numbers: validate against libphonenumber's number plans and normalise to E.164.

Numbers already written in E.164 skip libphonenumber's text parser (the slow part): the
country code is read off the digits and only the number-plan check runs, itself compiled once
per region (shared/domain/number_plans.py).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, NumberParseException, PhoneNumber

from shared.domain.number_plans import is_valid_number

# libphonenumber compiles its number-plan patterns on every use and leans on the re module's
# cache, which holds 512 and is shared with everything else; its own cache keeps them all
# (a few MB), which makes a number's check about a quarter cheaper.
phonenumbers.enable_pattern_cache()

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s\-.()/]")


class InvalidPhoneNumber(ValueError):
    """Not a dialable number; the message says why, for the client."""


def normalize(raw: str, default_region: str = "US") -> str:
    """`raw` as E.164 ("+14155550100"), or InvalidPhoneNumber with the reason."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    if len(text) > 40:
        raise InvalidPhoneNumber("phone number is too long")
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _E164.match(compact):
        number = _from_e164_digits(compact[1:])
        if number is not None and is_valid_number(number):
            return compact
        raise InvalidPhoneNumber(f"{raw!r} is not a valid number in its country's numbering plan")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {exc}") from exc
    if not is_valid_number(number):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid number in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_for_list(raw: str, default_region: str = "US") -> str:
    """`raw` as a do-not-call list holds it: E.164, as `normalize` writes it, but a number
    already in E.164 is taken as written without the numbering-plan check (the plan data
    may lag behind a new range, and a request not to be called must never be refused for
    that; an entry no call has simply never matches). InvalidPhoneNumber for anything that is
    not a phone number."""
    return written_e164(raw) or normalize(raw, default_region)


def written_e164(raw: str) -> str | None:
    """`raw` without its separators, when that is E.164 in form; else None."""
    if _E164.fullmatch(raw):  # most numbers of a large list: nothing to take out
        return raw
    compact = _SEPARATORS.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _E164.match(compact) else None


def parse_e164(e164: str) -> PhoneNumber | None:
    """An E.164 string ("+14155550100") as a PhoneNumber, or None; does not check validity."""
    if not _E164.match(e164):
        return None
    return _from_e164_digits(e164[1:])


def _from_e164_digits(digits: str) -> PhoneNumber | None:
    # Country codes are prefix-free, so at most one of the 1-3 digit prefixes is assigned.
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if not national:
                return None
            number = PhoneNumber(country_code=code, national_number=int(national))
            if national.startswith("0"):
                # Italian fixed lines keep their leading zero after the country code.
                number.italian_leading_zero = True
                number.number_of_leading_zeros = len(national) - len(national.lstrip("0"))
            return number
    return None
