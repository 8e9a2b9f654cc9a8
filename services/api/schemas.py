"""HTTP request and response bodies, with the seed API's camelCase field names."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
    with_config,
)
from pydantic.alias_generators import to_camel
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from shared.domain.answering_machine import OnMachine
from shared.domain.business_hours import WEEKDAYS
from shared.domain.calling import TimezoneMode
from shared.domain.calling.spec import (
    RestrictedPeriodSpec,
    WindowSpec,
    check_calendars,
    check_daily_hours,
)
from shared.domain.frequency_caps import (
    MAX_CAPS,
    MAX_PERIOD_HOURS,
    FrequencyCap,
    caps_to_json,
)
from shared.domain.retry_policy import MAX_RETRY_DELAY_MS
from shared.messages.telephony import ProviderStatus
from shared.settings import MAX_CALLBACK_TIMEOUT_MS


class RequestBody(BaseModel):
    """Strict: unknown fields and wrongly typed values are errors, reported per field."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True, frozen=True
    )


class ResponseBody(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# Requests

#: PostgreSQL's text cannot hold the NUL character: such text is refused (422), not a 500.
WITHOUT_NUL = r"^[^\x00]*$"
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    # Spaces alone are stripped to nothing: the document says a name needs something else.
    Field(pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"),
]


def _json_integer(value: Any) -> Any:
    """JSON has numbers, not integers: 6.0 is the integer 6, as JSON Schema says. Text and
    booleans are still refused (the models are strict)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Bounds go before JSON_INTEGER in an Annotated: after it, pydantic writes them into the JSON
#: Schema as "ge"/"le" instead of "minimum"/"maximum".
JSON_INTEGER = BeforeValidator(_json_integer)
CLOCK_PATTERN = r"^([01][0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9])?$"
TimeZone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="An IANA time zone name, e.g. America/New_York or Europe/London (the"
        " tz database's names; an unknown one is a 422)",
        examples=["America/New_York"],
        json_schema_extra={"format": "iana-time-zone"},
    ),
]
#: A phone number as people write it ("+1 415 555 0100", "(415) 555-0100") in a list: checked
#: against its country's numbering plan (libphonenumber), so only the server can say it is
#: valid, and an invalid one is skipped and reported, never a 422. The items therefore carry
#: no constraint, not even the `phone-number` format: any string is accepted into the report.
PhoneNumber = Annotated[
    str,
    Field(
        description="E.164 (+14155550100) or national (415 555 0100, read in the default"
        " region), validated against the country's numbering plan; one that is not a valid"
        " number is skipped and listed in invalidLines",
        examples=["+14155550100"],
    ),
]


def _storable_text(value: str) -> str:
    """Text PostgreSQL can keep in jsonb: no NUL character, no lone surrogate (JSON's \\ud800
    escapes can make one, and UTF-8 cannot)."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (a lone surrogate is not)") from None
    return value


#: What a contact's attributes may hold: strings by name, as a CSV line's extra columns.
Attributes = Annotated[
    dict[
        Annotated[
            str, StringConstraints(min_length=1, max_length=100), AfterValidator(_storable_text)
        ],
        Annotated[str, StringConstraints(max_length=1000), AfterValidator(_storable_text)],
    ],
    Field(
        max_length=100,
        description="Kept with the call as `attributes`. `timezone` (an IANA name) says the"
        " recipient's zone; else a US `postalCode` (or `zip`) does; else the number's area"
        " code or country. An unknown `timezone` makes the contact invalid",
        examples=[{"timezone": "America/Chicago", "postalCode": "60601"}],
    ),
]


#: A field that may be left out but not given as null (see _not_null): the document says a list.
def check_schedule(start_at: datetime | None, end_at: datetime | None) -> None:
    if start_at and end_at and end_at <= start_at:
        raise ValueError("endAt must be after startAt")


def _no_default(schema: dict[str, Any]) -> None:
    """A list that may be left out, not given as null (_not_null refuses null): the document
    shows neither a null default nor null among its types. The type is `list | None`, not a
    union hiding None from the document: pydantic names a union's members in its error paths
    ("contacts.list[ContactIn][3].phoneNumber"), where a nullable list names only the field."""
    schema.pop("default", None)
    members = [m for m in schema.pop("anyOf", []) if m != {"type": "null"}]
    if len(members) == 1:
        schema.update(members[0])
    elif members:
        schema["anyOf"] = members


def _not_null(value: Any) -> Any:
    """A list field left out is absent; given as null it is an error, as the document says."""
    if value is None:
        raise ValueError("give a list, or leave the field out")
    return value


# A typed dict, not a model: a body holds up to 1,000,000 of them, and a model instance each
# cost a 100,000-contact import about 0.3 s of the event loop (of its 2 s).
@with_config(ConfigDict(extra="forbid", strict=True, title="ContactIn"))
class ContactIn(TypedDict):
    phoneNumber: PhoneNumber
    attributes: NotRequired[
        Annotated[Attributes | None, Field(json_schema_extra={"default": None})]
    ]


#: Numbers or contacts, not both: the JSON Schema of a body that takes either list.
ONE_LIST_OF_NUMBERS: dict[str, Any] = {"not": {"required": ["phoneNumbers", "contacts"]}}
_DAY_NAMES = [d for day in WEEKDAYS for d in (day, day[:3])]
_ANY_CASE_DAY = "|".join(
    "".join(f"[{c}{c.lower()}]" for c in name) for name in sorted(_DAY_NAMES, key=len, reverse=True)
)
#: The days as the server reads them: full or three-letter English names, any case, comma
#: separated with optional spaces.
DAYS_PATTERN = rf"^ *({_ANY_CASE_DAY}) *( *, *({_ANY_CASE_DAY}) *)*$"
#: Documented here, checked by the domain's parse_days (which names the failing field).
ALLOWED_DAYS_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": DAYS_PATTERN},
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": rf"^ *({_ANY_CASE_DAY}) *$"},
        },
    ],
    "default": "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY,SATURDAY,SUNDAY",
    "description": '"MONDAY,TUESDAY" or ["MONDAY", "TUESDAY"]; three-letter names work too,'
    " in any case",
}


MaxRetries = Annotated[int, Field(ge=0, le=20), JSON_INTEGER]
RetryDelayMs = Annotated[int, Field(ge=0, le=MAX_RETRY_DELAY_MS), JSON_INTEGER]
BackoffMultiplier = Annotated[float, Field(ge=1.0, le=10.0)]


class OutcomeRetryIn(RequestBody):
    """One outcome's retry rule; a field left out follows the campaign's general field."""

    retry: bool | None = Field(
        None, description="Retry after this outcome (default: true, false for REJECTED)"
    )
    max_retries: MaxRetries | None = Field(
        None,
        description="Retry after this outcome only while the call has had fewer retries in"
        " all (default: retryConfig.maxRetries)",
    )
    delay_ms: RetryDelayMs | None = Field(
        None, description="Wait before the first retry (default: callbackRetryDelayMs)"
    )
    backoff_multiplier: BackoffMultiplier | None = Field(
        None,
        description="Each later retry waits this many times longer, up to 24 h (default 1:"
        " a fixed delay)",
    )


def _outcome_rule(name: str) -> Any:
    return Field(None, alias=name, description=f"The rule after a {name} ending")


class RetryOutcomesIn(RequestBody):
    """Per outcome, what overrides the general retry fields; an outcome left out follows them."""

    busy: OutcomeRetryIn | None = _outcome_rule("BUSY")
    no_answer: OutcomeRetryIn | None = _outcome_rule("NO_ANSWER")
    failed: OutcomeRetryIn | None = _outcome_rule("FAILED")
    rejected: OutcomeRetryIn | None = Field(
        None,
        alias="REJECTED",
        description="The rule after the carrier refused the number (not retried by default)",
    )
    machine: OutcomeRetryIn | None = Field(
        None,
        alias="MACHINE",
        description="The rule after a machine answered, when answeringMachine.onMachine is"
        " RETRY (docs/answering-machines.md)",
    )
    no_result: OutcomeRetryIn | None = Field(
        None,
        alias="NO_RESULT",
        description="The rule after no result came within callbackTimeoutMs",
    )


class RetryConfigIn(RequestBody):
    max_retries: MaxRetries | None = None
    sync_initial_backoff_ms: Annotated[int, Field(ge=0, le=600_000), JSON_INTEGER] | None = None
    sync_backoff_multiplier: BackoffMultiplier | None = None
    callback_retry_delay_ms: RetryDelayMs | None = None
    callback_timeout_ms: (
        Annotated[int, Field(ge=1000, le=MAX_CALLBACK_TIMEOUT_MS), JSON_INTEGER] | None
    ) = None
    outcomes: RetryOutcomesIn | None = Field(
        None,
        description="Per-outcome retry rules (docs/retries.md); given in a PATCH, it replaces"
        " the whole map",
    )
    jitter_ratio: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        None,
        description="Each retry time falls uniformly within ±jitterRatio of its delay (default 0)",
    )


class BusinessHoursIn(RequestBody):
    start_time: str | None = Field(
        None,
        description='Local opening time, "HH:MM" (required unless dailyHours is given)',
        examples=["09:00"],
        pattern=CLOCK_PATTERN,
    )
    end_time: str | None = Field(
        None,
        description='Local closing time, "HH:MM" (exclusive; "24:00" allowed; required unless'
        " dailyHours is given)",
        pattern=CLOCK_PATTERN,
    )
    timezone: TimeZone = "UTC"
    allowed_days: Annotated[str | list[str], WithJsonSchema(ALLOWED_DAYS_SCHEMA)] = (
        "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY,SATURDAY,SUNDAY"
    )
    crosses_midnight: bool | None = Field(
        None,
        description="A window whose end is before its start (22:00-06:00) crosses midnight"
        " whether or not this says so, as the seed read it; the part after midnight belongs to"
        " the next day. true with an end after the start is a contradiction (422).",
    )
    timezone_mode: TimezoneMode = Field(
        TimezoneMode.CAMPAIGN,
        description="CAMPAIGN: the window is read in `timezone` for every number (the seed's"
        " behaviour). RECIPIENT: the same window is read in each recipient's own local time",
    )
    default_time_zone: TimeZone | None = Field(
        None,
        description="RECIPIENT mode: the zone assumed for numbers whose zone is unknown;"
        " without it such numbers are never dialled (UNKNOWN_TIMEZONE)",
    )
    daily_hours: dict[str, list[WindowSpec]] | None = Field(
        None,
        description='Per weekday, several windows: {"MONDAY": [{"startTime": "09:00",'
        ' "endTime": "12:00"}, ...]}; replaces startTime, endTime and allowedDays (a day it'
        " does not name is closed)",
    )

    _daily = field_validator("daily_hours")(check_daily_hours)

    @model_validator(mode="after")
    def _window_given(self) -> BusinessHoursIn:
        if self.daily_hours is None and (self.start_time is None or self.end_time is None):
            raise ValueError("startTime and endTime are required unless dailyHours is given")
        return self


HolidayCalendars = Annotated[
    list[Annotated[str, Field(min_length=2, max_length=12)]],
    Field(
        max_length=50,
        description='Calendars of the `holidays` package: a country ("US", "GB") or a'
        ' subdivision ("US-CA"); read in the recipient\'s zone in RECIPIENT mode, else the'
        " campaign's",
        examples=[["US", "US-CA"]],
    ),
    AfterValidator(check_calendars),
]
RestrictedPeriods = Annotated[
    list[RestrictedPeriodSpec],
    Field(
        max_length=200,
        description="Blackouts: whole local dates (startDate..endDate inclusive) or local"
        " times (start..end; with an offset they are absolute instants)",
    ),
]
ScheduleInstant = Annotated[
    AwareDatetime,
    Field(description="An RFC 3339 instant with its offset", examples=["2026-12-24T14:00:00Z"]),
]


CallsPerSecond = Annotated[
    float,
    Field(
        gt=0,
        le=1000,
        description="Call setups a second, spread evenly; omitted: as fast as lines allow",
    ),
]


class FrequencyCapIn(RequestBody):
    max_attempts: Annotated[int, Field(ge=1, le=1000), JSON_INTEGER] = Field(
        description="Attempts one number may get within the period, across every campaign"
    )
    period_hours: Annotated[int, Field(ge=1, le=MAX_PERIOD_HOURS), JSON_INTEGER] = Field(
        description="The period, in hours, counted back from each dial"
    )


class ContactPolicyIn(RequestBody):
    frequency_caps: list[FrequencyCapIn] = Field(
        default_factory=list,
        max_length=MAX_CAPS,
        description="Caps on how often one number is called, counting the attempts of every"
        " campaign and single call that reached or may have reached the carrier; they apply"
        " on top of the calling policy's, so a campaign can only be stricter",
        examples=[[{"maxAttempts": 3, "periodHours": 24}]],
    )

    def to_json(self) -> dict[str, Any]:
        caps = sorted({FrequencyCap(c.max_attempts, c.period_hours) for c in self.frequency_caps})
        return {"frequencyCaps": caps_to_json(caps)} if caps else {}


class ContactPolicyOut(ResponseBody):
    frequency_caps: list[dict[str, int]] = Field(
        description="The campaign's own caps: [{maxAttempts, periodHours}]"
    )


class AnsweringMachineIn(RequestBody):
    """Whether to ask the carrier to tell a person from a machine, and what a machine's answer
    does to the call (docs/answering-machines.md)."""

    detect: bool = Field(
        False,
        description="Ask the carrier to detect answering machines (Twilio's MachineDetection);"
        " without it a machine's answer is an answered call, as before",
    )
    on_machine: OnMachine = Field(
        OnMachine.COMPLETE,
        description="COMPLETE: the call is completed (a message left on the machine); RETRY:"
        " the MACHINE retry rule decides, PERMANENTLY_FAILED (reason MACHINE) once it allows"
        " no more; HANG_UP: the carrier hangs up at once and the call ends PERMANENTLY_FAILED"
        " (reason MACHINE), never retried",
    )


class AnsweringMachineOut(ResponseBody):
    detect: bool
    on_machine: OnMachine


class CampaignCreate(RequestBody):
    model_config = ConfigDict(json_schema_extra=ONE_LIST_OF_NUMBERS)

    name: Name
    description: str | None = Field(None, max_length=2000, pattern=WITHOUT_NUL)
    phone_numbers: list[PhoneNumber] = Field(
        default_factory=list,
        max_length=100_000,
        description="Invalid numbers are skipped and listed in importSummary (as the seed"
        " skipped them); only a list with no valid number at all is refused",
    )
    contacts: Annotated[list[ContactIn], Field(max_length=100_000)] | None = Field(
        None,
        json_schema_extra=_no_default,
        description="Instead of phoneNumbers: numbers with attributes (a `timezone`, a"
        " `postalCode`...); invalid ones are skipped and reported the same way",
    )
    strict_numbers: bool = Field(
        False,
        description="true: any invalid number or `timezone` attribute refuses the whole"
        " request (422)",
    )
    concurrency_limit: Annotated[int, Field(ge=1, le=1000), JSON_INTEGER] | None = None
    priority: Annotated[int, Field(ge=1, le=10), JSON_INTEGER] | None = None
    retry_config: RetryConfigIn | None = None
    business_hours: BusinessHoursIn | None = None
    calls_per_second: CallsPerSecond | None = None
    holiday_calendars: HolidayCalendars | None = None
    restricted_periods: RestrictedPeriods | None = None
    start_at: ScheduleInstant | None = Field(
        None, description="Nothing is dialled before it (the campaign may be started earlier)"
    )
    end_at: ScheduleInstant | None = Field(
        None,
        description="Nothing is dialled from it on: waiting numbers end CANCELLED"
        " (CAMPAIGN_ENDED) and the campaign COMPLETED once its live calls end",
    )
    auto_start: bool = Field(False, description="Start by itself at startAt (needs startAt)")
    contact_policy: ContactPolicyIn | None = None
    answering_machine: AnsweringMachineIn | None = None

    _contacts_are_a_list = field_validator("contacts")(_not_null)

    @field_validator("end_at")
    @classmethod
    def _end_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        check_schedule(info.data.get("start_at"), value)
        return value

    @field_validator("auto_start")
    @classmethod
    def _start_given(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("start_at") is None:
            raise ValueError("autoStart needs startAt")
        return value


class CampaignPatch(RequestBody):
    """Only the fields present change. `retryConfig` fields merge into the current ones;
    `businessHours` replaces the whole window."""

    name: Name | None = None
    description: str | None = Field(None, max_length=2000, pattern=WITHOUT_NUL)
    concurrency_limit: Annotated[int, Field(ge=1, le=1000), JSON_INTEGER] | None = None
    priority: Annotated[int, Field(ge=1, le=10), JSON_INTEGER] | None = None
    retry_config: RetryConfigIn | None = None
    business_hours: BusinessHoursIn | None = None
    calls_per_second: CallsPerSecond | None = Field(
        None, description="null removes the campaign's own pace"
    )
    holiday_calendars: HolidayCalendars | None = Field(None, description="Replaces the list")
    restricted_periods: RestrictedPeriods | None = Field(None, description="Replaces the list")
    start_at: ScheduleInstant | None = Field(None, description="null removes it")
    end_at: ScheduleInstant | None = Field(None, description="null removes it")
    auto_start: bool | None = None
    contact_policy: ContactPolicyIn | None = Field(
        None, description="Replaces the whole contact policy (null: none)"
    )
    answering_machine: AnsweringMachineIn | None = Field(
        None,
        description="The fields given replace the current ones; a field left out keeps its"
        " value (null: detection off, onMachine COMPLETE)",
    )


class ImportBatch(RequestBody):
    """Exactly one of `phoneNumbers` and `contacts`."""

    # One property at least, never both: exactly one, said without oneOf, which client
    # generators turn into a union of two anonymous types.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, **ONE_LIST_OF_NUMBERS})

    phone_numbers: Annotated[list[PhoneNumber], Field(max_length=1_000_000)] | None = Field(
        None, description="Invalid numbers are skipped and listed", json_schema_extra=_no_default
    )
    contacts: Annotated[list[ContactIn], Field(max_length=1_000_000)] | None = Field(
        None,
        description="Numbers with attributes; invalid numbers and unknown `timezone`"
        " attributes are skipped and listed",
        json_schema_extra=_no_default,
    )

    _lists_are_lists = field_validator("phone_numbers", "contacts")(_not_null)


class SingleCallCreate(RequestBody):
    # At most 40 characters, as ever; the document states only the format, whose generators
    # cannot make a phone number of one character.
    phone_number: Annotated[
        str,
        Field(min_length=1, max_length=40),
        WithJsonSchema(
            {
                "type": "string",
                "format": "phone-number",
                "description": "E.164 (+14155550100) or national (415 555 0100, read in the"
                " default region), at most 40 characters; validated against the country's"
                " numbering plan (422 if it fails)",
                "examples": ["+14155550100"],
            }
        ),
    ]
    attributes: Attributes | None = None


class CallbackIn(RequestBody):
    external_call_id: str = Field(min_length=1, max_length=200)
    status: ProviderStatus
    duration_seconds: Annotated[int, Field(ge=0, le=86_400), JSON_INTEGER] | None = None
    failure_reason: str | None = Field(None, max_length=500)
    answered_by: str | None = Field(
        None,
        max_length=40,
        pattern=WITHOUT_NUL,
        description="Who answered, when the carrier detected it: human, machine, fax, unknown"
        " or Twilio's words (machine_start, machine_end_beep...); a word not known reads as"
        " unknown. With a campaign that detects machines, a machine's answer applies its"
        " answeringMachine.onMachine",
    )
    opt_out: bool = Field(
        False,
        description="true: the recipient asked not to be called again; the number goes on"
        " the global do-not-call list (reason OPT_OUT, this call as its source)",
    )

    @field_validator("status", mode="before")
    @classmethod
    def _canonical_status(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper().replace("-", "_")
            return {"CANCELED": "CANCELLED", "NOANSWER": "NO_ANSWER"}.get(value, value)
        return value


# Responses


class OutcomeRetryOut(ResponseBody):
    """An outcome's rule as the campaign gave it: a null field follows the general one."""

    retry: bool | None = None
    max_retries: int | None = None
    delay_ms: int | None = None
    backoff_multiplier: float | None = None


class RetryConfigOut(ResponseBody):
    max_retries: int
    sync_initial_backoff_ms: int
    sync_backoff_multiplier: float
    callback_retry_delay_ms: int
    callback_timeout_ms: int
    outcomes: dict[
        Literal["BUSY", "NO_ANSWER", "FAILED", "REJECTED", "MACHINE", "NO_RESULT"],
        OutcomeRetryOut,
    ] = Field(
        default_factory=dict,
        description="The per-outcome rules given; an outcome left out follows the general"
        " fields (REJECTED: not retried)",
    )
    jitter_ratio: float = 0.0


class BusinessHoursOut(ResponseBody):
    start_time: str
    end_time: str
    timezone: str
    allowed_days: str
    crosses_midnight: bool
    timezone_mode: str
    default_time_zone: str | None
    daily_hours: dict[str, list[dict[str, str]]] | None


class CampaignMetrics(ResponseBody):
    total_calls: int
    pending_calls: int
    in_progress_calls: int
    completed_calls: int
    failed_calls: int
    permanently_failed_calls: int
    cancelled_calls: int
    suppressed_calls: int = Field(
        description="Of the cancelled calls, those ended because the number is on a"
        " do-not-call list (failureReason SUPPRESSED)"
    )
    total_retries: int


class CampaignOut(ResponseBody):
    id: UUID
    name: str
    description: str | None
    status: str
    concurrency_limit: int
    priority: int
    retry_config: RetryConfigOut
    business_hours: BusinessHoursOut
    calls_per_second: float | None
    holiday_calendars: list[str]
    restricted_periods: list[dict[str, Any]]
    start_at: datetime | None
    end_at: datetime | None
    auto_start: bool
    contact_policy: ContactPolicyOut
    answering_machine: AnsweringMachineOut
    next_dial_at: datetime | None = Field(
        description="Running: when the calling rules next allow a number (now when some"
        " number may be dialled now); null when none opens within a year, or not running"
    )
    metrics: CampaignMetrics
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


AnsweredByValue = Literal["human", "machine", "fax", "unknown"]


class AttemptOut(ResponseBody):
    attempt_number: int
    started_at: datetime
    ended_at: datetime | None
    external_call_id: str | None
    provider_status: str | None
    outcome: str | None = Field(
        description="COMPLETED, BUSY, NO_ANSWER, FAILED, MACHINE (a machine answered, under a"
        " campaign that detects machines), CANCELLED, REJECTED, NOT_PLACED, or TIMED_OUT when"
        " no result came in time; null while the call is live"
    )
    reason: str | None
    duration_seconds: int | None
    timed_out_at: datetime | None
    answered_by: AnsweredByValue | None = Field(
        None,
        description="Who answered, when the carrier said: human, machine, fax or unknown"
        " (null when it did not)",
    )
    sip_response_code: int | None = Field(
        None, description="The SIP response the carrier reported for the call, if any"
    )


TimezoneSource = Literal["attribute_timezone", "postal_code", "area_code", "country", "unknown"]


class CallOut(ResponseBody):
    id: UUID
    campaign_id: UUID | None = Field(description="null for a single call")
    phone_number: str
    status: str
    retry_count: int
    last_attempted_at: datetime | None
    next_retry_at: datetime | None
    external_call_id: str | None
    failure_reason: str | None
    call_duration_seconds: int | None
    answered_by: AnsweredByValue | None = Field(
        None,
        description="Who answered the latest attempt, when the carrier said: human, machine,"
        " fax or unknown",
    )
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, str] | None = Field(
        description="The extra columns of the uploaded file's line, by column name"
    )
    timezone: str | list[str] | None = Field(
        description="The recipient's IANA time zone, resolved when the number was added; the"
        " list of candidate zones when the number could be in several (an area code that"
        " spans two, a toll-free number); null when unknown"
    )
    timezone_source: TimezoneSource = Field(
        description="Where the zone came from: the contact's `timezone` attribute, its US"
        " postal code, the number's area code (or prefix), its country, or unknown"
    )
    attempts: list[AttemptOut]


class InvalidLineOut(ResponseBody):
    line: int = Field(description="1-based line of the file, or position in the JSON list")
    value: str
    reason: str


class ImportResult(ResponseBody):
    total_received: int
    total_imported: int
    duplicates_skipped: int
    invalid_skipped: int
    suppressed: int = Field(
        description="Numbers imported and ended at once (CANCELLED, failureReason SUPPRESSED):"
        " they are on the global do-not-call list or the campaign's"
    )
    status: Literal["IMPORTED", "PARTIALLY_IMPORTED", "NOTHING_IMPORTED"] = Field(
        description="IMPORTED: every number received was added; PARTIALLY_IMPORTED: some were"
        " skipped as invalid or duplicate; NOTHING_IMPORTED: none was added"
    )
    campaign_status: str
    invalid_lines: list[InvalidLineOut]
    invalid_lines_truncated: bool = Field(
        description="true when there were more invalid lines than listed"
    )


class CallbackOut(ResponseBody):
    external_call_id: str
    applied: bool = Field(description="false when this status was already recorded")
    call_id: UUID
    call_status: str | None


class CampaignCreated(CampaignOut):
    """A new campaign, and what became of the numbers it was created with."""

    import_summary: ImportResult | None = Field(
        None,
        description="The numbers given: how many were added, skipped as duplicates or"
        " invalid (with the invalid lines); null when none were given",
    )
