"""check_contacts: numbers validated and placed in one pass, bad zones reported by field."""

from __future__ import annotations

from shared.domain.contacts import check_contacts, timezone_attribute


def test_valid_numbers_get_their_place_and_invalid_ones_a_reason() -> None:
    valid, invalid, places = check_contacts(
        ["(212) 555-0123", "nonsense", "+13105550123"], None, "US"
    )
    assert [(i, n, places[p].zones, places[p].source) for i, n, p in valid] == [
        (0, "+12125550123", ("America/New_York",), "area_code"),
        (2, "+13105550123", ("America/Los_Angeles",), "area_code"),
    ]
    assert [(i, field) for i, _, field in invalid] == [(1, None)]


def test_attributes_come_first_and_an_unknown_zone_names_its_attribute() -> None:
    numbers = ["+13105550123", "+13105550124", "+13105550125", "bad"]
    attributes = [{"Time_Zone": "America/Chicago"}, {"TZ": "Mars/Base"}, None, {"tz": "Nope/No"}]
    valid, invalid, places = check_contacts(numbers, attributes, "US")
    assert [(i, places[p].zones, places[p].source) for i, _, p in valid] == [
        (0, ("America/Chicago",), "attribute_timezone"),
        (2, ("America/Los_Angeles",), "area_code"),
    ]
    # A bad number is reported as such before its attributes are read.
    assert [(i, field) for i, _, field in invalid] == [(1, "TZ"), (3, None)]
    assert "Mars/Base" in invalid[0][1]


def test_the_attribute_is_found_by_its_value() -> None:
    assert timezone_attribute({"name": "x", "timeZone": " Mars/Base "}, "Mars/Base") == "timeZone"
    assert timezone_attribute(None, "Mars/Base") == "timezone"


def test_numbers_of_a_prefix_share_one_place() -> None:
    numbers = ["+12125550123", "+12125550124", "+13105550123", "+12125550125"]
    valid, _, places = check_contacts(numbers, None, "US")
    assert [slot for _, _, slot in valid] == [0, 0, 1, 0] and len(places) == 2
