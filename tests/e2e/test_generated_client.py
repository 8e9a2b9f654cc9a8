"""A client nobody here wrote: openapi-python-client generates a Python SDK from the live
document, with no configuration, and a campaign runs end to end through it, every answer
parsed into its typed model (with no field the model does not know)."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import TEST_API_KEY, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

#: The generated package's name: unlike anything importable here, so it cannot shadow it.
PACKAGE = "vcs_generated_client"
#: The venv this suite runs in: its generator, and the ruff the generator formats code with.
VENV_BIN = Path(sys.executable).parent


async def generate(document: Path, into: Path) -> None:
    """Run the generator with its defaults (no config file), warnings failing the run."""
    generator = VENV_BIN / "openapi-python-client"
    if not generator.is_file():
        pytest.fail(f"{generator} is missing: install the dev dependencies (make install)")
    process = await asyncio.create_subprocess_exec(
        str(generator),
        "generate",
        "--path",
        str(document),
        "--meta",
        "none",
        "--output-path",
        str(into / PACKAGE),
        "--fail-on-warning",
        cwd=into,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    """A temporary directory importable for the test's length; the package is forgotten after."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def sdk(module: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{module}")


def typed(answer: Any, model: type) -> Any:
    """The answer, checked to be the model and to carry no field the document left out."""
    assert isinstance(answer, model), f"expected {model.__name__}, got {answer!r}"
    assert answer.additional_properties == {}, answer.additional_properties
    return answer


async def test_a_generated_client_runs_a_campaign_end_to_end(
    stack: Stack, mock: MockClient, http: aiohttp.ClientSession, on_path: Path
) -> None:
    base_url = stack.url("api")
    async with http.get(f"{base_url}/api/v1/openapi.json") as response:
        assert response.status == 200
        document = on_path / "openapi.json"
        document.write_bytes(await response.read())
    await generate(document, on_path)

    client_module = sdk("client")
    models = sdk("models")
    create_campaign = sdk("api.campaigns.create_campaign")
    import_numbers = sdk("api.campaigns.import_numbers")
    start_campaign = sdk("api.campaigns.start_campaign")
    get_campaign = sdk("api.campaigns.get_campaign")
    list_campaigns = sdk("api.campaigns.list_campaigns")
    list_campaign_calls = sdk("api.campaigns.list_campaign_calls")
    create_call = sdk("api.calls.create_call")
    get_call = sdk("api.calls.get_call")

    client = client_module.AuthenticatedClient(
        base_url=base_url, token=TEST_API_KEY, raise_on_unexpected_status=True
    )
    async with client:
        created = typed(
            await create_campaign.asyncio(
                client=client,
                body=models.CampaignCreate(name="generated client", phone_numbers=fresh_numbers(3)),
            ),
            models.CampaignCreated,
        )
        assert created.status == "PENDING"
        summary = typed(created.import_summary, models.ImportResult)
        assert summary.total_imported == 3

        imported = typed(
            await import_numbers.asyncio(
                created.id,
                client=client,
                body=models.ImportBatch(phone_numbers=[*fresh_numbers(2), "+1415555"]),
            ),
            models.ImportResult,
        )
        assert (imported.total_imported, imported.invalid_skipped) == (2, 1)
        assert typed(imported.invalid_lines[0], models.InvalidLineOut).line == 3

        started = typed(await start_campaign.asyncio(created.id, client=client), models.CampaignOut)
        assert started.status == "IN_PROGRESS"

        async def finished() -> Any:
            campaign = typed(
                await get_campaign.asyncio(created.id, client=client), models.CampaignOut
            )
            return campaign if campaign.status == "COMPLETED" else None

        done = await wait_until(finished, timeout=60, interval=0.2, message="campaign to finish")
        assert typed(done.metrics, models.CampaignMetrics).completed_calls == 5

        listed = await list_campaigns.asyncio(client=client)
        assert isinstance(listed, list)
        assert created.id in {typed(c, models.CampaignOut).id for c in listed}
        calls = await list_campaign_calls.asyncio(created.id, client=client)
        assert isinstance(calls, list) and len(calls) == 5
        assert {typed(c, models.CallOut).status for c in calls} == {"COMPLETED"}

        single = typed(
            await create_call.asyncio(
                client=client, body=models.SingleCallCreate(phone_number=fresh_numbers(1)[0])
            ),
            models.CallOut,
        )

        async def single_completed() -> Any:
            call = typed(await get_call.asyncio(single.id, client=client), models.CallOut)
            return call if call.status == "COMPLETED" else None

        call = await wait_until(single_completed, timeout=30, interval=0.2, message="the call")
        assert typed(call.attempts[0], models.AttemptOut).outcome == "COMPLETED"
