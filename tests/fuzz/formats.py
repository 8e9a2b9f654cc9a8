"""What the API's document names as formats of its own, for schemathesis to generate: values
the server accepts, so that its "valid data is accepted" check means what it says.

Loaded by schemathesis as a hooks module (SCHEMATHESIS_HOOKS=tests.fuzz.formats).
"""

from __future__ import annotations

import base64
import json
import uuid
import zoneinfo
from datetime import UTC, datetime
from typing import Any

import schemathesis
from hypothesis import strategies as st

from services.api.http.idempotency import HEADER, MAX_KEY_LENGTH
from tests.support.numbers import FUZZ_NUMBERS_FROM


def _cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# San Francisco numbers, +1 415 9xx-xxxx: valid in libphonenumber's plan, and apart from
# those the other tests dial (tests.support.numbers): the fuzzer puts numbers on the global
# do-not-call list, and a test's number found there would be cancelled at load.
schemathesis.openapi.format(
    "phone-number",
    st.integers(FUZZ_NUMBERS_FROM, 9_999_999).map(lambda n: f"+1415{n:07d}"),
)
schemathesis.openapi.format(
    "iana-time-zone", st.sampled_from(sorted(zoneinfo.available_timezones()))
)
# Positions as the lists' own cursors carry them; any position is a valid place to go on from.
schemathesis.openapi.format(
    "campaigns-cursor",
    st.builds(
        lambda at, campaign_id: _cursor({"c": at.isoformat(), "i": str(campaign_id)}),
        st.datetimes(min_value=datetime(2020, 1, 1), timezones=st.just(UTC)),
        st.uuids(),
    ),
)
schemathesis.openapi.format(
    "calls-cursor", st.integers(0, 2**62).map(lambda seq: _cursor({"s": seq}))
)


@schemathesis.hook
def map_headers(ctx: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """A valid Idempotency-Key is made unique to its request. The API replays the first answer
    to a key and body for as long as it keeps it, as it must, even when a later step deleted
    what the first request created; a fuzzer that draws a key and body twice would then see a
    "created" campaign that is gone (the stateful check ST302). Invalid keys (blank, too long)
    go as drawn, to be refused; tests/integration holds replays to their rules."""
    if not headers:
        return headers
    key = headers.get(HEADER)
    if isinstance(key, str) and key.strip() and len(key) <= MAX_KEY_LENGTH:
        headers[HEADER] = str(uuid.uuid4())
    return headers
