"""Results delivered as a carrier delivers them: a signed JSON POST to a callback URL, tried
again while the receiver answers 404 (it may not know the call yet), 429, 5xx or nothing."""

from __future__ import annotations

import json

import aiohttp

from services.telephony_mock.carrier import Result
from services.telephony_mock.delivery import post_until_taken
from shared.signatures import SIGNATURE_HEADER, sign

RETRIED_STATUSES = frozenset({404, 408, 429, 500, 502, 503, 504})


class HttpCallbacks:
    def __init__(self, session: aiohttp.ClientSession, secret: str | None) -> None:
        self._session = session
        self._secret = secret

    async def report(self, url: str, result: Result) -> None:
        record = result.record
        body = json.dumps(
            {
                "externalCallId": record.external_call_id,
                "status": result.status,
                "durationSeconds": result.duration_seconds,
                "failureReason": result.failure_reason,
                "answeredBy": result.answered_by,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        await post_until_taken(
            self._session, url, data=body, headers=headers, retried_statuses=RETRIED_STATUSES
        )
