"""schemathesis against the running api: no 5xx, and every answer as its document says.

Two runs: an in-process one over every operation (positive and negative data), and the
schemathesis command line with every check and every phase (examples, coverage, fuzzing and
the stateful phase, which follows the document's links from a created campaign or call).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from services.api.http.openapi import openapi_document
from tests.support.api_client import TEST_API_KEY, ApiClient
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

# The document the api serves is built by this function; test_the_served_document_is_this_one
# checks that the live one is the same.
schema = schemathesis.openapi.from_dict(openapi_document()).exclude(
    # A valid request gets a stream that does not end (tests/fuzz/schemathesis.toml).
    operation_id="streamEvents"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzed_api(stack: Stack) -> AsyncIterator[str]:
    """An api process of its own, with a rate limit the fuzzer does not run into; stopped
    after this module (its deliverer, refusing private addresses, would refuse the later
    tests' receivers on 127.0.0.1)."""
    service = await stack.start(
        "api",
        "api-fuzzed",
        VCS_RATE_LIMIT_PER_SECOND="100000",
        VCS_RATE_LIMIT_BURST="100000",
        # The fuzzer's webhooks point anywhere; none may reach this machine's services.
        VCS_WEBHOOK_ALLOW_PRIVATE="false",
    )
    yield service.base_url
    await stack.stop("api-fuzzed")


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def nothing_left_behind(stack: Stack, http: aiohttp.ClientSession) -> AsyncIterator[None]:
    """After this module, through the API: cancel every campaign the fuzzer left running,
    paused or waiting to start (it starts campaigns other tests created: one of 20,000
    numbers dialled on for five minutes at 54 calls a second, under the next modules'
    measurements), and delete the webhooks it made (each takes events, and delivery slots,
    from the tests that follow)."""
    yield
    conn = await asyncpg.connect(stack.infra.database_url)
    try:
        campaigns = await conn.fetch(
            "SELECT id FROM campaigns WHERE kind = 'CAMPAIGN'"
            " AND status IN ('PENDING', 'IN_PROGRESS', 'PAUSED')"
        )
        webhooks = await conn.fetch("SELECT id FROM webhook_endpoints")
    finally:
        await conn.close()
    api = ApiClient(http, stack.url("api"))
    for row in campaigns:
        answer = await api.request("POST", f"/api/v1/campaigns/{row['id']}/cancel")
        assert answer.status in (200, 409), answer  # 409: it finished meanwhile
    for row in webhooks:
        answer = await api.request("DELETE", f"/api/v1/webhooks/{row['id']}")
        assert answer.status in (204, 404), answer


@pytest.fixture(scope="session")
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_the_served_document_is_this_one(fuzzed_api: str, http_session: requests.Session) -> None:
    served = http_session.get(f"{fuzzed_api}/api/v1/openapi.json", timeout=10).json()
    assert served == openapi_document()
    docs = http_session.get(f"{fuzzed_api}/api/docs", timeout=10)
    assert docs.status_code == 200 and "/api/v1/campaigns" in docs.text


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_does_what_its_document_says(
    case: schemathesis.Case, fuzzed_api: str, http_session: requests.Session
) -> None:
    case.call_and_validate(
        base_url=fuzzed_api,
        session=http_session,
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        # The API enforces rules a JSON Schema cannot state: numbering plans, cursors only
        # it can make, single-use idempotency keys. Schema-valid data may still get a 422.
        excluded_checks=[positive_data_acceptance],
    )


FUZZ = Path(__file__).resolve().parents[1] / "fuzz"


def test_every_check_in_every_phase(fuzzed_api: str) -> None:
    """`schemathesis run` with every check: nothing a client sends gets a 5xx, an undocumented
    status or an answer that breaks its schema; valid data is accepted (tests/fuzz says which
    refusals the document allows, and why)."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.formats", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(FUZZ / "schemathesis.toml"),
        "run",
        f"{fuzzed_api}/api/v1/openapi.json",
        # Every check: the config file enables them all (see there why not `--checks all`).
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        os.environ.get("VCS_FUZZ_EXAMPLES", "15"),
        "--seed",
        "2026",
        "--header",
        f"Authorization: Bearer {TEST_API_KEY}",
        "--request-timeout",
        "20",
        "--workers",
        "2",
    ]
    ran = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert ran.returncode == 0, ran.stdout[-15_000:] + ran.stderr[-3000:]
