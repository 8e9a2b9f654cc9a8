"""The human docs page at /api/docs, rendered from the OpenAPI document: no scripts, no CDN."""

from __future__ import annotations

import json
from functools import cache
from html import escape
from typing import Any

from services.api.http.openapi import openapi_document

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#1d2330}
h1{margin-bottom:0}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
.op{border:1px solid #dde;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c22}
code,pre{font:13px ui-monospace,monospace;background:#f5f6f8;border-radius:4px}
pre{padding:.6rem;overflow:auto;max-height:24rem}table{border-collapse:collapse}
td,th{padding:.2rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
details summary{cursor:pointer;color:#345}
"""


@cache
def docs_html() -> str:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{escape(document['info']['title'])} API</title><style>{_STYLE}</style>"
        f"<h1>{escape(document['info']['title'])}</h1>",
        f"<p>{escape(document['info']['description'])}</p>",
        "<p>Send <code>Authorization: Bearer &lt;key&gt;</code> on every <code>/api</code> call"
        " except the provider callback. Errors are <code>application/problem+json</code>."
        ' Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>',
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            by_tag.setdefault(operation["tags"][0], []).append((method, path, operation))
    for tag, operations in by_tag.items():
        parts.append(f"<h2>{escape(tag)}</h2>")
        parts += [_operation(m, p, op, schemas) for m, p, op in operations]
    return "".join(parts) + "</html>"


def _operation(method: str, path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> str:
    html = [
        f'<div class=op><span class="m {method}">{method}</span> <code>{escape(path)}</code>'
        f" — {escape(operation['summary'])}"
    ]
    if description := operation.get("description"):
        html.append(f"<p>{escape(description)}</p>")
    if params := operation.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{p['in']}</td>"
            f"<td>{'required' if p['required'] else ''}</td>"
            f"<td>{escape(p['description'])}</td></tr>"
            for p in params
        )
        html.append(
            f"<table><tr><th>Parameter</th><th>In</th><th></th><th></th></tr>{rows}</table>"
        )
    if body := operation.get("requestBody"):
        for media, content in body["content"].items():
            html.append(_schema_block(f"Body ({media})", content["schema"], schemas))
    codes = ", ".join(
        f"<code>{code}</code> {escape(r['description'])}"
        for code, r in operation["responses"].items()
    )
    html.append(f"<p>Responses: {codes}</p>")
    ok = next(iter(operation["responses"].values()))
    for content in ok.get("content", {}).values():
        html.append(_schema_block("Response", content["schema"], schemas))
    return "".join(html) + "</div>"


def _schema_block(title: str, schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
    name = ref.rsplit("/", 1)[-1] if ref else None
    shown = schemas[name] if name else schema
    label = f"{title}: {name}{'[]' if 'items' in schema else ''}" if name else title
    return (
        f"<details><summary>{escape(label)}</summary>"
        f"<pre>{escape(json.dumps(shown, indent=2))}</pre></details>"
    )
