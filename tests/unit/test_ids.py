"""Client-made row ids: UUIDv7 as RFC 9562 lays it out, ascending within a batch."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.db.ids import time_ordered_ids


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=9000),
    now_ns=st.integers(min_value=0, max_value=(2**48 - 10) * 1_000_000),
)
def test_ids_are_version_7_ascending_and_carry_the_millisecond(count: int, now_ns: int) -> None:
    ids = [uuid.UUID(str(i)) for i in time_ordered_ids(count, now_ns=now_ns)]
    assert len(set(ids)) == count
    assert ids == sorted(ids)
    now_ms = now_ns // 1_000_000
    for index, made in enumerate(ids):
        assert made.version == 7 and made.variant == uuid.RFC_4122
        # 48 bits of milliseconds, then the version, then a 12-bit counter that carries.
        assert made.int >> 80 == now_ms + index // 4096
        assert (made.int >> 64) & 0xFFF == index % 4096


def test_the_random_bits_differ_between_batches() -> None:
    first, second = time_ordered_ids(50, now_ns=0), time_ordered_ids(50, now_ns=0)
    assert not set(map(str, first)) & set(map(str, second))
