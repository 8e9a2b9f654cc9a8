"""Thin HTTP clients for the api and the mock carrier, as tests use them."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

DEFAULT_MOCK = {
    "delayMinMs": 50,
    "delayMaxMs": 200,
    "failureRate": 0,
    "noCallbackRate": 0,
    "syncErrorRate": 0,
    "scenarios": {},
}


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


#: The key every test stack accepts (VCS_API_KEYS) and the secret that signs its callbacks.
TEST_API_KEY = "test-key-0123456789"
TEST_CALLBACK_SECRET = "test-callback-secret"


@dataclass
class ApiClient:
    http: aiohttp.ClientSession
    base_url: str
    key: str | None = TEST_API_KEY

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        url = f"{self.base_url}{path}"
        async with self.http.request(method, url, headers=headers, **kwargs) as response:
            text = await response.text()
            body: Any = text
            if response.content_type.endswith("json") and text:
                body = await response.json(content_type=None)
            return Response(response.status, body, dict(response.headers))

    async def create_campaign(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", "test campaign")
        # A stream, so that a body of 100,000 numbers is sent without blocking the loop.
        response = await self.request(
            "POST",
            "/api/v1/campaigns",
            data=io.BytesIO(json.dumps(fields).encode()),
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 201, response.body
        return dict(response.body)

    async def action(self, campaign_id: str, verb: str) -> dict[str, Any]:
        response = await self.request("POST", f"/api/v1/campaigns/{campaign_id}/{verb}")
        assert response.status == 200, response.body
        return dict(response.body)

    async def campaign(self, campaign_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/api/v1/campaigns/{campaign_id}")
        assert response.status == 200, response.body
        return dict(response.body)

    async def calls(self, campaign_id: str, **params: Any) -> list[dict[str, Any]]:
        """Every call of the campaign, walking all pages."""
        result: list[dict[str, Any]] = []
        page = 0
        while True:
            response = await self.request(
                "GET",
                f"/api/v1/campaigns/{campaign_id}/calls",
                params={"page": page, "size": 1000, **params},
            )
            assert response.status == 200, response.body
            result.extend(response.body)
            if len(response.body) < 1000:
                return result
            page += 1

    async def call(self, call_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/api/v1/calls/{call_id}")
        assert response.status == 200, response.body
        return dict(response.body)


@dataclass
class MockClient:
    http: aiohttp.ClientSession
    base_url: str

    async def configure(self, **config: Any) -> None:
        body = {**DEFAULT_MOCK, **config}
        async with self.http.put(f"{self.base_url}/mock/config", json=body) as response:
            assert response.status == 200, await response.text()

    async def stats(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base_url}/mock/stats") as response:
            return dict(await response.json())

    async def reset(self) -> None:
        """Forget the dials and peaks so far."""
        async with self.http.post(f"{self.base_url}/mock/reset") as response:
            assert response.status in (200, 204), await response.text()

    async def calls(self, **params: str) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.base_url}/mock/calls", params=params) as response:
            return list(await response.json())
