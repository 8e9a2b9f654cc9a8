"""Status callbacks as Twilio sends them: form-encoded POSTs to the call's StatusCallback URL,
signed with X-Twilio-Signature, one per event the dial request asked for, and always one for
the final status. Delivery is tried again while the receiver is unreachable or answers 5xx."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import structlog

from services.telephony_mock.carrier import DialRecord, Result
from services.telephony_mock.delivery import post_until_taken
from shared.twilio_protocol import SIGNATURE_HEADER, twilio_signature

log = structlog.get_logger()

API_VERSION = "2010-04-01"
_FINAL_STATUS = {
    "COMPLETED": "completed",
    "BUSY": "busy",
    "NO_ANSWER": "no-answer",
    "FAILED": "failed",
    "CANCELLED": "canceled",
}
#: The SIP response a real carrier reports with each final status.
_SIP_CODE = {"completed": 200, "busy": 486, "no-answer": 480, "failed": 500, "canceled": 487}
#: The StatusCallbackEvent that asks for each progress status.
_EVENT_OF_STATUS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
_RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class TwilioCallbacks:
    def __init__(self, session: aiohttp.ClientSession, account_sid: str, auth_token: str) -> None:
        self._session = session
        self._account_sid = account_sid
        self._auth_token = auth_token

    async def announce(self, record: DialRecord) -> None:
        """Progress right after the call is placed: initiated, then ringing (which a call whose
        callbacks go out of order sends only after its final status)."""
        await self._send_progress(record, "initiated")
        if not record.out_of_order:
            await self._send_progress(record, "ringing")

    async def report(self, result: Result) -> None:
        record = result.record
        if result.is_progress:
            # A machine answered and detection was asked for: said at once, with AnsweredBy.
            await self._send_progress(record, "in-progress", result)
            return
        final = _FINAL_STATUS[result.status]
        if result.repeat:
            await self._send(record, final, result)
            return
        if record.out_of_order:
            await self._send(record, final, result)
            await self._send_progress(record, "ringing")
            if final == "completed":
                await self._send_progress(record, "in-progress")
            return
        if final == "completed" and "in-progress" not in record.callbacks_sent:
            await self._send_progress(record, "in-progress")
        await self._send(record, final, result)

    async def _send_progress(
        self, record: DialRecord, status: str, answer: Result | None = None
    ) -> None:
        if _EVENT_OF_STATUS[status] in record.callback_events:
            await self._send(record, status, answer)

    async def _send(self, record: DialRecord, status: str, result: Result | None) -> None:
        url = record.status_callback
        if not url:
            return
        form = self._form(record, status, result)
        headers = {SIGNATURE_HEADER: twilio_signature(self._auth_token, url, form)}
        record.callbacks_sent.append(status)
        try:
            await post_until_taken(
                self._session, url, data=form, headers=headers, retried_statuses=_RETRIED_STATUSES
            )
        except Exception as exc:
            log.error("status callback not delivered", url=url, status=status, error=repr(exc))

    def _form(
        self, record: DialRecord, status: str, result: Result | None
    ) -> list[tuple[str, str]]:
        form = [
            ("AccountSid", self._account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", record.external_call_id or ""),
            ("CallStatus", status),
            ("CallbackSource", "call-progress-events"),
            ("Called", record.phone_number),
            ("Direction", "outbound-api"),
            ("SequenceNumber", str(len(record.callbacks_sent))),
            ("Timestamp", format_datetime(datetime.now(UTC), usegmt=True)),
            ("To", record.phone_number),
        ]
        if result is not None:
            sip = _SIP_CODE.get(status)
            if sip is not None:
                form.append(("SipResponseCode", str(sip)))
            if status == "completed":
                duration = str(result.duration_seconds or 0)
                form += [("CallDuration", duration), ("Duration", duration)]
            if result.answered_by:
                form.append(("AnsweredBy", result.answered_by))
        return form
