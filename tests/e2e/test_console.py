"""The web console in headless Chromium (Debian's, driven by playwright-core) against a stack
of its own: sign in, an invalid form, a campaign from an uploaded CSV started, paused, resumed
and completed, its CSV exported (the page following the live event stream), one call, the
overview, a webhook added with its test delivered, a phone-sized screen. Screenshots of
every page go to test-artifacts/console/."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook

from tests.conftest import E2E_SETTINGS
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers
from tests.support.stack import ROOT, Stack, full_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

UI = ROOT / "services" / "ui"
ARTIFACTS = ROOT / "test-artifacts" / "console"
#: Calls long enough for the test to see progress and pause before the campaign ends.
#: Every call answered, so that the campaign ends without waiting for retries.
CARRIER = {
    "VCS_MOCK_DELAY_MIN_MS": "500",
    "VCS_MOCK_DELAY_MAX_MS": "800",
    "VCS_MOCK_FAILURE_RATE": "0",
    "VCS_MOCK_NO_CALLBACK_RATE": "0",
    "VCS_MOCK_SYNC_ERROR_RATE": "0",
}


def chromium() -> str:
    found = os.environ.get("VCS_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.skip(
            "no Chromium: `make browser` installs Debian's chromium package (apt); "
            "the console's browser tests need it"
        )
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def console_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    chromium()
    if not (UI / "dist" / "index.html").is_file():
        pytest.fail("the console is not built: `make ui` builds it (make test does)")
    settings = {**E2E_SETTINGS, **CARRIER}
    async with full_stack(tmp_path_factory, request, "vcs_console", settings) as running:
        yield running


async def test_operating_a_campaign_from_the_browser(console_stack: Stack, tmp_path: Path) -> None:
    numbers = fresh_numbers(61)
    lines = ["phone,patient"]
    lines += [f"{number},patient {i}" for i, number in enumerate(numbers[:60])]
    lines += [f"{numbers[0]},again", "not-a-number,nobody"]
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text("\n".join(lines) + "\n")

    received: list[tuple[str, dict[str, str]]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.text(), dict(request.headers)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    receiver = TestServer(app, host="127.0.0.1")
    await receiver.start_server()
    try:
        report, returncode = await _run_script(console_stack, csv_file, numbers, receiver)
    finally:
        await receiver.close()
    assert returncode == 0, report
    assert "all steps passed" in report
    shots = sorted(p.name for p in ARTIFACTS.glob("*.png"))
    assert len(shots) >= 11, shots
    # The webhook added in the browser got its test event, signed with the secret shown.
    secret = re.search(r"secret (whsec_\S+)", report)
    assert secret, report
    tests = [Webhook(secret[1]).verify(body, headers) for body, headers in received]
    assert any(event["type"] == "webhook.test" for event in tests), tests


async def _run_script(
    console_stack: Stack, csv_file: Path, numbers: list[str], receiver: TestServer
) -> tuple[str, int | None]:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(UI / "e2e" / "console.mjs"),
        cwd=UI,
        env={
            **os.environ,
            "BASE_URL": console_stack.url("api"),
            "API_KEY": TEST_API_KEY,
            "CHROMIUM": chromium(),
            "ARTIFACTS": str(ARTIFACTS),
            "CSV_FILE": str(csv_file),
            "EXPECT_ACCEPTED": "60",
            "EXPECT_DUPLICATES": "1",
            "EXPECT_INVALID": "1",
            "SINGLE_NUMBER": numbers[60],
            "RECEIVER_URL": str(receiver.make_url("/hook")),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    report = output.decode(errors="replace")
    print(report)
    return report, process.returncode
