"""The tables recipient_zones reads, from shared/domain/data/ (see `make place-data`).

Each is read once, on first use: importing this module reads nothing.
"""

from __future__ import annotations

import functools
import importlib.resources
import zoneinfo


def _data_lines(name: str) -> list[list[str]]:
    text = (importlib.resources.files("shared.domain") / "data" / name).read_text("utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def zip_ranges() -> tuple[list[str], list[tuple[str, str, str]]]:
    """(sorted first ZIPs, their (last ZIP, state, zone)): a ZIP is in the range bisect finds."""
    rows = _data_lines("us_zip_zones.tsv")
    return [row[0] for row in rows], [(row[1], row[2], row[3]) for row in rows]


@functools.cache
def nanp_areas() -> dict[str, tuple[str, bool, tuple[str, ...]]]:
    """Area code -> (country, geographic, regions); non-geographic codes have no regions."""
    areas = {}
    for area_code, country, regions in _data_lines("nanp_area_codes.tsv"):
        names = tuple(regions.split(",")) if regions else ()
        # US territories are geographic with their one region; US/CA codes with no region are
        # the toll-free, premium and personal codes.
        areas[area_code] = (country, bool(names), names)
    return areas


@functools.cache
def country_regions(country: str) -> tuple[str, ...]:
    """Every region the area code table knows for a country (the US states, the provinces)."""
    regions = {
        region
        for owner, _geographic, names in nanp_areas().values()
        if owner == country
        for region in names
    }
    return tuple(sorted(regions))


@functools.cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country -> its IANA zones, as zone.tab lists them."""
    return {country: tuple(zones.split(",")) for country, zones in _data_lines("country_zones.tsv")}


@functools.cache
def zone_names() -> dict[str, str]:
    """Every IANA zone name zoneinfo can load, by its lower-case spelling."""
    names = zoneinfo.available_timezones() - {"Factory", "localtime", "posixrules"}
    return {name.lower(): name for name in names}


#: Every table loader, for a benchmark that measures loading.
LOADERS = (zip_ranges, nanp_areas, country_regions, country_zones, zone_names)
