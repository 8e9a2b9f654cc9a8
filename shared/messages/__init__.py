"""Every message that crosses a process boundary, and the one function that parses them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from shared.messages.base import Message
from shared.messages.calls import AttemptEnded, LeaseLine
from shared.messages.campaigns import (
    CallsAdded,
    CampaignCancelled,
    CampaignEvent,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
    CampaignUpdated,
)
from shared.messages.telephony import (
    CallResultReported,
    DialAccepted,
    DialCall,
    DialRefused,
    HangUpCall,
)

AnyMessage = Annotated[
    LeaseLine
    | AttemptEnded
    | CampaignStarted
    | CampaignPaused
    | CampaignResumed
    | CampaignCancelled
    | CampaignFinished
    | CampaignUpdated
    | CallsAdded
    | DialCall
    | DialAccepted
    | DialRefused
    | CallResultReported
    | HangUpCall,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


class InvalidMessage(ValueError):
    """A body that is not one of our messages."""


def parse_message(body: bytes) -> Message:
    """The message in `body`, or InvalidMessage."""
    try:
        return _ADAPTER.validate_json(body)
    except ValidationError as exc:
        raise InvalidMessage(str(exc)) from exc


__all__ = [
    "AnyMessage",
    "AttemptEnded",
    "CallResultReported",
    "CallsAdded",
    "CampaignCancelled",
    "CampaignEvent",
    "CampaignFinished",
    "CampaignPaused",
    "CampaignResumed",
    "CampaignStarted",
    "CampaignUpdated",
    "DialAccepted",
    "DialCall",
    "DialRefused",
    "HangUpCall",
    "InvalidMessage",
    "LeaseLine",
    "Message",
    "parse_message",
]
