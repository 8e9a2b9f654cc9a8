"""The API's own description: OpenAPI 3.1 for machines, a page for people."""

from __future__ import annotations

from aiohttp import web

from services.api.http.docs_page import docs_html
from services.api.http.openapi import openapi_document

routes = web.RouteTableDef()


@routes.get("/api/v1/openapi.json")
async def openapi_json(_: web.Request) -> web.Response:
    return web.json_response(openapi_document())


@routes.get("/api/docs")
async def docs(_: web.Request) -> web.Response:
    return web.Response(text=docs_html(), content_type="text/html")
