"""Whether a number fits its country's numbering plan: the answer of libphonenumber's
is_valid_number, with each region's plan compiled once.

libphonenumber tells a number's validity by finding its type: it tries the region's general
pattern and then up to ten type patterns (premium rate, toll free, ..., fixed line, mobile),
one Python call and one regular expression each, and on a country shared by several regions
(+1: the US and 24 others) it does that twice, once to find the region and once to check it.
That was most of an import's validation. Validity only needs "some type matches", so a region's
plan here is its general pattern and, per number length, one alternation of the type patterns
that admit that length: two matches a number. tests/unit/test_phone.py holds it to
libphonenumber's answer for every country code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumber,
    national_significant_number,
)
from phonenumbers.phonemetadata import PhoneNumberDesc

# The number types libphonenumber's _number_type_helper tries, in its order; mobile is tried
# only when its pattern differs from the fixed line's (below).
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)
_NON_GEO = "001"


def _admits(desc: PhoneNumberDesc | None, length: int) -> bool:
    """Whether a number of `length` digits can match `desc` at all (its lengths and pattern)."""
    if desc is None or not desc.national_number_pattern:
        return False
    return not desc.possible_length or length in desc.possible_length


@dataclass
class RegionPlan:
    general_desc: PhoneNumberDesc
    types: tuple[PhoneNumberDesc, ...]
    general: re.Pattern[str] = field(init=False)
    #: Per number length: the alternation of the type patterns that admit it (None: none does).
    _typed: dict[int, re.Pattern[str] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.general = re.compile(self.general_desc.national_number_pattern or "(?!)")

    def admits(self, nsn: str) -> bool:
        """Whether the national significant number `nsn` is of some type of this region."""
        length = len(nsn)
        if not _admits(self.general_desc, length) or self.general.fullmatch(nsn) is None:
            return False
        if length not in self._typed:
            self._typed[length] = self._typed_pattern(length)
        typed = self._typed[length]
        return typed is not None and typed.fullmatch(nsn) is not None

    def _typed_pattern(self, length: int) -> re.Pattern[str] | None:
        patterns = [d.national_number_pattern for d in self.types if _admits(d, length)]
        if not patterns:
            return None
        return re.compile("|".join(f"(?:{p})" for p in patterns))


@cache
def _plan(country_code: int, region: str) -> RegionPlan | None:
    """The region's compiled plan (None: no metadata, or the region is not of this code).
    Plans are built on first use and kept: a few hundred at most."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if (
        metadata is None
        or metadata.general_desc is None
        or (region != _NON_GEO and metadata.country_code != country_code)
    ):
        return None
    types = [getattr(metadata, name) for name in _TYPES]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.append(metadata.mobile)
    return RegionPlan(metadata.general_desc, tuple(d for d in types if d is not None))


@cache
def _leading_digits(region: str) -> re.Pattern[str] | None:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.leading_digits is None:
        return None
    return re.compile(metadata.leading_digits)


def is_valid_number(number: PhoneNumber) -> bool:
    """phonenumbers.is_valid_number(number), answered from the compiled plans."""
    code = number.country_code or 0
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions:
        return False
    nsn = national_significant_number(number)
    if len(regions) == 1:
        plan = _plan(code, regions[0])
        return plan is not None and plan.admits(nsn)
    # A number's region is the first whose leading digits start it or, for a region without
    # such a rule, whose plan it fits (then it is valid already).
    for region in regions:
        if PhoneMetadata.metadata_for_region(region, None) is None:
            continue
        leading = _leading_digits(region)
        if leading is not None:
            if leading.match(nsn):
                plan = _plan(code, region)
                return plan is not None and plan.admits(nsn)
            continue
        plan = _plan(code, region)
        if plan is not None and plan.admits(nsn):
            return True
    return False
