"""The mock carrier's Twilio-compatible REST API: POST /2010-04-01/Accounts/{sid}/Calls.json.

It checks what Twilio checks (basic auth, the account in the path, To, From, Url or Twiml)
and answers as Twilio does: 201 with the call resource, or an error document with Twilio's
code. What happens to a placed call is the carrier's configured behaviour, reported through
signed status callbacks.
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import encode_basic_auth, web

from services.telephony_mock.carrier import Accepted
from services.telephony_mock.http_api import CARRIER

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})


class TwilioAccount:
    def __init__(self, account_sid: str | None, auth_token: str | None) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid and self.auth_token)


TWILIO_ACCOUNT: web.AppKey[TwilioAccount] = web.AppKey("twilio_account", TwilioAccount)


def twilio_error(status: int, code: int, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
        headers=headers,
    )


def _authorised(request: web.Request, account: TwilioAccount) -> bool:
    expected = encode_basic_auth(account.account_sid or "", account.auth_token or "")
    return hmac.compare_digest(request.headers.get("Authorization", ""), expected)


def _events(values: list[str]) -> frozenset[str]:
    # Twilio takes the events repeated, or space-separated in one value.
    return frozenset(event for value in values for event in value.split())


def _our_ids(status_callback: str | None) -> dict[str, str | None]:
    """The call, attempt and campaign the StatusCallback URL names, for the mock's records."""
    query = parse_qs(urlsplit(status_callback or "").query)

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    return {
        "call_id": first("callId"),
        "attempt_no": first("attemptNo"),
        "campaign": first("campaignId"),
    }


async def create_call(request: web.Request) -> web.Response:
    account = request.app[TWILIO_ACCOUNT]
    if not account.enabled:
        return twilio_error(
            404,
            20404,
            "the mock's Twilio API is off: set VCS_TWILIO_ACCOUNT_SID and VCS_TWILIO_AUTH_TOKEN",
        )
    if not _authorised(request, account):
        return twilio_error(
            401, 20003, "Authenticate", **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
        )
    if request.match_info["account_sid"] != account.account_sid:
        return twilio_error(404, 20404, "The requested resource was not found")
    form = await request.post()
    to = str(form.get("To", "")).strip()
    caller = str(form.get("From", "")).strip()
    if not to:
        return twilio_error(400, 21201, "No 'To' number is specified")
    if not caller:
        return twilio_error(400, 21213, "No 'From' number is specified")
    if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        return twilio_error(400, 21205, "Url parameter is required")
    if not E164.match(to):
        return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    method = str(form.get("StatusCallbackMethod", "POST")).upper()
    if method != "POST":
        return twilio_error(400, 21609, "the mock sends status callbacks by POST only")
    events = _events([str(v) for v in form.getall("StatusCallbackEvent", [])])
    if unknown := events - EVENTS:
        return twilio_error(400, 21626, f"Invalid StatusCallbackEvent: {' '.join(sorted(unknown))}")
    status_callback = str(form["StatusCallback"]) if form.get("StatusCallback") else None
    ids = _our_ids(status_callback)
    attempt_no = ids["attempt_no"]
    carrier = request.app[CARRIER]
    outcome = carrier.dial(
        phone_number=to,
        idempotency_key=None,
        campaign_id=ids["campaign"],
        call_id=ids["call_id"],
        attempt_no=int(attempt_no) if attempt_no and attempt_no.isdigit() else None,
        channel="twilio",
        status_callback=status_callback,
        callback_events=events,
        machine_detection=bool(form.get("MachineDetection")),
    )
    if not isinstance(outcome, Accepted):
        if outcome.status_code == 429:
            return twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "1"})
        if outcome.transient:
            return twilio_error(503, 20503, "Service Unavailable")
        return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    return web.json_response(
        _call_resource(account, outcome.external_call_id, to, caller), status=201
    )


async def update_call(request: web.Request) -> web.Response:
    """POST to a call's resource: Status=completed hangs a live call up, as Twilio does (and
    leaves a call that has ended as it was). The mock takes no other change."""
    account = request.app[TWILIO_ACCOUNT]
    if not account.enabled or request.match_info["account_sid"] != account.account_sid:
        return twilio_error(404, 20404, "The requested resource was not found")
    if not _authorised(request, account):
        return twilio_error(
            401, 20003, "Authenticate", **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
        )
    form = await request.post()
    status = str(form.get("Status", ""))
    if status not in ("completed", "canceled"):
        return twilio_error(400, 21220, f"the mock takes only Status=completed, not {status!r}")
    sid = request.match_info["call_sid"]
    carrier = request.app[CARRIER]
    record = next((r for r in carrier.records if r.external_call_id == sid), None)
    if record is None:
        return twilio_error(404, 20404, "The requested resource was not found")
    carrier.hang_up(sid)
    resource = _call_resource(account, sid, record.phone_number, "")
    return web.json_response({**resource, "status": "completed"})


def _call_resource(account: TwilioAccount, sid: str, to: str, caller: str) -> dict[str, Any]:
    now = format_datetime(datetime.now(UTC), usegmt=True)
    return {
        "sid": sid,
        "account_sid": account.account_sid,
        "api_version": API_VERSION,
        "to": to,
        "to_formatted": to,
        "from": caller,
        "from_formatted": caller,
        "status": "queued",
        "direction": "outbound-api",
        "date_created": now,
        "date_updated": now,
        "uri": f"/{API_VERSION}/Accounts/{account.account_sid}/Calls/{sid}.json",
    }


async def twiml(_: web.Request) -> web.Response:
    """What a call placed through the mock 'plays': a TwiML document for VCS_TWILIO_TWIML_URL."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>This is a test call.</Say></Response>'
    )
    return web.Response(text=body, content_type="application/xml")


def add_twilio_routes(app: web.Application, account: TwilioAccount) -> None:
    """Serve Twilio's Calls API for `account` beside the mock's own (create_app's) API."""
    app[TWILIO_ACCOUNT] = account
    app.router.add_post(f"/{API_VERSION}/Accounts/{{account_sid}}/Calls.json", create_call)
    app.router.add_post(
        f"/{API_VERSION}/Accounts/{{account_sid}}/Calls/{{call_sid:CA[0-9a-f]{{32}}}}.json",
        update_call,
    )
    app.router.add_route("*", "/mock/twiml", twiml)
