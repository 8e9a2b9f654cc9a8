"""Where a recipient is: the candidate IANA time zones and ISO 3166-2 regions of one number.

Computed once per number at ingestion and stored with the call; the calling rules read them
and never recompute them. The first source that answers wins:

1. ``attribute_timezone``: an explicit IANA zone in the contact's attributes (``timezone``,
   ``timeZone``, ``time_zone``, ``tz``; keys are matched ignoring case, ``_`` and ``-``). An
   unknown name raises InvalidTimeZone: a typo must not quietly become another zone.
2. ``postal_code``: a US ZIP (``zip``, ``zipCode``, ``postalCode``, ``postal_code``,
   ``postcode``), 5 digits or ZIP+4, read only for numbers of the US and its territories (a
   German "10115" is not a New York ZIP). Precision is the 5-digit ZIP: the committed table
   folds the ~42,000 ZIPs of the `zipcodes` dataset into a few hundred ranges of one state and
   one zone. A ZIP the table does not know falls through to the number.
3. ``area_code``: the number itself, through libphonenumber's time-zone prefixes (down to the
   exchange, NPA-NXX, in North America: Indiana's and Florida's splits are by exchange) and,
   for the US, Canada and the US territories, the committed area code -> state/province
   table. A prefix whose zones libphonenumber lists as several (907 Alaska, 701 North Dakota,
   Australia's 08) keeps them all; an exchange it does not list, in an area code it lists only
   by exchange (208 Idaho), gets every zone listed under that area code.
4. ``country``: every zone of the number's country (zone.tab), and for the US and Canada every
   state or province. This is what toll-free, premium, personal and other non-geographic
   numbers get, and mobiles of countries whose mobiles say nothing of where they are: the
   number is then callable only when every zone of its country allows it (fail closed: an
   800 number is dialled in the hours that are legal from Hawaii to New York). Numbers of a
   one-zone country (the UK, France) get its zone this way too, without a prefix lookup.
5. ``unknown``: no zone at all (a number that is not E.164, an international service number
   such as +800); the calling rules never dial those without a default zone.

Several zones or regions mean "any of these": the calling rules take the strictest. Both are
sorted and without repeats, so equal tuples can serve as a zone-group key. The
country is always the number's (libphonenumber's region code: "PR" for Puerto Rico, whose
state-level region is "US-PR"). Regions come from a ZIP when there is one (even beside an
explicit zone), else from the area code; they are known only for NANP numbers and US ZIPs,
and are empty elsewhere.

Numbers sharing a prefix share a place, so places are cached by prefix: by NPA-NXX in
North America (type and zones never depend on the last four digits there), elsewhere by the
first nine digits and the length (libphonenumber's longest time-zone prefix is nine digits).
"""

from __future__ import annotations

import bisect
import collections
import functools
from collections.abc import Iterable, Mapping
from typing import Literal, NamedTuple

import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from shared.domain.phone import parse_e164
from shared.domain.place_tables import (
    country_regions,
    country_zones,
    nanp_areas,
    zip_ranges,
    zone_names,
)

Source = Literal["attribute_timezone", "postal_code", "area_code", "country", "unknown"]

_TIMEZONE_KEYS = frozenset({"timezone", "tz"})
_POSTAL_KEYS = frozenset({"zip", "zipcode", "postalcode", "postcode"})
# Countries (libphonenumber region codes) whose numbers may come with a US ZIP.
_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})
_UNKNOWN_ZONE = "Etc/Unknown"
# Bounds the prefix cache (about 200 bytes an entry, places themselves are shared); more
# prefixes than a 100,000-number batch can bring, and a full cache simply starts again.
_CACHE_LIMIT = 200_000


class RecipientPlace(NamedTuple):
    """Candidate zones (IANA) and regions (ISO 3166-2), the country, and where they came from."""

    zones: tuple[str, ...]
    regions: tuple[str, ...]
    country: str | None
    source: Source


class InvalidTimeZone(ValueError):
    """An explicit time zone attribute that is not an IANA zone name; the message says which."""

    def __init__(self, value: str, index: int | None = None) -> None:
        where = f"contact {index}: " if index is not None else ""
        super().__init__(
            f"{where}{value!r} is not an IANA time zone name (for example 'America/Chicago')"
        )
        self.value = value
        self.index = index


_UNKNOWN = RecipientPlace((), (), None, "unknown")
# Places are shared by every number of a prefix: a plain dict rather than lru_cache, because a
# place is computed from a whole number but filed under its prefix.
_by_prefix: dict[str, RecipientPlace] = {}


def recipient_place(e164: str, attributes: Mapping[str, object] | None = None) -> RecipientPlace:
    """The place of one E.164 number, from its contact attributes first, else the number."""
    place = _number_place(e164)
    if not attributes:
        return place
    zone_text, postal_text = _location_attributes(attributes)
    if zone_text is None and postal_text is None:
        return place
    return _attributed_place(place, zone_text, postal_text)


def recipient_places(
    rows: Iterable[tuple[str, Mapping[str, object] | None]],
) -> list[RecipientPlace]:
    """recipient_place for each (e164, attributes); InvalidTimeZone names the failing row."""
    places = []
    for index, (e164, attributes) in enumerate(rows):
        try:
            places.append(recipient_place(e164, attributes))
        except InvalidTimeZone as exc:
            raise InvalidTimeZone(exc.value, index) from None
    return places


def is_location_attribute(name: str) -> bool:
    """Whether recipient_place reads an attribute of this name (a zone or a postal code)."""
    return _key(name) is not None


def location_attributes(attributes: Mapping[str, str] | None) -> dict[str, str] | None:
    """Only the attributes recipient_place reads (zone and postal code), or None if there are
    none: what a load sends to its validation processes instead of every column."""
    if not attributes:
        return None
    kept = {name: value for name, value in attributes.items() if _key(name) is not None}
    return kept or None


def clear_caches() -> None:
    """Forget every cached place (the tables stay loaded): for cold-cache benchmarks."""
    _by_prefix.clear()
    for cached in (_attributed_place, _country_place, _zip_place, _zone_name, _key):
        cached.cache_clear()


def _number_place(e164: str) -> RecipientPlace:
    nanp = e164.startswith("+1") and len(e164) == 12
    key = e164[:8] if nanp else f"{e164[:10]}/{len(e164)}"
    place = _by_prefix.get(key)
    if place is None:
        if len(_by_prefix) >= _CACHE_LIMIT:
            _by_prefix.clear()
        place = _by_prefix[key] = _nanp_place(e164) if nanp else _place_of_number(e164)
    return place


def _nanp_place(e164: str) -> RecipientPlace:
    # The table already says the country and kind of a US, Canadian or territory area code,
    # so only the zones are looked up (the commonest miss, kept cheap).
    area = nanp_areas().get(e164[2:5])
    if area is None:
        return _place_of_number(e164)
    country, geographic, regions = area
    if geographic:
        # 1 + NPA-NXX: the depth of the cache key, and of libphonenumber's NANP prefixes.
        zones = _zones_by_prefix(e164[1:8], 1) or _area_code_zones().get(e164[2:5])
        if zones:
            return RecipientPlace(zones, regions, country, "area_code")
    return _country_place(country, 1)


def _place_of_number(e164: str) -> RecipientPlace:
    number = parse_e164(e164)
    if number is None or number.country_code is None:
        return _UNKNOWN
    code = number.country_code
    country = phonenumbers.region_code_for_number(number)
    if not country or country == "ZZ":
        return _UNKNOWN
    if len(country_zones().get(country, ())) == 1:
        # Where in a one-zone country a number is cannot change its zone: this skips
        # number_type, the slow part, for most of the world.
        return _country_place(country, code)
    kind = phonenumbers.number_type(number)
    if phonenumbers.is_number_type_geographical(kind, code):
        zones = _zones_by_prefix(e164[1:], len(str(code)))
        if zones is None and code == 1:
            zones = _area_code_zones().get(e164[2:5])
        if zones:
            return RecipientPlace(zones, country_regions(country), country, "area_code")
    return _country_place(country, code)


def _zones_by_prefix(digits: str, country_code_length: int) -> tuple[str, ...] | None:
    # libphonenumber's time_zones_for_geographical_number, on the E.164 digits we already have,
    # stopping before the country-level entry: that one is answered by _country_place instead
    # (for +1 libphonenumber's lists every NANP zone, Guam and Bermuda included).
    for length in range(min(len(digits), TIMEZONE_LONGEST_PREFIX), country_code_length, -1):
        zones = TIMEZONE_DATA.get(digits[:length])
        if zones is not None:
            if _UNKNOWN_ZONE in zones:
                return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE) or None
            return zones
    return None


@functools.cache
def _area_code_zones() -> dict[str, tuple[str, ...]]:
    """Every zone libphonenumber lists under each NANP area code, for an exchange it does not
    list in an area code it has no default for (208 Idaho)."""
    zones: dict[str, set[str]] = collections.defaultdict(set)
    for key, names in TIMEZONE_DATA.items():
        if key.startswith("1") and len(key) >= 4:
            zones[key[1:4]].update(names)
    return {code: tuple(sorted(names - {_UNKNOWN_ZONE})) for code, names in zones.items()}


@functools.lru_cache(maxsize=65536)
def _attributed_place(
    place: RecipientPlace, zone_text: str | None, postal_text: str | None
) -> RecipientPlace:
    postal = _zip_place(postal_text) if place.country in _ZIP_COUNTRIES else None
    if zone_text is not None:
        zone = _zone_name(zone_text)
        regions = (postal[1],) if postal else place.regions
        return RecipientPlace((zone,), regions, place.country, "attribute_timezone")
    if postal is not None:
        return RecipientPlace((postal[0],), (postal[1],), place.country, "postal_code")
    return place


@functools.lru_cache(maxsize=512)
def _country_place(country: str, country_code: int) -> RecipientPlace:
    zones = country_zones().get(country)
    if zones is None:
        # A region zone.tab does not list (Kosovo, Ascension): libphonenumber's own list.
        listed = TIMEZONE_DATA.get(str(country_code), ())
        zones = tuple(zone for zone in listed if zone != _UNKNOWN_ZONE)
    if not zones:
        return _UNKNOWN
    return RecipientPlace(tuple(sorted(zones)), country_regions(country), country, "country")


@functools.lru_cache(maxsize=65536)
def _zip_place(value: str | None) -> tuple[str, str] | None:
    """(zone, region) of a US ZIP, ZIP+4 or a ZIP a spreadsheet stripped of its leading zero."""
    if value is None:
        return None
    digits = value.replace("-", "").replace(" ", "")
    if not digits.isdigit() or len(digits) not in (4, 5, 9):
        return None
    code = digits.zfill(5)[:5] if len(digits) == 4 else digits[:5]
    starts, ranges = zip_ranges()
    index = bisect.bisect_right(starts, code) - 1
    if index < 0:
        return None
    last, state, zone = ranges[index]
    return (zone, f"US-{state}") if code <= last else None


@functools.lru_cache(maxsize=4096)
def _zone_name(value: str) -> str:
    """The IANA spelling of a zone name given in any case, or InvalidTimeZone."""
    zone = zone_names().get(value.lower())
    if zone is None:
        raise InvalidTimeZone(value)
    return zone


def _location_attributes(attributes: Mapping[str, object]) -> tuple[str | None, str | None]:
    """The first non-empty zone attribute and postal attribute, as stripped text."""
    zone = postal = None
    for key, value in attributes.items():
        kind = _key(key)
        if kind is None or value is None or isinstance(value, bool):
            continue
        text = str(value).strip()
        if not text:
            continue
        if kind == "zone" and zone is None:
            zone = text
        elif kind == "postal" and postal is None:
            postal = text
    return zone, postal


@functools.lru_cache(maxsize=1024)
def _key(name: str) -> str | None:
    """What an attribute name names: "zone", "postal" (a ZIP) or None."""
    folded = name.lower().replace("_", "").replace("-", "")
    if folded in _TIMEZONE_KEYS:
        return "zone"
    return "postal" if folded in _POSTAL_KEYS else None
