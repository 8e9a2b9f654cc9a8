"""The schema dump keeps the schema and leaves out what changes from run to run."""

from __future__ import annotations

from shared.db.schema_dump import normalise


def test_unstable_lines_are_left_out() -> None:
    dump = (
        "--\n-- PostgreSQL database dump\n--\n\\restrict abc123\n"
        "-- Dumped from database version 15.20\nSET statement_timeout = 0;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
        "CREATE TABLE public.t (\n    id integer\n);\n"
        "CREATE FUNCTION public.f() RETURNS int AS $$\n    -- kept: a comment in a body\n"
        "    SELECT 1\n$$;\n\\unrestrict abc123\n"
    )
    text = normalise(dump)
    assert "restrict" not in text and "SET " not in text and "Dumped" not in text
    assert "set_config" not in text and "\n\n\n" not in text
    assert "CREATE TABLE public.t (\n    id integer\n);" in text
    assert "    -- kept: a comment in a body" in text
