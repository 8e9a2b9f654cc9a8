"""`make place-data`: regenerate the tables under shared/domain/data/ that recipient_zones reads.

- us_zip_zones.tsv: 5-digit US ZIP ranges -> (state, IANA zone), from the `zipcodes` package
  (MIT; a dev dependency only). Neighbouring ZIPs share a state and zone, so the ~42,000 ZIPs
  fold into a few hundred ranges with no loss of precision for the ZIPs the package knows.
- nanp_area_codes.tsv: NANP area code -> (country, ISO 3166-2 regions), from libphonenumber's
  geocoding data (the `phonenumbers` runtime dependency), checked against the ZIP dataset.
- country_zones.tsv: ISO country -> its IANA zones, from zone.tab in the `tzdata` package.

Run from a checkout with `python -m tests.support.place_data`; it overwrites the three files.
"""

from __future__ import annotations

import collections
import functools
import importlib.resources
import re
import sys
import zoneinfo
from collections.abc import Iterable, Iterator
from pathlib import Path

import phonenumbers
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.tzdata import TIMEZONE_DATA

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "domain" / "data"

# US territories that have ZIP codes and their own NANP region code in libphonenumber; ISO
# 3166-2:US lists them too (US-PR, ...), which lets a state-level rule name them.
US_TERRITORIES = ("PR", "VI", "GU", "AS", "MP")

# libphonenumber's English area names for US states and Canadian provinces, spelled as its
# geocoding data spells them (typos included), to ISO 3166-2 subdivision codes.
_NAMES = {
    "Alabama": "US-AL",
    "Alaska": "US-AK",
    "Arizona": "US-AZ",
    "Arkansas": "US-AR",
    "California": "US-CA",
    "Colorado": "US-CO",
    "Connecticut": "US-CT",
    "Delaware": "US-DE",
    "Florida": "US-FL",
    "Georgia": "US-GA",
    "Hawaii": "US-HI",
    "Idaho": "US-ID",
    "Illinois": "US-IL",
    "Indiana": "US-IN",
    "Iowa": "US-IA",
    "Kansas": "US-KS",
    "Kentucky": "US-KY",
    "Louisiana": "US-LA",
    "Maine": "US-ME",
    "Maryland": "US-MD",
    "Massachusetts": "US-MA",
    "Michigan": "US-MI",
    "Minnesota": "US-MN",
    "Mississippi": "US-MS",
    "Missouri": "US-MO",
    "Montana": "US-MT",
    "Nebraska": "US-NE",
    "Nevada": "US-NV",
    "New Hampshire": "US-NH",
    "New Jersey": "US-NJ",
    "New Mexico": "US-NM",
    "New York": "US-NY",
    "North Carolina": "US-NC",
    "North Dakota": "US-ND",
    "Ohio": "US-OH",
    "Oklahoma": "US-OK",
    "Oregon": "US-OR",
    "Pennsylvania": "US-PA",
    "Rhode Island": "US-RI",
    "South Carolina": "US-SC",
    "South Dakota": "US-SD",
    "Tennessee": "US-TN",
    "Texas": "US-TX",
    "Utah": "US-UT",
    "Vermont": "US-VT",
    "Virginia": "US-VA",
    "Washington State": "US-WA",
    "Washington D.C.": "US-DC",
    "West Virginia": "US-WV",
    "Wisconsin": "US-WI",
    "Wyoming": "US-WY",
    "Alberta": "CA-AB",
    "British Columbia": "CA-BC",
    "British Colombia": "CA-BC",
    "Manitoba": "CA-MB",
    "New Brunswick": "CA-NB",
    "Newfoundland and Labrador": "CA-NL",
    "Northwest Territories": "CA-NT",
    "Nova Scotia": "CA-NS",
    "Nunavut": "CA-NU",
    "Ontario": "CA-ON",
    "Prince Edward Island": "CA-PE",
    "Quebec": "CA-QC",
    "Saskatchewan": "CA-SK",
    "Yukon": "CA-YT",
    # A town named without its province.
    "Watson Lake": "CA-YT",
}
_CITY_STATE = re.compile(r", ([A-Z]{2})$")


def zip_ranges() -> list[tuple[str, str, str, str]]:
    """(first ZIP, last ZIP, state, zone) runs over the sorted ZIPs that have a real zone."""
    import zipcodes  # the dev dependency: only this script needs it

    known_zones = zoneinfo.available_timezones()
    rows = []
    skipped: collections.Counter[str] = collections.Counter()
    for entry in sorted(zipcodes.list_all(), key=lambda z: z["zip_code"]):
        zone, state = entry["timezone"], entry["state"]
        if len(state) != 2 or state in ("AA", "AE", "AP"):
            # Military post offices (APO/FPO) are anywhere in the world.
            skipped["military or no state"] += 1
        elif zone not in known_zones:
            skipped["no valid zone"] += 1
        else:
            rows.append((entry["zip_code"], state, zone))
    print(f"zip: {len(rows)} ZIPs kept, skipped {dict(skipped)}", file=sys.stderr)
    ranges: list[tuple[str, str, str, str]] = []
    for code, state, zone in rows:
        if ranges and ranges[-1][2:] == (state, zone):
            ranges[-1] = (ranges[-1][0], code, state, zone)
        else:
            ranges.append((code, code, state, zone))
    return ranges


@functools.cache
def _listed_area_codes() -> set[str]:
    return {key[1:4] for key in (*GEOCODE_DATA, *TIMEZONE_DATA) if key.startswith("1")}


def _sample_number(npa: int) -> phonenumbers.PhoneNumber | None:
    # The first valid number in the area code tells its country and whether it is geographic.
    # Most area codes take any exchange; only those libphonenumber has data for are searched
    # exchange by exchange (Caribbean codes valid for a few exchanges), which keeps this fast.
    listed = str(npa) in _listed_area_codes()
    exchanges = range(200, 1000) if listed else (200, 234, 456, 555, 678, 789, 987)
    for exchange in exchanges:
        number = phonenumbers.PhoneNumber(
            country_code=1, national_number=int(f"{npa}{exchange}0100")
        )
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _regions_of(description: str, country: str) -> set[str]:
    regions = set()
    for part in description.split("/"):
        city = _CITY_STATE.search(part)
        if city:
            regions.add(f"{country}-{city.group(1)}")
        elif part in _NAMES:
            regions.add(_NAMES[part])
        else:
            raise SystemExit(f"no ISO 3166-2 code for libphonenumber's area name {part!r}")
    return regions


def _descriptions(npa: int) -> Iterator[str]:
    prefix = f"1{npa}"
    whole = GEOCODE_DATA.get(prefix, {}).get("en")
    if whole:
        yield whole
        return
    # No name for the whole area code: every name given to one of its exchanges.
    for key, names in GEOCODE_DATA.items():
        if key.startswith(prefix) and "en" in names:
            yield names["en"]


def area_codes() -> list[tuple[str, str, tuple[str, ...]]]:
    """(area code, country, regions) for every NANP area code in the US, Canada or a territory."""
    rows = []
    for npa in range(200, 1000):
        number = _sample_number(npa)
        if number is None:
            continue
        country = phonenumbers.region_code_for_number(number)
        if country in US_TERRITORIES:
            regions = {f"US-{country}"}
        elif country in ("US", "CA"):
            geographic = phonenumbers.is_number_type_geographical(
                phonenumbers.number_type(number), 1
            )
            regions = set()
            if geographic:
                for description in _descriptions(npa):
                    regions |= _regions_of(description, country)
                if not regions:
                    # recipient_zones reads an empty region list as "not geographic".
                    raise SystemExit(f"area code {npa}: geographic, but no area name")
        else:
            continue
        rows.append((str(npa), country, tuple(sorted(regions))))
    return rows


def cross_check(areas: Iterable[tuple[str, str, tuple[str, ...]]]) -> None:
    """Print the area codes whose state disagrees with the ZIP dataset's, for a human to judge."""
    import zipcodes

    states: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for entry in zipcodes.list_all():
        for code in entry["area_codes"]:
            states[code][f"US-{entry['state']}"] += 1
    for npa, country, regions in areas:
        if country == "US" and npa in states and regions:
            usual = states[npa].most_common(1)[0][0]
            if usual not in regions:
                print(f"area code {npa}: {regions} here, {usual} by ZIP", file=sys.stderr)


def country_zones() -> dict[str, list[str]]:
    """zone.tab's zones for each ISO country code, in the file's order."""
    text = (importlib.resources.files("tzdata.zoneinfo") / "zone.tab").read_text()
    zones: dict[str, list[str]] = collections.defaultdict(list)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, zone, *_ = line.split("\t")
            zones[country].append(zone)
    return dict(sorted(zones.items()))


def _write(name: str, header: str, lines: Iterable[str]) -> None:
    body = "".join(f"# {line}\n" for line in header.splitlines())
    body += "".join(f"{line}\n" for line in lines)
    (DATA_DIR / name).write_text(body)


def main() -> None:
    import tzdata
    import zipcodes

    generated = "Generated by `make place-data` (tests/support/place_data.py): do not edit."
    ranges = zip_ranges()
    _write(
        "us_zip_zones.tsv",
        f"{generated}\nFrom the zipcodes package {zipcodes.__version__} (MIT).\n"
        "first ZIP, last ZIP, state, IANA zone: every known ZIP in the range has them.",
        ("\t".join(row) for row in ranges),
    )
    areas = area_codes()
    cross_check(areas)
    _write(
        "nanp_area_codes.tsv",
        f"{generated}\nFrom libphonenumber's geocoding data, phonenumbers "
        f"{phonenumbers.__version__}.\n"
        "area code, country, ISO 3166-2 regions (comma-separated; empty: not geographic).",
        (f"{npa}\t{country}\t{','.join(regions)}" for npa, country, regions in areas),
    )
    zones = country_zones()
    _write(
        "country_zones.tsv",
        f"{generated}\nFrom zone.tab in the tzdata package {tzdata.__version__}.\n"
        "ISO 3166-1 country, its IANA zones (comma-separated).",
        (f"{country}\t{','.join(names)}" for country, names in zones.items()),
    )
    print(f"{len(ranges)} ZIP ranges, {len(areas)} area codes, {len(zones)} countries")


if __name__ == "__main__":
    main()
