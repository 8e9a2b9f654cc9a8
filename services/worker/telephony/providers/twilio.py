"""A carrier that speaks Twilio's Programmable Voice REST API (or a compatible one).

A call is one form POST to {base}/2010-04-01/Accounts/{AccountSid}/Calls.json; the answer's
`sid` is the call's external id. Its progress and result come later as signed status callbacks
to the api (POST /api/v1/calls/callback/twilio), whose URL names the attempt, so a callback is
matched to its attempt even before this adapter has recorded the sid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp

from services.worker.telephony.base import (
    DialRequest,
    HangUpRequest,
    ProviderConfigError,
    ProviderContext,
)
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from shared.settings import Settings
from shared.twilio_protocol import CALLBACK_PATH

API_VERSION = "2010-04-01"
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
#: Answers that blame our account or endpoint, not the number: not placed, and worth a pause.
ACCOUNT_ERRORS = frozenset({401, 403, 404})


@dataclass(frozen=True)
class TwilioConfig:
    base_url: str
    account_sid: str
    auth_token: str
    caller_id: str
    twiml_url: str | None
    twiml: str | None
    ring_timeout_s: int
    #: Twilio's MachineDetection mode for campaigns that detect machines.
    machine_detection: str
    public_base_url: str
    request_timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioConfig:
        missing = [
            name
            for name, value in (
                ("VCS_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                ("VCS_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                ("VCS_TWILIO_FROM", settings.twilio_from),
                ("VCS_PUBLIC_BASE_URL", settings.public_base_url),
            )
            if not value
        ]
        if not (settings.twilio_twiml_url or settings.twilio_twiml):
            missing.append("VCS_TWILIO_TWIML_URL (or VCS_TWILIO_TWIML)")
        if missing:
            raise ProviderConfigError(f"the twilio provider needs {', '.join(missing)}")
        assert settings.twilio_account_sid and settings.twilio_auth_token
        assert settings.twilio_from and settings.public_base_url
        return cls(
            base_url=settings.twilio_base_url.rstrip("/"),
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            caller_id=settings.twilio_from,
            twiml_url=settings.twilio_twiml_url,
            twiml=settings.twilio_twiml,
            ring_timeout_s=settings.twilio_ring_timeout_s,
            machine_detection=settings.twilio_machine_detection,
            public_base_url=settings.public_base_url.rstrip("/"),
            request_timeout_s=settings.dial_timeout_ms / 1000,
        )

    @property
    def calls_url(self) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/Calls.json"

    def call_url(self, call_sid: str) -> str:
        """The call resource, which a POST updates (Status=completed hangs up)."""
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/Calls/{call_sid}.json"

    def status_callback_url(self, request: DialRequest) -> str:
        query = urlencode(
            {
                "callId": str(request.call_id),
                "attemptNo": request.attempt_no,
                "campaignId": str(request.campaign_id),
            }
        )
        return f"{self.public_base_url}{CALLBACK_PATH}?{query}"

    def call_form(self, request: DialRequest) -> list[tuple[str, str]]:
        """The Calls.json form; StatusCallbackEvent is repeated, one event each, as Twilio's
        own libraries send it."""
        form = [
            ("To", request.phone_number),
            ("From", self.caller_id),
            ("StatusCallback", self.status_callback_url(request)),
            ("StatusCallbackMethod", "POST"),
            ("Timeout", str(self.ring_timeout_s)),
        ]
        form += [("StatusCallbackEvent", event) for event in STATUS_CALLBACK_EVENTS]
        if request.machine_detection:
            # Only for campaigns that ask: detection costs a few seconds of each answer.
            form.append(("MachineDetection", self.machine_detection))
        form.append(("Url", self.twiml_url) if self.twiml_url else ("Twiml", self.twiml or ""))
        return form


def carrier_message(body: bytes) -> str:
    """Twilio's error document as one line: `21211: The 'To' number ... is not valid.`"""
    try:
        document = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace").strip() or "no explanation"
    if not isinstance(document, dict):
        return "no explanation"
    message = str(document.get("message") or "no explanation")
    code = document.get("code")
    return f"{code}: {message}" if code else message


def seconds_to_wait(retry_after: str | None) -> float | None:
    """A Retry-After header in seconds (the only form Twilio sends); None if absent or not."""
    try:
        return max(float(retry_after), 0.0) if retry_after else None
    except ValueError:
        return None


def call_sid_from(status: int, body: bytes, retry_after: str | None = None) -> str:
    """The call's sid from the carrier's answer, or the error that answer means."""
    if status in (200, 201):
        try:
            sid = json.loads(body).get("sid")
        except (ValueError, AttributeError):
            sid = None
        if not isinstance(sid, str) or not sid:
            # The carrier took the request, and perhaps placed the call: never ask again.
            raise ProviderOutcomeUnknown(f"carrier answered {status} without a call sid")
        return sid
    message = carrier_message(body)
    if status == 429 or status >= 500:
        raise ProviderUnavailable(
            f"carrier answered {status}: {message}", retry_after_s=seconds_to_wait(retry_after)
        )
    if status in ACCOUNT_ERRORS:
        raise ProviderUnavailable(f"carrier refused our account ({status}): {message}")
    if 400 <= status < 500:
        raise ProviderRejected(message, status_code=status)
    raise ProviderUnavailable(f"carrier answered {status}: {message}")


class TwilioProvider:
    name = "twilio"

    def __init__(self, session: aiohttp.ClientSession, config: TwilioConfig) -> None:
        self._session = session
        self._config = config
        self._headers = {
            "Authorization": aiohttp.encode_basic_auth(config.account_sid, config.auth_token)
        }

    async def place_call(self, request: DialRequest) -> str:
        timeout = aiohttp.ClientTimeout(
            total=self._config.request_timeout_s,
            sock_connect=min(self._config.request_timeout_s, 5.0),
        )
        try:
            async with self._session.post(
                self._config.calls_url,
                data=self._config.call_form(request),
                headers=self._headers,
                timeout=timeout,
            ) as response:
                body = await response.read()
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            # No connection was made, so no request left: safe to try again.
            raise ProviderUnavailable(f"carrier unreachable: {exc}") from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise ProviderUnavailable("carrier did not accept a connection in time") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have reached the carrier: the call may be ringing.
            raise ProviderOutcomeUnknown(f"no answer to the dial request: {exc!r}") from exc
        return call_sid_from(response.status, body, retry_after)

    async def hang_up(self, request: HangUpRequest) -> None:
        """POST Status=completed to the call: Twilio ends a live call at once (and one that
        has ended stays as it was)."""
        timeout = aiohttp.ClientTimeout(total=self._config.request_timeout_s)
        try:
            async with self._session.post(
                self._config.call_url(request.external_call_id),
                data=[("Status", "completed")],
                headers=self._headers,
                timeout=timeout,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(f"hang-up not sent: {exc!r}") from exc
        if response.status not in (200, 201):
            message = carrier_message(body)
            if response.status == 429 or response.status >= 500:
                raise ProviderUnavailable(f"carrier answered {response.status}: {message}")
            raise ProviderRejected(message, status_code=response.status)


def check(settings: Settings) -> None:
    TwilioConfig.from_settings(settings)


@asynccontextmanager
async def connect(context: ProviderContext) -> AsyncIterator[TwilioProvider]:
    config = TwilioConfig.from_settings(context.settings)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, raise_for_status=False) as session:
        yield TwilioProvider(session, config)
