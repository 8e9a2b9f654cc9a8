"""100,000 numbers into a campaign, by JSON and by file upload, with the api's memory watched."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import ApiClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

#: The most the api process may grow while it ingests 100,000 numbers. Measured: about 25 MB
#: for a JSON list (the parsed list and the set of numbers seen), about 6 MB for a file, which
#: is parsed as it arrives. Validation runs in child processes.
MEMORY_BOUND_MB = 40

VALID, DUPLICATES, INVALID = 99_000, 500, 500


def json_stream(body: Any) -> io.BytesIO:
    """A large JSON body as a stream (aiohttp warns about large bodies given as bytes)."""
    return io.BytesIO(json.dumps(body).encode())


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


class PeakMemory:
    """The growth of a process's peak resident memory from now on, in MB (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak to the current size
        self.start_kb = _status(pid)["VmRSS"]

    def growth_mb(self) -> float:
        return (_status(self.pid)["VmHWM"] - self.start_kb) / 1024


def hundred_thousand() -> tuple[list[str], set[int]]:
    """Numbers with known duplicates and invalid entries; the positions of the invalid ones."""
    valid = fresh_numbers(VALID)
    numbers = valid + valid[:DUPLICATES] + ["+1415555"] * INVALID
    return numbers, set(range(VALID + DUPLICATES, len(numbers)))


def assert_counts(result: dict[str, Any]) -> None:
    assert result["totalReceived"] == VALID + DUPLICATES + INVALID
    assert result["totalImported"] == VALID
    assert result["duplicatesSkipped"] == DUPLICATES
    assert result["invalidSkipped"] == INVALID
    assert result["status"] == "PARTIALLY_IMPORTED"
    assert len(result["invalidLines"]) == INVALID


async def test_100k_numbers_by_json(api: ApiClient, stack: Stack) -> None:
    campaign = await api.create_campaign(name="json 100k")
    numbers, invalid_positions = hundred_thousand()
    peak = PeakMemory(stack.services["api"].process.pid)
    response = await api.request(
        "POST",
        f"/api/v1/campaigns/{campaign['id']}/import/batch",
        data=json_stream({"phoneNumbers": numbers}),
        headers={"Content-Type": "application/json"},
    )
    growth = peak.growth_mb()
    assert response.status == 200, response.body
    assert_counts(response.body)
    assert {bad["line"] - 1 for bad in response.body["invalidLines"]} == invalid_positions
    assert growth < MEMORY_BOUND_MB, f"the api grew by {growth:.0f} MB"
    assert (await api.campaign(campaign["id"]))["metrics"]["totalCalls"] == VALID


async def test_100k_numbers_by_csv_upload(
    api: ApiClient, stack: Stack, http: aiohttp.ClientSession
) -> None:
    campaign = await api.create_campaign(name="csv 100k")
    numbers, _ = hundred_thousand()
    body = "phone,customer\n" + "".join(f"{n},c{i}\n" for i, n in enumerate(numbers))
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(body.encode()), filename="list.csv", content_type="text/csv")
    peak = PeakMemory(stack.services["api"].process.pid)
    response = await api.request("POST", f"/api/v1/campaigns/{campaign['id']}/import", data=form)
    growth = peak.growth_mb()
    assert response.status == 200, response.body
    assert_counts(response.body)
    # File lines count the header: the first invalid number is on line 2 + its position.
    assert response.body["invalidLines"][0]["line"] == VALID + DUPLICATES + 2
    assert growth < MEMORY_BOUND_MB, f"the api grew by {growth:.0f} MB"
    [first] = (
        await api.request("GET", f"/api/v1/campaigns/{campaign['id']}/calls", params={"size": 1})
    ).body
    assert first["phoneNumber"] == numbers[0] and first["attributes"] == {"customer": "c0"}


async def test_a_campaign_created_with_100k_numbers_inline(api: ApiClient) -> None:
    numbers = fresh_numbers(100_000)
    response = await api.request(
        "POST",
        "/api/v1/campaigns",
        data=json_stream({"name": "inline 100k", "phoneNumbers": numbers}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201, response.body
    assert response.body["metrics"]["totalCalls"] == 100_000
    # As the seed did, an invalid number is skipped and reported; strictNumbers refuses it.
    lenient = await api.request(
        "POST", "/api/v1/campaigns", json={"name": "x", "phoneNumbers": [*numbers[:10], "bad"]}
    )
    assert lenient.status == 201, lenient.body
    assert lenient.body["importSummary"]["invalidSkipped"] == 1
    assert lenient.body["importSummary"]["invalidLines"][0]["line"] == 11
    strict = await api.request(
        "POST",
        "/api/v1/campaigns",
        json={"name": "x", "phoneNumbers": [*numbers[:10], "bad"], "strictNumbers": True},
    )
    assert strict.status == 422
    assert strict.body["errors"][0]["field"] == "phoneNumbers[10]"


async def test_status_filter_on_a_large_campaign(api: ApiClient) -> None:
    campaign = await api.create_campaign(name="filter", phoneNumbers=fresh_numbers(20_000))
    response = await api.request(
        "GET", f"/api/v1/campaigns/{campaign['id']}/calls", params={"status": "FAILED"}
    )
    assert response.status == 200 and response.body == []
    assert response.headers["X-Total-Count"] == "0"
