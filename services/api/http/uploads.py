"""Receiving an uploaded file: the whole multipart field is spooled (memory, then a temporary
file) before any database connection is taken, so a client that sends slowly holds a socket,
not a connection, a transaction and a campaign's load lock. Broken multipart bodies are the
client's fault and answered 400."""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import AsyncIterator, Awaitable
from typing import IO, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from services.api.operations.number_file import NumberFileParser, Row
from shared.errors import InvalidInput, PermanentError, ServiceError

UPLOAD_FIELD = "file"
READ_CHUNK = 256 * 1024
#: Uploads up to this size stay in memory while they are received; larger ones go to disk.
IN_MEMORY_BYTES = 1024 * 1024

T = TypeVar("T")


class RequestTooLarge(ServiceError):
    code = "request-too-large"
    http_status = 413


class MalformedUpload(PermanentError):
    code = "malformed-multipart"
    http_status = 400


async def _read(step: Awaitable[T]) -> T:
    """One step of aiohttp's multipart reader. It reports a broken body with HttpProcessingError
    (a bad part header), ValueError (no boundary, a body that ends early), or
    UnicodeError/LookupError (undecodable names, unknown charsets)."""
    try:
        return await step
    except (HttpProcessingError, ValueError, UnicodeError, LookupError, AssertionError) as exc:
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise MalformedUpload(f"the multipart body could not be read: {detail}") from exc


def require_multipart(request: web.Request) -> None:
    if not request.content_type.startswith("multipart/"):
        message = f"must be multipart/form-data with the list in a field named {UPLOAD_FIELD!r}"
        raise InvalidInput(f"the body {message}", errors=[{"field": "body", "message": message}])


async def spool_upload(request: web.Request, limit: int) -> IO[bytes]:
    """The bytes of the `file` field, received whole; the caller closes the file.

    413 once more than `limit` bytes arrived, 400 for a broken multipart body, 422 without a
    `file` field. Other fields are read past and dropped.
    """
    spool, _ = await spool_upload_with_fields(request, limit, frozenset())
    return spool


#: The most a small text field beside the file may hold.
FIELD_BYTES = 1024


async def spool_upload_with_fields(
    request: web.Request, limit: int, fields: frozenset[str]
) -> tuple[IO[bytes], dict[str, str]]:
    """As spool_upload, with the text of the small fields named in `fields` (422 when one is
    longer than FIELD_BYTES)."""
    require_multipart(request)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)  # noqa: SIM115
    given: dict[str, str] = {}
    try:
        reader = await _read(request.multipart())
        found = False
        while (part := await _read(reader.next())) is not None:
            if isinstance(part, BodyPartReader) and part.name in fields and not part.filename:
                given[part.name] = await _small_field(part)
                continue
            if isinstance(part, BodyPartReader) and part.name != UPLOAD_FIELD:
                # Refused, not ignored: an option sent under a misspelt name would otherwise
                # silently not apply.
                name = part.name or "(empty)"
                message = "is not a field of this upload"
                raise InvalidInput(
                    f"field {name!r} {message}", errors=[{"field": name, "message": message}]
                )
            if found or not isinstance(part, BodyPartReader) or part.name != UPLOAD_FIELD:
                await _read(part.release())
                continue
            found = True
            received = 0
            while chunk := await _read(part.read_chunk(READ_CHUNK)):
                received += len(chunk)
                if received > limit:
                    raise RequestTooLarge(f"the file is larger than {limit} bytes")
                spool.write(chunk)
        if not found:
            message = f"no multipart field named {UPLOAD_FIELD!r}"
            raise InvalidInput(message, errors=[{"field": UPLOAD_FIELD, "message": "missing"}])
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, given


async def _small_field(part: BodyPartReader) -> str:
    raw = bytearray()
    while chunk := await _read(part.read_chunk(FIELD_BYTES + 1)):
        raw += chunk
        if len(raw) > FIELD_BYTES:
            message = f"longer than {FIELD_BYTES} bytes"
            raise InvalidInput(
                f"field {part.name!r} is {message}",
                errors=[{"field": part.name, "message": message}],
            )
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        message = "is not UTF-8 text"
        raise InvalidInput(
            f"field {part.name!r} {message}", errors=[{"field": part.name, "message": message}]
        ) from None


async def rows_of(spool: IO[bytes]) -> AsyncIterator[list[Row]]:
    """The rows of a spooled file, a chunk at a time, as the number-file parser reads them."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    parser = NumberFileParser()
    while chunk := spool.read(READ_CHUNK):
        if rows := parser.feed(decoder.decode(chunk)):
            yield rows
    if rows := parser.feed(decoder.decode(b"", final=True)) + parser.finish():
        yield rows
