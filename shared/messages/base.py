"""The envelope every message on the broker carries."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """A frozen, strictly validated message; JSON on the wire.

    Subclasses add a `type: Literal[...]` field, which names them on the wire and in the
    handler registries.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The message's name on the wire; each subclass narrows it to one Literal.
    type: str
    message_id: UUID = Field(default_factory=uuid4)
    correlation_id: UUID | None = None
    occurred_at: datetime = Field(default_factory=utcnow)
    version: int = 1

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
