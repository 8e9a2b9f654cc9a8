"""Reading an uploaded list of numbers as it streams in: CSV (header and extra columns
optional) or plain text, one number a line. Pure: text in, rows out."""

from __future__ import annotations

import csv
import re
from typing import NamedTuple

#: Header names that mark the column holding the phone number (compared without case,
#: spaces, dashes or underscores).
PHONE_COLUMN_NAMES = frozenset(
    {"phone", "phonenumber", "number", "msisdn", "mobile", "mobilenumber", "tel", "telephone"}
)
_DIGITS = re.compile(r"\d")
_LETTERS = re.compile(r"[A-Za-z]")


class Row(NamedTuple):
    """A tuple, not a dataclass: 100,000 are made per large upload, on the event loop."""

    #: 1-based line of the file where the record starts.
    line: int
    number: str
    attributes: dict[str, str] | None


def _canonical(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def _looks_like_a_number(value: str) -> bool:
    return len(_DIGITS.findall(value)) >= 4 and not _LETTERS.search(value.replace("ext", ""))


class NumberFileParser:
    """Feed decoded text in any chunks; get back one Row per record.

    The first non-blank record decides the delimiter (comma, semicolon or tab) and whether it
    is a header: a header names its columns, one of which holds the phone number (else the
    first column does); the other columns become each number's `attributes`. A quoted field
    may span lines.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._next_line = 1
        self._delimiter: str | None = None
        self._columns: list[str] | None = None
        self._phone_column = 0

    def feed(self, text: str) -> list[Row]:
        """Rows of every record completed by `text`."""
        pieces = (self._pending + text).split("\n")
        self._pending = pieces.pop()
        return self._rows(pieces)

    def finish(self) -> list[Row]:
        """Rows of what is left once the input ended."""
        rest, self._pending = self._pending, ""
        return self._rows([rest]) if rest else []

    def _rows(self, lines: list[str]) -> list[Row]:
        rows: list[Row] = []
        record: list[str] = []
        quotes = 0
        for line in lines:
            if not record and '"' not in line:
                # The common case, a record on one line without quotes.
                first_line = self._next_line
                self._next_line += 1
                text = line.rstrip("\r")
            else:
                record.append(line)
                quotes += line.count('"')
                if quotes % 2:  # inside a quoted field: the record goes on
                    continue
                first_line = self._next_line
                self._next_line += len(record)
                text = "\n".join(record).rstrip("\r")
                record, quotes = [], 0
            if text.strip():
                row = self._row(first_line, text)
                if row is not None:
                    rows.append(row)
        if record:  # an unfinished quoted record: keep it for the next chunk
            self._pending = "\n".join(record) + "\n" + self._pending
        return rows

    def _row(self, line: int, text: str) -> Row | None:
        if self._delimiter is None:
            self._delimiter = next((d for d in (",", ";", "\t") if d in text), ",")
            fields = self._fields(text)
            candidate = fields[0] if fields else ""
            named = [_canonical(f) for f in fields]
            if any(n in PHONE_COLUMN_NAMES for n in named) or not _looks_like_a_number(candidate):
                self._columns = [f.strip() or f"column{i + 1}" for i, f in enumerate(fields)]
                self._phone_column = next(
                    (i for i, n in enumerate(named) if n in PHONE_COLUMN_NAMES), 0
                )
                return None
        fields = self._fields(text)
        number = fields[self._phone_column].strip() if self._phone_column < len(fields) else ""
        if len(fields) == 1 and self._phone_column == 0:
            return Row(line, number, None)
        attributes = {}
        for i, value in enumerate(fields):
            if i != self._phone_column and (value := value.strip()):
                attributes[self._column_name(i)] = value
        return Row(line, number, attributes or None)

    def _fields(self, text: str) -> list[str]:
        assert self._delimiter is not None
        if '"' not in text:  # nothing to unquote: a plain split says the same, ten times faster
            return text.split(self._delimiter)
        return next(csv.reader([text], delimiter=self._delimiter), [])

    def _column_name(self, index: int) -> str:
        if self._columns is not None and index < len(self._columns):
            return self._columns[index]
        return f"column{index + 1}"
