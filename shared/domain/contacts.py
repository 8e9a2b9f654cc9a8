"""A list of contacts checked in one pass: each number validated and normalised to E.164, and
the place of each valid one resolved (shared/domain/recipient_zones.py).

A plain function of plain data, so that a process pool can run it on chunks: libphonenumber
and the place look-ups are pure Python, and a 100,000-number load spreads them over cores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from shared.domain.phone import InvalidPhoneNumber, normalize
from shared.domain.recipient_zones import InvalidTimeZone, RecipientPlace, recipient_place

#: (index, E.164, place): the place as its position in the list of distinct places.
ValidContact = tuple[int, str, int]
#: (index, reason, field): field is None when the number is at fault, else the attribute's name.
InvalidContact = tuple[int, str, str | None]


class CheckedContacts(NamedTuple):
    valid: list[ValidContact]
    invalid: list[InvalidContact]
    #: The distinct places of the valid contacts: a few per chunk, where numbers are many.
    places: list[RecipientPlace]


def check_contacts(
    numbers: Sequence[str],
    attributes: Sequence[Mapping[str, str] | None] | None,
    default_region: str,
) -> CheckedContacts:
    """Every valid contact with its place, and every invalid one with the reason.

    `attributes` is None when no contact has any, else one entry per number. An explicit time
    zone attribute that is not an IANA name makes the contact invalid: a typo must not become
    another zone, nor silently fall back to the number's.
    """
    valid: list[ValidContact] = []
    invalid: list[InvalidContact] = []
    places: list[RecipientPlace] = []
    # Numbers of a prefix share one place object: told apart by identity first, a place is
    # hashed (all its zones) once per prefix, not once per number; by value, prefixes of one
    # place share a slot, so a chunk sends back a few places, not one per prefix.
    by_identity: dict[int, int] = {}
    by_value: dict[RecipientPlace, int] = {}
    keep_alive: list[RecipientPlace] = []
    for index, raw in enumerate(numbers):
        try:
            number = normalize(raw, default_region)
        except InvalidPhoneNumber as exc:
            invalid.append((index, str(exc), None))
            continue
        attrs = attributes[index] if attributes is not None else None
        try:
            place = recipient_place(number, attrs)
        except InvalidTimeZone as exc:
            invalid.append((index, str(exc), timezone_attribute(attrs, exc.value)))
            continue
        slot = by_identity.get(id(place))
        if slot is None:
            slot = by_value.get(place)
            if slot is None:
                slot = by_value[place] = len(places)
                places.append(place)
            # `place` may be a fresh object (an attribute's place): kept alive, so that its id
            # is not reused by another while this chunk is checked.
            keep_alive.append(place)
            by_identity[id(place)] = slot
        valid.append((index, number, slot))
    return CheckedContacts(valid, invalid, places)


def timezone_attribute(attributes: Mapping[str, str] | None, value: str) -> str:
    """The name of the attribute that held the invalid zone `value` (for the error's field)."""
    for name, given in (attributes or {}).items():
        if isinstance(given, str) and given.strip() == value:
            return name
    return "timezone"


#: The attributes that bound when a contact may be called, compared without case.
NOT_BEFORE_ATTRIBUTE = "notbefore"
EXPIRES_AT_ATTRIBUTE = "expiresat"


class InvalidValidity(ValueError):
    """A notBefore or expiresAt attribute that is not an RFC 3339 instant, or that ends the
    contact's validity before it begins."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def contact_validity(
    attributes: Mapping[str, str] | None,
) -> tuple[datetime | None, datetime | None]:
    """(notBefore, expiresAt) of a contact: absent ones are None.

    An instant must carry its offset ("2026-12-24T09:00:00-05:00" or "...Z"): a bare local
    time would be read in some zone the customer did not name."""
    if not attributes:
        return None, None
    found: dict[str, tuple[str, datetime]] = {}
    for name, value in attributes.items():
        key = name.lower()
        if key not in (NOT_BEFORE_ATTRIBUTE, EXPIRES_AT_ATTRIBUTE):
            continue
        text = str(value).strip()
        if not text:
            continue
        try:
            instant = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidValidity(name, f"{name} {text!r} is not an RFC 3339 instant") from exc
        if instant.tzinfo is None:
            raise InvalidValidity(
                name, f"{name} {text!r} has no offset: give one (Z for UTC, or -05:00)"
            )
        found[key] = (name, instant)
    not_before = found.get(NOT_BEFORE_ATTRIBUTE)
    expires_at = found.get(EXPIRES_AT_ATTRIBUTE)
    if not_before and expires_at and expires_at[1] <= not_before[1]:
        raise InvalidValidity(expires_at[0], f"{expires_at[0]} must be after {not_before[0]}")
    return (not_before[1] if not_before else None), (expires_at[1] if expires_at else None)


def has_validity(names: Iterable[str]) -> bool:
    """Whether any of these attribute names is notBefore or expiresAt (in any case)."""
    return any(name.lower() in (NOT_BEFORE_ATTRIBUTE, EXPIRES_AT_ATTRIBUTE) for name in names)
