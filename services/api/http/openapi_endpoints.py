"""Every endpoint of the OpenAPI document, described once: its method and path, a stable
operationId, its parameters, bodies and the errors it can answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from services.api.eligibility_schemas import EligibilityOut, InventoryOut
from services.api.forecast_schemas import ForecastOut
from services.api.http.pagination import (
    CALL_PAGE_SIZE,
    CAMPAIGN_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    SUPPRESSION_PAGE_SIZE,
    WEBHOOK_PAGE_SIZE,
)
from services.api.http.twilio_callback import TwilioStatusCallback
from services.api.schemas import (
    CallbackIn,
    CallbackOut,
    CallOut,
    CampaignCreate,
    CampaignCreated,
    CampaignOut,
    CampaignPatch,
    ImportBatch,
    ImportResult,
    SingleCallCreate,
)
from services.api.stats_schemas import CampaignStatsOut, GlobalMetricsOut
from services.api.suppression_schemas import SuppressionOut, SuppressionReport, SuppressionsAdd
from services.api.webhook_schemas import (
    DELIVERY_STATUSES,
    DeliveryOut,
    WebhookCreate,
    WebhookOut,
    WebhookPatch,
    WebhookTestOut,
    WebhookUpdated,
    WebhookWithSecret,
)
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.twilio_protocol import CALLBACK_PATH as TWILIO_CALLBACK_PATH


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "path", "query" or "header"
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    #: Stable and readable: generated clients name their functions after it.
    operation_id: str
    summary: str
    tag: str
    ok_status: int = 200
    ok_model: type[BaseModel] | None = None
    ok_list: bool = False
    #: A text answer's media type (CSV, server-sent events) instead of JSON.
    ok_text: str | None = None
    body: type[BaseModel] | None = None
    #: A body posted as application/x-www-form-urlencoded, as carriers post callbacks.
    form_body: type[BaseModel] | None = None
    multipart: bool = False
    #: Text fields a multipart body may carry beside `file`, with their schemas.
    multipart_fields: tuple[tuple[str, dict[str, Any]], ...] = ()
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    public: bool = False
    description: str = ""
    ok_headers: dict[str, Any] = field(default_factory=dict)
    #: OpenAPI links from the answer to the operations it leads to (by operation id), each
    #: taking the answer's `id` as its `id`.
    links_to: tuple[str, ...] = ()


CAMPAIGN_ID = Param("id", "path", {"type": "string", "format": "uuid"}, "Campaign id", True)
CALL_ID = Param("id", "path", {"type": "string", "format": "uuid"}, "Call id", True)
WEBHOOK_ID = Param("id", "path", {"type": "string", "format": "uuid"}, "Webhook id", True)
DELIVERY_ID = Param("deliveryId", "path", {"type": "string", "format": "uuid"}, "Delivery id", True)
IDEMPOTENCY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 255},
    "Retrying with the same key returns the first answer and creates nothing twice"
    " (kept 24 hours); the same key with another body is a 422. A UUID makes a good key",
)


def whole_number(low: int, high: int, default: int) -> dict[str, Any]:
    """A whole-number query parameter as request_io.query_int reads it: empty is the default,
    as the seed's Spring API read an empty parameter (`?page=&size=20`)."""
    return {
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "maxLength": 0},
        ],
        "default": default,
    }


def _paging(default_size: int, cursor_format: str) -> tuple[Param, ...]:
    return (
        Param("page", "query", whole_number(0, MAX_PAGE, 0), "Page, from 0; empty: 0"),
        Param(
            "size",
            "query",
            whole_number(1, MAX_PAGE_SIZE, default_size),
            "Items per page; empty: the default",
        ),
        Param(
            "cursor",
            "query",
            {"type": "string", "format": cursor_format, "pattern": "^[A-Za-z0-9_-]*$"},
            "Opaque: only a cursor from this list's previous page (its Link header); any"
            " other is a 422. Empty: the first page",
        ),
    )


LIST_HEADERS = {
    "X-Total-Count": {"schema": {"type": "string"}, "description": "Items matching the filter"},
    "Link": {"schema": {"type": "string"}, "description": 'The next page: <url>; rel="next"'},
}


def _status_param(values: list[str]) -> Param:
    return Param(
        "status",
        "query",
        {"type": "string", "enum": [*values, ""]},
        "Only this status (in any case); empty: every status",
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "post",
        "/api/v1/campaigns",
        "createCampaign",
        "Create a campaign",
        "Campaigns",
        201,
        CampaignCreated,
        body=CampaignCreate,
        params=(IDEMPOTENCY,),
        errors=(400, 413, 422),
        description="Numbers are validated, normalised to E.164 and deduplicated; invalid"
        " ones are skipped and listed in importSummary (strictNumbers: true refuses the"
        " request instead), and a list with no valid number is a 422.",
        ok_headers={"Location": {"schema": {"type": "string"}}},
        links_to=(
            "getCampaign",
            "updateCampaign",
            "startCampaign",
            "pauseCampaign",
            "resumeCampaign",
            "cancelCampaign",
            "listCampaignCalls",
            "importNumbers",
            "getCampaignStats",
            "exportCampaignCalls",
            "deleteCampaign",
        ),
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns",
        "listCampaigns",
        "List campaigns, newest first",
        "Campaigns",
        ok_model=CampaignOut,
        ok_list=True,
        params=(
            *_paging(CAMPAIGN_PAGE_SIZE, "campaigns-cursor"),
            _status_param([s.value for s in CampaignStatus]),
        ),
        errors=(422,),
        ok_headers=LIST_HEADERS,
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns/{id}",
        "getCampaign",
        "Get a campaign",
        "Campaigns",
        ok_model=CampaignOut,
        params=(CAMPAIGN_ID,),
        errors=(404,),
    ),
    Endpoint(
        "patch",
        "/api/v1/campaigns/{id}",
        "updateCampaign",
        "Change a campaign's settings",
        "Campaigns",
        ok_model=CampaignOut,
        body=CampaignPatch,
        params=(CAMPAIGN_ID,),
        errors=(400, 404, 409, 413, 422),
        description="A running campaign follows the new settings within seconds.",
    ),
    Endpoint(
        "delete",
        "/api/v1/campaigns/{id}",
        "deleteCampaign",
        "Delete a campaign that is not running",
        "Campaigns",
        ok_status=204,
        params=(CAMPAIGN_ID,),
        errors=(404, 409),
    ),
    *(
        Endpoint(
            "post",
            f"/api/v1/campaigns/{{id}}/{verb}",
            f"{verb}Campaign",
            summary,
            "Campaigns",
            ok_model=CampaignOut,
            params=(CAMPAIGN_ID,),
            errors=(404, 409, 422),
        )
        for verb, summary in (
            ("start", "Start a campaign (or resume a paused one)"),
            ("pause", "Pause: no new calls; calls in progress finish"),
            ("resume", "Resume a paused campaign"),
            ("cancel", "Cancel: every number not being dialled ends CANCELLED"),
        )
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns/{id}/calls",
        "listCampaignCalls",
        "List a campaign's calls",
        "Campaigns",
        ok_model=CallOut,
        ok_list=True,
        params=(
            CAMPAIGN_ID,
            *_paging(CALL_PAGE_SIZE, "calls-cursor"),
            _status_param([s.value for s in CallStatus]),
        ),
        errors=(404, 422),
        ok_headers=LIST_HEADERS,
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns/{id}/calls/export",
        "exportCampaignCalls",
        "Export a campaign's calls as CSV",
        "Campaigns",
        ok_text="text/csv",
        params=(CAMPAIGN_ID, _status_param([s.value for s in CallStatus])),
        errors=(404, 422),
        description="One line per call, in the order the numbers were added, streamed:"
        " id, phoneNumber, status, retryCount, attempts, lastOutcome, lastAttemptedAt,"
        " nextRetryAt, externalCallId, failureReason, callDurationSeconds, createdAt,"
        " updatedAt, attributes (JSON), timezone (candidate zones space-separated),"
        " timezoneSource.",
    ),
    Endpoint(
        "post",
        "/api/v1/campaigns/{id}/import/batch",
        "importNumbers",
        "Add numbers (JSON)",
        "Campaigns",
        ok_model=ImportResult,
        body=ImportBatch,
        params=(CAMPAIGN_ID, IDEMPOTENCY),
        errors=(400, 404, 409, 413, 422),
        description="Either `phoneNumbers` or `contacts` (numbers with attributes; a"
        " `timezone` or `postalCode` attribute says where the recipient is). Invalid numbers"
        " and unknown `timezone` attributes are reported and skipped; duplicates are dropped.",
    ),
    Endpoint(
        "post",
        "/api/v1/campaigns/{id}/import",
        "uploadNumbers",
        "Add numbers (CSV or text file)",
        "Campaigns",
        ok_model=ImportResult,
        multipart=True,
        params=(CAMPAIGN_ID,),
        errors=(400, 404, 409, 413, 422),
        description="Field `file`: one number a line, or a CSV whose header names the"
        " phone column; other columns are kept per number as `attributes`. A `timezone`"
        " column (IANA) or a US `postalCode`/`zip` column says where the recipient is; a line"
        " with an unknown `timezone` is reported and skipped.",
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns/{id}/stats",
        "getCampaignStats",
        "A campaign's progress, pace and calling window",
        "Statistics",
        ok_model=CampaignStatsOut,
        params=(
            CAMPAIGN_ID,
            Param(
                "minutes",
                "query",
                whole_number(1, 180, 15),
                "How many recent minutes dialsPerMinute covers; empty: 15",
            ),
        ),
        errors=(404, 422),
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns/{id}/inventory",
        "getCampaignInventory",
        "How many numbers the dialler would take now, how many wait and why",
        "Campaigns",
        ok_model=InventoryOut,
        params=(CAMPAIGN_ID,),
        errors=(404,),
        description="Counted as the claim decides today: the campaign's status, its window"
        " read in its time zone, retry due times and live calls. dialableNow + the waiting"
        " and final counts = every number of the campaign.",
    ),
    Endpoint(
        "get",
        "/api/v1/campaigns/{id}/forecast",
        "getCampaignForecast",
        "When the campaign is expected to finish, on what assumptions, and what it cannot know",
        "Campaigns",
        ok_model=ForecastOut,
        params=(CAMPAIGN_ID,),
        errors=(404,),
        description="Steps through the windows ahead of each zone group (its rules and the"
        " calling policy, read in the recipients' zones), spending the attempts a second the"
        " campaign's lines allow (lines / mean attempt length, or its pacing if lower) on the"
        " groups open at each moment, in proportion to their remaining work, for up to 60"
        " days. The remaining work counts retries at the retry rate observed in its recent"
        " attempts (defaults before 20 are observed). Every figure it rests on is in"
        " assumptions; caveats say what it cannot know. See docs/forecast.md.",
    ),
    Endpoint(
        "get",
        "/api/v1/metrics",
        "getMetrics",
        "Global figures: campaigns, calls, lines, workers, queues",
        "Statistics",
        ok_model=GlobalMetricsOut,
        description="Every field of the seed's metrics, with its meaning here, and more."
        " Prometheus metrics are at /metrics on every service.",
    ),
    Endpoint(
        "post",
        "/api/v1/calls",
        "createCall",
        "Place one call outside any campaign",
        "Calls",
        201,
        CallOut,
        body=SingleCallCreate,
        params=(IDEMPOTENCY,),
        errors=(400, 413, 422),
        ok_headers={"Location": {"schema": {"type": "string"}}},
        links_to=("getCall",),
    ),
    Endpoint(
        "get",
        "/api/v1/calls/{id}",
        "getCall",
        "Get a call with its attempts",
        "Calls",
        ok_model=CallOut,
        params=(CALL_ID,),
        errors=(404,),
    ),
    Endpoint(
        "get",
        "/api/v1/calls/{id}/eligibility",
        "getCallEligibility",
        "Why a call is not dialled now, and when it may be",
        "Calls",
        ok_model=EligibilityOut,
        params=(CALL_ID,),
        errors=(404,),
        description="The reasons are the rules the dialler enforces today: the campaign's"
        " status, its window read in its time zone, the retry's due time, a live call on the"
        " number, and the campaign's lines (its limit and share).",
    ),
    Endpoint(
        "post",
        "/api/v1/calls/callback",
        "reportCallResult",
        "A provider reports a call's result",
        "Provider callbacks",
        ok_model=CallbackOut,
        body=CallbackIn,
        public=True,
        params=(
            Param(
                "X-Signature",
                "header",
                {"type": "string"},
                "sha256=<hex HMAC-SHA256 of the raw body with the shared secret>",
                True,
            ),
        ),
        errors=(400, 401, 404, 409, 413, 422),
        description="Idempotent: a status already recorded answers applied=false."
        " answeredBy says who answered; a progress status (IN_PROGRESS) with a machine's"
        " answer, for a campaign that hangs up on machines, asks for the hang-up.",
    ),
    Endpoint(
        "post",
        TWILIO_CALLBACK_PATH,
        "reportTwilioCallStatus",
        "Twilio (or a compatible carrier) reports a call's progress or result",
        "Provider callbacks",
        ok_model=CallbackOut,
        form_body=TwilioStatusCallback,
        public=True,
        params=(
            Param(
                "X-Twilio-Signature",
                "header",
                {"type": "string"},
                "base64 HMAC-SHA1, keyed by the auth token, of the public URL followed by the"
                " form's fields sorted by name",
                True,
            ),
            Param("callId", "query", {"type": "string", "format": "uuid"}, "Our call's id"),
            Param(
                "attemptNo",
                "query",
                {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                "The attempt's number",
            ),
            Param(
                "campaignId",
                "query",
                {"type": "string", "format": "uuid"},
                "The call's campaign (informative)",
            ),
        ),
        errors=(400, 403, 404, 409, 413, 415, 422),
        description="The StatusCallback URL the twilio provider gives the carrier, query"
        " included. Progress (queued, initiated, ringing, in-progress) updates the attempt;"
        " completed, busy, no-answer, failed and canceled end it. Duplicates and late"
        " progress change nothing. AnsweredBy (human, machine_start, machine_end_beep, fax...)"
        " is kept as answeredBy; for a campaign whose answeringMachine.detect is on, a"
        " machine's answer applies its onMachine, and with HANG_UP a live call is hung up at"
        " once.",
    ),
    Endpoint(
        "post",
        "/api/v1/suppressions",
        "addSuppressions",
        "Put numbers on a do-not-call list (JSON)",
        "Do-not-call lists",
        ok_model=SuppressionReport,
        body=SuppressionsAdd,
        params=(IDEMPOTENCY,),
        errors=(400, 404, 413, 422),
        description="The global list, or a campaign's with `campaignId`. From the moment this"
        " answers, no attempt starts to a listed number: the claim ends such a call CANCELLED"
        " (failureReason SUPPRESSED) instead. One number that is not a phone number refuses"
        " the whole request (422 naming it) unless `skipInvalid` is true.",
    ),
    Endpoint(
        "post",
        "/api/v1/suppressions/import",
        "uploadSuppressions",
        "Put numbers on a do-not-call list (CSV or text file)",
        "Do-not-call lists",
        ok_model=SuppressionReport,
        multipart=True,
        multipart_fields=(
            ("reason", {"type": "string", "minLength": 1, "maxLength": 200}),
            ("campaignId", {"type": "string", "format": "uuid"}),
            ("expiresAt", {"type": "string", "format": "date-time"}),
            ("skipInvalid", {"type": "boolean", "default": False}),
        ),
        errors=(400, 404, 413, 422),
        description="Field `file`: one number a line, or a CSV whose header names the phone"
        " column; a `reason` column gives a line its own reason. The other fields (or query"
        " parameters of the same names) apply to every line. All or nothing, as the JSON form.",
    ),
    Endpoint(
        "get",
        "/api/v1/suppressions",
        "listSuppressions",
        "List a do-not-call list, in number order",
        "Do-not-call lists",
        ok_model=SuppressionOut,
        ok_list=True,
        ok_headers=LIST_HEADERS,
        params=(
            Param(
                "campaignId",
                "query",
                {"type": "string", "format": "uuid"},
                "A campaign's list; absent: the global list",
            ),
            Param(
                "phoneNumber",
                "query",
                {"type": "string", "maxLength": 64},
                "Only this number (in any written form)",
            ),
            *_paging(SUPPRESSION_PAGE_SIZE, "suppression-cursor"),
        ),
        errors=(422,),
    ),
    Endpoint(
        "delete",
        "/api/v1/suppressions/{phoneNumber}",
        "deleteSuppression",
        "Take a number off a do-not-call list",
        "Do-not-call lists",
        ok_status=204,
        params=(
            Param(
                "phoneNumber",
                "path",
                {"type": "string", "maxLength": 64},
                "The number, in any written form (URL-encode the +)",
                True,
            ),
            Param(
                "campaignId",
                "query",
                {"type": "string", "format": "uuid"},
                "A campaign's list; absent: the global list",
            ),
        ),
        errors=(404, 422),
        description="Calls already ended SUPPRESSED stay ended.",
    ),
    Endpoint(
        "post",
        "/api/v1/calls/{id}/opt-out",
        "optOutCall",
        "The call's recipient asked not to be called again",
        "Calls",
        ok_model=SuppressionOut,
        params=(CALL_ID,),
        errors=(404,),
        description="Puts the number on the global do-not-call list for ever, reason OPT_OUT,"
        " with this call as its source. Repeating it changes nothing.",
    ),
    Endpoint(
        "get",
        "/api/v1/events",
        "streamEvents",
        "Follow events live (server-sent events)",
        "Webhooks",
        ok_text="text/event-stream",
        params=(
            Param(
                "campaignId",
                "query",
                {"type": "string", "format": "uuid"},
                "Only this campaign's events and its calls'.",
            ),
            Param(
                "types",
                "query",
                {"type": "string"},
                "Only these event types, comma-separated (call.completed,call.failed).",
            ),
            Param(
                "Last-Event-ID",
                "header",
                {"type": "string", "format": "uuid"},
                "Resume after this event (the `id:` of the last event received): every"
                " event after it is sent first.",
            ),
            Param(
                "lastEventId",
                "query",
                {"type": "string", "format": "uuid"},
                "As Last-Event-ID, for clients that cannot set headers.",
            ),
        ),
        errors=(404, 410, 422),
        description="The events webhooks carry (docs/webhooks.md), as `text/event-stream`:"
        " each is `id:` (the event id, webhook-id), `event:` (its type) and `data:` (the"
        " webhook body, one line of JSON), in the order their changes committed. A comment"
        " line is sent after 15 s without an event. Without Last-Event-ID the stream starts"
        " now. Events are kept VCS_WEBHOOK_RETENTION_DAYS after a stream connected: a"
        " client that reconnects within that time with Last-Event-ID misses nothing; an"
        " event no longer kept is a 410. 503 when the replica already serves"
        " VCS_EVENT_STREAM_MAX_CLIENTS streams.",
    ),
    Endpoint(
        "post",
        "/api/v1/webhooks",
        "createWebhook",
        "Send events to a URL (a webhook)",
        "Webhooks",
        201,
        WebhookWithSecret,
        body=WebhookCreate,
        errors=(400, 413, 422, 503),
        description="Events are POSTed as JSON, signed per the Standard Webhooks"
        " specification with the `secret` of this answer (shown only here and on rotation):"
        " headers webhook-id (the event id, the same on every retry), webhook-timestamp and"
        " webhook-signature. The URL must be http(s) and, unless the operator allows it, not"
        " a loopback, link-local or private address (a 422 naming `url`). See"
        " docs/webhooks.md for the events and their bodies. 503 when the operator has set"
        " no VCS_WEBHOOK_SECRET_KEY.",
        ok_headers={"Location": {"schema": {"type": "string"}}},
        links_to=(
            "getWebhook",
            "updateWebhook",
            "deleteWebhook",
            "testWebhook",
            "listWebhookDeliveries",
        ),
    ),
    Endpoint(
        "get",
        "/api/v1/webhooks",
        "listWebhooks",
        "List webhooks, oldest first",
        "Webhooks",
        ok_model=WebhookOut,
        ok_list=True,
        ok_headers=LIST_HEADERS,
        params=_paging(WEBHOOK_PAGE_SIZE, "webhooks-cursor"),
        errors=(422,),
    ),
    Endpoint(
        "get",
        "/api/v1/webhooks/{id}",
        "getWebhook",
        "A webhook (without its secret)",
        "Webhooks",
        ok_model=WebhookOut,
        params=(WEBHOOK_ID,),
        errors=(404, 422),
    ),
    Endpoint(
        "patch",
        "/api/v1/webhooks/{id}",
        "updateWebhook",
        "Change a webhook: URL, events, description, enabled; rotate its secret",
        "Webhooks",
        ok_model=WebhookUpdated,
        body=WebhookPatch,
        params=(WEBHOOK_ID,),
        errors=(400, 404, 413, 422, 503),
        description="Only the fields given change. `rotateSecret: true` makes a new secret,"
        " shown in this answer only (without it `secret` is null); the previous"
        " one keeps signing beside it until `previousSecretUntil`. Enabling an endpoint the"
        " service disabled clears `disabledReason`; its pending deliveries go out again.",
    ),
    Endpoint(
        "delete",
        "/api/v1/webhooks/{id}",
        "deleteWebhook",
        "Delete a webhook and its delivery log",
        "Webhooks",
        ok_status=204,
        params=(WEBHOOK_ID,),
        errors=(404, 422),
    ),
    Endpoint(
        "post",
        "/api/v1/webhooks/{id}/test",
        "testWebhook",
        "Send a webhook.test event to this webhook",
        "Webhooks",
        202,
        WebhookTestOut,
        params=(WEBHOOK_ID,),
        errors=(404, 422),
        description="Delivered like any event (signed, retried); its delivery is in the log."
        " A disabled webhook gets it once enabled.",
    ),
    Endpoint(
        "get",
        "/api/v1/webhooks/{id}/deliveries",
        "listWebhookDeliveries",
        "A webhook's deliveries, newest first, each with its attempts",
        "Webhooks",
        ok_model=DeliveryOut,
        ok_list=True,
        ok_headers=LIST_HEADERS,
        params=(
            WEBHOOK_ID,
            _status_param(list(DELIVERY_STATUSES)),
            *_paging(WEBHOOK_PAGE_SIZE, "deliveries-cursor"),
        ),
        errors=(404, 422),
        description="Each attempt: when, the status code (null when no answer came), the"
        " latency, the error, and when the next try is due. Kept VCS_WEBHOOK_RETENTION_DAYS.",
    ),
    Endpoint(
        "post",
        "/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry",
        "retryWebhookDelivery",
        "Send a delivery again now",
        "Webhooks",
        202,
        DeliveryOut,
        params=(WEBHOOK_ID, DELIVERY_ID),
        errors=(404, 422),
        description="PENDING again and due now; a delivery that had ended gets a new retry period.",
    ),
)
