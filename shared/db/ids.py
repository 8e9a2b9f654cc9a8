"""Row ids made by the client for bulk loads: UUIDv7 (RFC 9562), as the tables' default
time_ordered_uuid() makes them, at a fraction of its cost.

A load copies 100,000 calls in one backend, which is the critical path of an import; the
default costs that backend about 2 µs a row (gen_random_uuid's strong random bytes and the
bytea juggling of migration 0007): a fifth of its COPY. Here a row's id costs a third of a µs
on the api's loop. Layout: 48 bits of Unix milliseconds, the version, a 12-bit counter (rows
of one batch are ordered, so the primary key's index is still appended to), the variant, and
62 random bits from os.urandom. The ids are asyncpg's own UUID type, which it sends as bytes
without a conversion.
"""

from __future__ import annotations

import os
import time

from asyncpg.pgproto.pgproto import UUID

_COUNTER_BITS = 12
_VERSION_7 = 0x7 << _COUNTER_BITS
#: Every byte mapped to itself with the top two bits 10: RFC 9562's variant.
_WITH_VARIANT = bytes(0x80 | (b & 0x3F) for b in range(256))


def time_ordered_ids(count: int, *, now_ns: int | None = None) -> list[UUID]:
    """`count` distinct UUIDv7 ids in ascending order. Past 4,096 rows the counter carries
    into the millisecond, so a large batch's last ids are a few milliseconds ahead."""
    now_ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    head = (now_ms << 16) | _VERSION_7
    variants = os.urandom(count).translate(_WITH_VARIANT)
    random = os.urandom(7 * count)
    return [
        UUID(
            (head + ((i >> _COUNTER_BITS) << 16) + (i & 0xFFF)).to_bytes(8, "big")
            + variants[i : i + 1]
            + random[7 * i : 7 * i + 7]
        )
        for i in range(count)
    ]
