"""Each recipient's candidate zones and regions: attribute, ZIP, area code, country, unknown."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers.tzdata import TIMEZONE_DATA

from shared.domain import place_tables
from shared.domain.recipient_zones import (
    InvalidTimeZone,
    RecipientPlace,
    recipient_place,
    recipient_places,
)
from tests.support import place_data

US_STATES_AND_DC = 51


def place(number: str, attributes: dict[str, object] | None = None) -> RecipientPlace:
    # Every number here is one ingestion would accept: the place is only asked of those.
    assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    return recipient_place(number, attributes)


def offsets(zone: str) -> list[float]:
    """UTC offsets (hours) in winter and summer, to compare zones by their rules today."""
    tz = zoneinfo.ZoneInfo(zone)
    instants = [datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC)]
    return [instant.astimezone(tz).utcoffset().total_seconds() / 3600 for instant in instants]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("number", "zone", "region"),
    [
        ("+12127361234", "America/New_York", "US-NY"),
        ("+13235550123", "America/Los_Angeles", "US-CA"),
        ("+13122851234", "America/Chicago", "US-IL"),
        ("+18089231234", "Pacific/Honolulu", "US-HI"),
        ("+16022551234", "America/Phoenix", "US-AZ"),
    ],
    ids=["new-york", "los-angeles", "chicago", "honolulu", "phoenix"],
)
def test_us_cities_by_area_code(number: str, zone: str, region: str) -> None:
    assert place(number) == RecipientPlace((zone,), (region,), "US", "area_code")


def test_phoenix_has_no_daylight_saving_time() -> None:
    (zone,) = place("+16022551234").zones
    assert offsets(zone) == [-7.0, -7.0]
    assert offsets("America/Denver") == [-7.0, -6.0]


def test_anchorage_gets_alaska_time() -> None:
    # libphonenumber files most Alaskan exchanges under America/Juneau, whose rules are
    # Anchorage's since 1983; the area code's default lists the Aleutians too.
    alaska = place("+19072761234")
    assert alaska.regions == ("US-AK",)
    assert all(offsets(zone) == offsets("America/Anchorage") for zone in alaska.zones)
    assert place("+12125550123", {"zip": "99501"}).zones == ("America/Anchorage",)


def test_indiana_is_split_by_exchange() -> None:
    evansville, bloomington = place("+18124221234"), place("+18123321234")
    assert evansville.zones == ("America/Chicago",)
    assert bloomington.zones == ("America/New_York",)
    assert evansville.regions == bloomington.regions == ("US-IN",)
    assert place("+12198811234").zones == ("America/Chicago",)  # Gary, in the Chicago area
    assert place("+13172321234").zones == ("America/New_York",)  # Indianapolis


def test_an_area_code_spanning_two_zones_keeps_both() -> None:
    assert place("+17012011234") == RecipientPlace(
        ("America/Denver", "America/North_Dakota/Center"), ("US-ND",), "US", "area_code"
    )
    assert place("+19072001234").zones == ("America/Adak", "America/Anchorage")


def test_canada_by_area_code() -> None:
    assert place("+14163611234") == RecipientPlace(
        ("America/Toronto",), ("CA-ON",), "CA", "area_code"
    )
    assert place("+16046811234").regions == ("CA-BC",)
    assert place("+16046811234").zones == ("America/Vancouver",)


def test_us_territories_and_the_rest_of_the_nanp() -> None:
    assert place("+17877221234") == RecipientPlace(
        ("America/Puerto_Rico",), ("US-PR",), "PR", "area_code"
    )
    assert place("+17877221234", {"zip": "00901"}).source == "postal_code"
    assert place("+12423221234") == RecipientPlace(("America/Nassau",), (), "BS", "country")


def test_uk_fixed_line_and_mobile() -> None:
    # The UK has one zone: where in it a number is does not matter.
    assert place("+442079460000") == RecipientPlace(("Europe/London",), (), "GB", "country")
    assert place("+447400123456") == RecipientPlace(("Europe/London",), (), "GB", "country")
    # Guernsey shares +44 but is a country (and zone) of its own.
    assert place("+447911123456").zones == ("Europe/Guernsey",)


def test_a_country_of_several_zones_by_prefix() -> None:
    assert place("+78123456789") == RecipientPlace(("Europe/Moscow",), (), "RU", "area_code")
    assert place("+61299999999").zones == ("Australia/Sydney",)
    # Australia's 08 area spans South and Western Australia.
    assert place("+61892345678").zones == ("Australia/Adelaide", "Australia/Perth")


def test_toll_free_gets_every_zone_and_state_of_its_country() -> None:
    toll_free = place("+18002752273")
    assert toll_free.source == "country"
    assert toll_free.country == "US"
    assert {"America/New_York", "America/Chicago", "Pacific/Honolulu"} <= set(toll_free.zones)
    # The US's own zones: not Guam's, Puerto Rico's or Bermuda's, which share +1.
    assert not {"Pacific/Guam", "America/Puerto_Rico", "Atlantic/Bermuda"} & set(toll_free.zones)
    assert len(toll_free.regions) == US_STATES_AND_DC
    assert {"US-CA", "US-FL", "US-DC"} <= set(toll_free.regions)


def test_zip_takes_precedence_over_the_area_code() -> None:
    new_york_number = "+12127361234"
    assert place(new_york_number, {"zip": "90012"}) == RecipientPlace(
        ("America/Los_Angeles",), ("US-CA",), "US", "postal_code"
    )
    assert place(new_york_number, {"postalCode": "90012-3456"}).zones == ("America/Los_Angeles",)
    assert place(new_york_number, {"postal_code": 60601}).zones == ("America/Chicago",)
    # A spreadsheet dropped Boston's leading zero.
    assert place(new_york_number, {"zip": "2134"}).regions == ("US-MA",)


def test_a_zip_it_cannot_place_falls_back_to_the_number() -> None:
    for unusable in ("00000", "abcde", "123", "", "SW1A 1AA"):
        assert place("+13122851234", {"zip": unusable}).source == "area_code", unusable


def test_a_zip_is_read_only_for_numbers_of_the_us() -> None:
    # 10115 is Berlin's postcode as well as a New York ZIP.
    berlin = place("+493012345678", {"postalCode": "10115"})
    assert berlin.country == "DE"
    assert "Europe/Berlin" in berlin.zones
    assert place("+14163611234", {"zip": "90012"}).zones == ("America/Toronto",)


def test_an_explicit_zone_takes_precedence_over_zip_and_number() -> None:
    chicago_number = "+13122851234"
    given_zone = place(chicago_number, {"timezone": "Europe/Paris", "zip": "90012"})
    # The zone is the contact's word; the state still comes from the ZIP.
    assert given_zone == RecipientPlace(("Europe/Paris",), ("US-CA",), "US", "attribute_timezone")
    assert place(chicago_number, {"tz": "Asia/Kathmandu"}).regions == ("US-IL",)


def test_zone_attribute_names_and_values_are_read_loosely() -> None:
    for key in ("timezone", "timeZone", "TimeZone", "time_zone", "tz"):
        assert place("+13122851234", {key: " america/denver "}).zones == ("America/Denver",)
    assert place("+13122851234", {"timezone": ""}).source == "area_code"


def test_an_invalid_zone_is_refused() -> None:
    with pytest.raises(InvalidTimeZone, match="'Mars/Olympus' is not an IANA time zone"):
        place("+13122851234", {"timezone": "Mars/Olympus"})
    with pytest.raises(InvalidTimeZone, match="contact 1: 'EST-ish'"):
        recipient_places([("+13122851234", None), ("+13122851234", {"tz": "EST-ish"})])


def test_numbers_it_cannot_place_are_unknown() -> None:
    unknown = RecipientPlace((), (), None, "unknown")
    assert recipient_place("+80012345678") == unknown  # international freephone
    assert recipient_place("not a number") == unknown
    # The contact's explicit zone still answers.
    assert recipient_place("not a number", {"tz": "UTC"}).zones == ("UTC",)


def test_batch_matches_one_by_one_and_shares_places_of_a_prefix() -> None:
    rows: list[tuple[str, dict[str, object] | None]] = [
        ("+12127361234", None),
        ("+12127369999", None),
        ("+13122851234", {"zip": "90012"}),
        ("+442079460000", {}),
    ]
    places = recipient_places(rows)
    assert places == [recipient_place(number, attributes) for number, attributes in rows]
    assert places[0] is places[1]


def test_the_tables_name_only_zones_zoneinfo_loads() -> None:
    starts, ranges = place_tables.zip_ranges()
    assert starts == sorted(starts)
    assert all(start <= last for start, (last, _, _) in zip(starts, ranges, strict=True))
    assert all(
        last < following for (last, _, _), following in zip(ranges, starts[1:], strict=False)
    )
    zones = {zone for _, _, zone in ranges}
    zones |= {zone for names in place_tables.country_zones().values() for zone in names}
    for zone in zones:
        zoneinfo.ZoneInfo(zone)
    assert len(place_tables.country_regions("CA")) == 13
    # Places pass libphonenumber's lists on as they are: zone-group keys need them sorted.
    assert all(list(zones) == sorted(set(zones)) for zones in TIMEZONE_DATA.values())


# Random valid numbers, from libphonenumber's example number of each region and type with
# its last digits replaced, and random NANP numbers.
_TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
]


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        area_code = draw(st.sampled_from(sorted(place_tables.nanp_areas())))
        number = phonenumbers.parse(
            f"+1{area_code}{draw(st.integers(200, 999))}{draw(st.integers(0, 9999)):04d}"
        )
    else:
        region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
        example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(_TYPES)))
        assume(example is not None)
        assert example is not None
        national = str(example.national_number)
        tail = draw(st.integers(0, 999))
        digits = national[:-3] + f"{tail:03d}" if len(national) > 4 else national
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
    assume(phonenumbers.is_valid_number(number))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=200, deadline=None)
@given(valid_numbers(), st.one_of(st.none(), st.integers(0, 99999).map(lambda z: f"{z:05d}")))
def test_every_zone_of_a_valid_number_is_a_zone_zoneinfo_loads(
    number: str, zip_code: str | None
) -> None:
    result = recipient_place(number, {"zip": zip_code} if zip_code else None)
    for zone in result.zones:
        zoneinfo.ZoneInfo(zone)
    assert result.zones == tuple(sorted(set(result.zones)))
    assert result.regions == tuple(sorted(set(result.regions)))
    assert result.country == phonenumbers.region_code_for_number(phonenumbers.parse(number))
    assert (result.source == "unknown") == (not result.zones)
    assert all(region.split("-")[0] in ("US", "CA") for region in result.regions)


def test_the_committed_area_code_and_country_tables_are_current() -> None:
    # They follow the pinned phonenumbers and tzdata: after a bump, run `make place-data`.
    committed = {
        code: (country, regions)
        for code, (country, _, regions) in place_tables.nanp_areas().items()
    }
    assert committed == {
        code: (country, regions) for code, country, regions in place_data.area_codes()
    }
    generated = {country: tuple(zones) for country, zones in place_data.country_zones().items()}
    assert place_tables.country_zones() == generated


def test_area_names_become_iso_codes() -> None:
    assert place_data._regions_of("San Antonio, TX", "US") == {"US-TX"}
    assert place_data._regions_of("Nova Scotia/Prince Edward Island", "CA") == {"CA-NS", "CA-PE"}
    with pytest.raises(SystemExit, match="Atlantis"):
        place_data._regions_of("Atlantis", "US")
