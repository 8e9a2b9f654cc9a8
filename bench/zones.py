"""`python -m bench.zones`: microseconds per number for recipient_places, cold and warm cache.

Ingestion resolves every number's zones once; the budget is 100,000 numbers in well under the
2 s that all of ingestion may take. Prints a Markdown table (median of --repeats runs), timed
in this process's CPU time: on a shared machine wall time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Mapping

import phonenumbers
from phonenumbers import timezone

from shared.domain import place_tables, recipient_zones
from shared.domain.recipient_zones import recipient_places

Rows = list[tuple[str, Mapping[str, object] | None]]


def _valid(candidates: Callable[[random.Random], str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    numbers: list[str] = []
    while len(numbers) < count:
        number = candidates(rng)
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            numbers.append(number)
    return numbers


def us_numbers(count: int, area_codes: int | None, exchanges: int | None, seed: int = 1) -> Rows:
    """US numbers over `area_codes` area codes of `exchanges` exchanges each (None: all)."""
    rng = random.Random(seed)
    geographic = sorted(
        code
        for code, (country, is_geographic, _) in place_tables.nanp_areas().items()
        if country == "US" and is_geographic
    )
    codes = rng.sample(geographic, area_codes) if area_codes else geographic
    pool = {code: rng.sample(range(200, 1000), exchanges) if exchanges else None for code in codes}

    def candidate(rng: random.Random) -> str:
        code = rng.choice(codes)
        exchange = rng.choice(pool[code]) if pool[code] else rng.randrange(200, 1000)
        return f"+1{code}{exchange}{rng.randrange(10_000):04d}"

    return [(number, None) for number in _valid(candidate, count, seed)]


def world_numbers(regions: list[str], count: int, random_digits: int = 4, seed: int = 2) -> Rows:
    """libphonenumber's example fixed lines and mobiles with their last digits random."""
    examples = []
    for region in regions:
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                examples.append(f"+{example.country_code}{example.national_number}")

    def candidate(rng: random.Random) -> str:
        tail = rng.randrange(10**random_digits)
        return rng.choice(examples)[:-random_digits] + f"{tail:0{random_digits}d}"

    return [(number, None) for number in _valid(candidate, count, seed)]


def with_attributes(rows: Rows, attributes: Callable[[int], Mapping[str, object]]) -> Rows:
    return [(number, attributes(index)) for index, (number, _) in enumerate(rows)]


def microseconds(rows: Rows, repeats: int, cold: bool) -> float:
    """Median µs per number of recipient_places over `repeats` runs."""
    runs = []
    recipient_places(rows[:1])  # loads the tables: once per process, not per batch
    if not cold:
        recipient_places(rows)
    for _ in range(repeats):
        if cold:
            recipient_zones.clear_caches()
        started = time.process_time()
        recipient_places(rows)
        runs.append((time.process_time() - started) / len(rows) * 1e6)
    return statistics.median(runs)


def libphonenumber_microseconds(rows: Rows, repeats: int) -> float:
    """For scale: libphonenumber's own parse and time_zones_for_number, no cache."""
    runs = []
    sample = rows[:10_000]
    for _ in range(repeats):
        started = time.process_time()
        for number, _ in sample:
            timezone.time_zones_for_number(phonenumbers.parse(number))
        runs.append((time.process_time() - started) / len(sample) * 1e6)
    return statistics.median(runs)


def table_load_ms() -> float:
    for loader in place_tables.LOADERS:
        loader.cache_clear()
    started = time.process_time()
    recipient_places([("+12127361234", {"zip": "90012", "tz": "UTC"})])
    return (time.process_time() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    count, repeats = args.count, args.repeats

    load = table_load_ms()
    clinic = us_numbers(count, area_codes=20, exchanges=50)
    national = us_numbers(count, area_codes=None, exchanges=None)
    zips = place_tables.zip_ranges()[0]
    cases: list[tuple[str, Rows]] = [
        ("US, 20 area codes x 50 exchanges (1,000 prefixes)", clinic),
        ("US, every area code, random exchanges", national),
        (
            "US, each with a ZIP attribute",
            with_attributes(clinic, lambda i: {"zip": zips[i % len(zips)]}),
        ),
        (
            "US, each with a timezone attribute",
            with_attributes(clinic, lambda i: {"timezone": "America/Chicago"}),
        ),
        (
            "UK, DE, FR, IN, BR, AU fixed lines and mobiles",
            world_numbers(["GB", "DE", "FR", "IN", "BR", "AU"], count // 10),
        ),
        (
            "UK, DE, FR, IN, BR, AU, last 7 digits random (few shared prefixes)",
            world_numbers(["GB", "DE", "FR", "IN", "BR", "AU"], count // 10, random_digits=7),
        ),
    ]
    prefixes = len({number[:8] for number, _ in national})
    print(f"Tables loaded in {load:.1f} ms (once per process).\n")
    print(f"| {count:,} numbers (non-US: {count // 10:,}) | cold µs/number | warm µs/number |")
    print("| --- | ---: | ---: |")
    for name, rows in cases:
        cold = microseconds(rows, repeats, cold=True)
        warm = microseconds(rows, repeats, cold=False)
        print(f"| {name} | {cold:.2f} | {warm:.2f} |")
    baseline = libphonenumber_microseconds(national, repeats)
    print(
        f"\nThe national list has {prefixes:,} distinct NPA-NXX prefixes. For scale,"
        f" libphonenumber's parse + time_zones_for_number: {baseline:.1f} µs a number, uncached."
    )


if __name__ == "__main__":
    main()
