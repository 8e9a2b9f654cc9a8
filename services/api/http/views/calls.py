"""Call endpoints: one call outside any campaign, a call's status, and provider callbacks."""

from __future__ import annotations

from aiohttp import web

from services.api.http import idempotency, twilio_callback
from services.api.http.context import BROKER, METRICS, POOL, SETTINGS
from services.api.http.request_io import json_body, path_id
from services.api.operations import calls as call_ops
from services.api.schemas import CallbackIn, SingleCallCreate
from shared.errors import PermanentError, Unauthorized, UnsupportedMediaType
from shared.signatures import SIGNATURE_HEADER, is_valid
from shared.twilio_protocol import CALLBACK_PATH

routes = web.RouteTableDef()

FORM = "application/x-www-form-urlencoded"


@routes.post("/api/v1/calls")
async def create_call(request: web.Request) -> web.Response:
    raw = await request.read()
    body = SingleCallCreate.model_validate_json(raw)
    request.app[BROKER].require_ready()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        claim = await idempotency.begin(conn, request, raw)
        if isinstance(claim, idempotency.Replay):
            return claim.response()
        call, campaign_id = await call_ops.place_single_call(conn, request.app[SETTINGS], body)
        location = f"/api/v1/calls/{call.id}"
        if claim is not None:
            await claim.record(201, call.model_dump(mode="json", by_alias=True), location)
    await call_ops.announce_single_call(request.app[BROKER], campaign_id)
    return json_body(call, 201, headers={"Location": location})


@routes.post("/api/v1/calls/callback")
async def provider_callback(request: web.Request) -> web.Response:
    """A provider's result, signed: X-Signature = HMAC-SHA256 of the raw body."""
    secret = request.app[SETTINGS].callback_secret
    raw = await request.read()
    if secret is None:
        raise Unauthorized("callbacks are refused: VCS_CALLBACK_SECRET is not configured")
    if not is_valid(secret, raw, request.headers.get(SIGNATURE_HEADER)):
        raise Unauthorized(f"missing or wrong {SIGNATURE_HEADER} for this body")
    body = CallbackIn.model_validate_json(raw)
    app = request.app
    result = await call_ops.apply_callback(app[POOL], app[BROKER], body, app[METRICS])
    return json_body(result)


@routes.post(CALLBACK_PATH)
async def twilio_status_callback(request: web.Request) -> web.Response:
    """Twilio's status callback, form-encoded and signed with X-Twilio-Signature."""
    settings = request.app[SETTINGS]
    if request.content_type != FORM:
        raise UnsupportedMediaType(f"a status callback is posted as {FORM}")
    try:
        form = await request.post()
    except ValueError as exc:
        raise PermanentError("the form could not be read") from exc
    params = [(name, value) for name, value in form.items() if isinstance(value, str)]
    twilio_callback.check_signature(request, settings, params)
    callback = twilio_callback.TwilioStatusCallback.model_validate(dict(params))
    target = twilio_callback.CallbackTarget.model_validate(dict(request.query))
    app = request.app
    report = twilio_callback.provider_report(callback, target)
    result = await call_ops.apply_report(app[POOL], app[BROKER], report, app[METRICS])
    return json_body(result)


# Only ids that look like UUIDs, so that /api/v1/calls/callback is never taken for a call.
@routes.get(
    r"/api/v1/calls/{id:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}}"
)
async def get_call(request: web.Request) -> web.Response:
    call = await call_ops.get_call(request.app[POOL], path_id(request, what="call"))
    return json_body(call)
