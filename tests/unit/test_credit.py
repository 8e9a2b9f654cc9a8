from __future__ import annotations

from services.dispatcher.credit import jobs_to_publish


def test_one_job_per_free_line_plus_a_buffer() -> None:
    assert jobs_to_publish(lines=5, in_flight=0, queued=0, dialable=100, queued_per_line=1) == 10
    assert jobs_to_publish(lines=5, in_flight=5, queued=0, dialable=100, queued_per_line=1) == 5
    assert jobs_to_publish(lines=5, in_flight=5, queued=5, dialable=100, queued_per_line=1) == 0


def test_never_more_jobs_than_numbers_to_dial() -> None:
    assert jobs_to_publish(lines=50, in_flight=0, queued=0, dialable=3, queued_per_line=1) == 3
    assert jobs_to_publish(lines=50, in_flight=0, queued=3, dialable=3, queued_per_line=1) == 0
    assert jobs_to_publish(lines=5, in_flight=0, queued=0, dialable=0, queued_per_line=1) == 0


def test_a_lowered_limit_publishes_nothing_until_lines_free_up() -> None:
    assert jobs_to_publish(lines=2, in_flight=6, queued=0, dialable=100, queued_per_line=1) == 2
    assert jobs_to_publish(lines=2, in_flight=6, queued=2, dialable=100, queued_per_line=0) == 0


def test_without_buffer_only_free_lines_get_jobs() -> None:
    assert jobs_to_publish(lines=4, in_flight=1, queued=0, dialable=100, queued_per_line=0) == 3
