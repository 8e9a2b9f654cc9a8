from __future__ import annotations

from services.api.operations.number_file import NumberFileParser, Row


def parse(*chunks: str) -> list[Row]:
    parser = NumberFileParser()
    rows = [row for chunk in chunks for row in parser.feed(chunk)]
    return rows + parser.finish()


def test_plain_text_one_number_a_line() -> None:
    rows = parse("+14155550100\n(415) 555-0101\r\n\n+442079460958")
    assert [(r.line, r.number, r.attributes) for r in rows] == [
        (1, "+14155550100", None),
        (2, "(415) 555-0101", None),
        (4, "+442079460958", None),
    ]


def test_csv_with_a_header_keeps_the_other_columns_as_attributes() -> None:
    rows = parse("name,Phone Number,appointment\nAda,+14155550100,Mon 9:00\nBob,+14155550101,\n")
    assert rows == [
        Row(2, "+14155550100", {"name": "Ada", "appointment": "Mon 9:00"}),
        Row(3, "+14155550101", {"name": "Bob"}),
    ]


def test_csv_without_header_and_other_delimiters() -> None:
    assert parse("+14155550100;Ada\n") == [Row(1, "+14155550100", {"column2": "Ada"})]
    assert parse("msisdn\tname\n+14155550100\tAda\n") == [Row(2, "+14155550100", {"name": "Ada"})]


def test_records_split_anywhere_between_chunks_and_quoted_newlines() -> None:
    text = 'phone,note\n+14155550100,"two\nlines"\n+14155550101,x\n'
    expected = [
        Row(2, "+14155550100", {"note": "two\nlines"}),
        Row(4, "+14155550101", {"note": "x"}),
    ]
    for cut in range(len(text)):
        assert parse(text[:cut], text[cut:]) == expected, cut


def test_a_short_row_has_an_empty_number() -> None:
    assert parse("name,phone\nAda\n") == [Row(2, "", {"name": "Ada"})]
