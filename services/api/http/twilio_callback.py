"""Twilio's status callbacks: the form it posts, checked against its signature and read as a
ProviderReport for the same idempotent result handling as every other carrier's."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from shared.domain.attempts import AttemptRef
from shared.domain.endings import ProviderReport
from shared.errors import Forbidden
from shared.messages.telephony import ProviderStatus
from shared.settings import Settings
from shared.twilio_protocol import SIGNATURE_HEADER, is_valid_twilio_signature

TwilioCallStatus = Literal[
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
]

_STATUS: dict[str, ProviderStatus] = {
    "queued": "QUEUED",
    "initiated": "INITIATED",
    "ringing": "RINGING",
    "in-progress": "IN_PROGRESS",
    "completed": "COMPLETED",
    "busy": "BUSY",
    "no-answer": "NO_ANSWER",
    "failed": "FAILED",
    "canceled": "CANCELLED",
}


class TwilioStatusCallback(BaseModel):
    """The fields we use of Twilio's status callback; it sends many more, which are ignored
    (but signed: the signature covers every field)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    call_sid: str = Field(alias="CallSid", min_length=1, max_length=64)
    call_status: TwilioCallStatus = Field(alias="CallStatus")
    call_duration: int | None = Field(None, alias="CallDuration", ge=0, le=86_400)
    sip_response_code: int | None = Field(None, alias="SipResponseCode", ge=100, le=699)
    answered_by: str | None = Field(
        None,
        alias="AnsweredBy",
        max_length=40,
        description="Who answered, with machine detection: human, machine_start,"
        " machine_end_beep, machine_end_silence, machine_end_other, fax or unknown",
    )


class CallbackTarget(BaseModel):
    """The attempt a callback is about, as our StatusCallback URL names it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    call_id: UUID | None = Field(None, alias="callId")
    attempt_no: int | None = Field(None, alias="attemptNo", ge=1, le=1_000_000)

    @property
    def ref(self) -> AttemptRef | None:
        if self.call_id is None or self.attempt_no is None:
            return None
        return AttemptRef(self.call_id, self.attempt_no)


def signed_url(request: web.Request, settings: Settings) -> str:
    """The URL the carrier posted to, as it signed it: behind a proxy the configured public
    base URL, not the address this socket was reached on."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + request.raw_path
    return str(request.url)


def check_signature(
    request: web.Request, settings: Settings, params: list[tuple[str, str]]
) -> None:
    if settings.twilio_auth_token is None:
        raise Forbidden("twilio callbacks are refused: VCS_TWILIO_AUTH_TOKEN is not configured")
    token = settings.twilio_auth_token.get_secret_value()
    signature = request.headers.get(SIGNATURE_HEADER)
    if not is_valid_twilio_signature(token, signed_url(request, settings), params, signature):
        raise Forbidden(f"missing or wrong {SIGNATURE_HEADER} for this URL and form")


def failure_reason(callback: TwilioStatusCallback) -> str | None:
    """`busy`, `no-answer (SIP 480)`: the carrier's word, with its SIP response when given."""
    if callback.call_status in ("completed", "queued", "initiated", "ringing", "in-progress"):
        return None
    if callback.sip_response_code is None:
        return callback.call_status
    return f"{callback.call_status} (SIP {callback.sip_response_code})"


def provider_report(callback: TwilioStatusCallback, target: CallbackTarget) -> ProviderReport:
    return ProviderReport(
        external_call_id=callback.call_sid,
        status=_STATUS[callback.call_status],
        ref=target.ref,
        duration_seconds=callback.call_duration if callback.call_status == "completed" else None,
        failure_reason=failure_reason(callback),
        answered_by=callback.answered_by,
        sip_response_code=callback.sip_response_code,
    )
