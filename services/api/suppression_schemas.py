"""Request and response bodies of the do-not-call lists (/api/v1/suppressions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.api.schemas import WITHOUT_NUL, InvalidLineOut, RequestBody, ResponseBody

#: Numbers one JSON request may list (a larger list goes through the file import).
MAX_LISTED_NUMBERS = 1_000_000

Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=WITHOUT_NUL,
        description="Why the numbers are listed (free text, e.g. CUSTOMER_REQUEST)",
    ),
]


class SuppressionsAdd(RequestBody):
    phone_numbers: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_LISTED_NUMBERS,
        description="Numbers in any written form; normalised to E.164 as on ingestion",
    )
    reason: Reason | None = None
    campaign_id: UUID | None = Field(
        None, description="The campaign whose list to add to; absent: the global list"
    )
    expires_at: AwareDatetime | None = Field(
        None, description="When the entries stop barring the numbers; absent: never"
    )
    skip_invalid: bool = Field(
        False,
        description="false (the default): one number that is not a phone number refuses the"
        " whole request (422, nothing added); true: such numbers are skipped and listed",
    )


class SuppressionReport(ResponseBody):
    total_received: int
    added: int = Field(description="Entries made (or an expired entry made anew)")
    already_present: int = Field(
        description="Numbers the list had in force, or that came twice; an entry with an"
        " expiry is kept as long as the later of the two asks"
    )
    invalid_skipped: int
    invalid_lines: list[InvalidLineOut]


class SuppressionOut(ResponseBody):
    phone_number: str
    campaign_id: UUID | None = Field(description="null: the global list")
    reason: str | None
    source_call_id: UUID | None = Field(
        description="The call during which the recipient opted out, if that is how it came"
    )
    expires_at: datetime | None
    created_at: datetime


class SuppressionImportOptions(BaseModel):
    """The import's options, as form fields beside the file (or query parameters): text, so
    not strict like the JSON bodies."""

    model_config = ConfigDict(alias_generator=to_camel, frozen=True)

    reason: Reason | None = None
    campaign_id: UUID | None = None
    expires_at: AwareDatetime | None = None
    skip_invalid: bool = False


#: The names SuppressionImportOptions reads from a form or a query.
IMPORT_OPTION_NAMES = frozenset({"reason", "campaignId", "expiresAt", "skipInvalid"})
