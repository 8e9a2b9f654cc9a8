"""The web console's files at `/`, and a campaign's calls exported as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from uuid import uuid4

import pytest

from services.api.app import create_app
from services.api.operations import export
from shared.settings import Settings
from tests.integration.test_api_features import AUTH, Client, MakeClient, create
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    return await aiohttp_client(create_app(settings), headers=AUTH)


async def test_the_console_is_served_at_the_root_without_a_key(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "app-1.js").write_text("console.log(1)")
    client = await aiohttp_client(create_app(settings.model_copy(update={"ui_dir": str(tmp_path)})))

    page = await client.get("/")
    assert page.status == 200
    assert "console" in await page.text()
    assert page.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    asset = await client.get("/assets/app-1.js")
    assert asset.status == 200
    # The API behind it still wants a key.
    assert (await client.get("/api/v1/campaigns")).status == 401


async def test_an_unbuilt_console_says_how_to_build_it(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"ui_dir": str(tmp_path)})))
    page = await client.get("/")
    assert page.status == 503
    assert "make ui" in await page.text()


async def test_calls_export_as_csv(client: Client) -> None:
    numbers = fresh_numbers(3)
    campaign = await create(client, phoneNumbers=numbers)
    response = await client.get(f"/api/v1/campaigns/{campaign['id']}/calls/export")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["phoneNumber"] for r in rows] == numbers
    assert {r["status"] for r in rows} == {"PENDING"}
    assert {r["attempts"] for r in rows} == {"0"}
    assert list(rows[0]) == export.COLUMNS

    failed = await client.get(f"/api/v1/campaigns/{campaign['id']}/calls/export?status=FAILED")
    assert list(csv.DictReader(io.StringIO(await failed.text()))) == []


async def test_a_large_export_streams_every_call_once(client: Client) -> None:
    numbers = fresh_numbers(export.CHUNK + 7)
    campaign = await create(client, phoneNumbers=numbers)
    response = await client.get(f"/api/v1/campaigns/{campaign['id']}/calls/export")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["phoneNumber"] for r in rows] == numbers


async def test_export_of_an_unknown_campaign_or_status(client: Client) -> None:
    missing = await client.get(f"/api/v1/campaigns/{uuid4()}/calls/export")
    assert missing.status == 404
    campaign = await create(client)
    bad = await client.get(f"/api/v1/campaigns/{campaign['id']}/calls/export?status=EXPLODED")
    assert bad.status == 422


async def test_export_needs_a_key(aiohttp_client: MakeClient, settings: Settings) -> None:
    anonymous = await aiohttp_client(create_app(settings))
    response = await anonymous.get(f"/api/v1/campaigns/{uuid4()}/calls/export")
    assert response.status == 401
