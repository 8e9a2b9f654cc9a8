"""The OpenAPI 3.1 document, built from the same pydantic models that validate requests and
shape responses: the components shared by every endpoint and the assembly of the paths from
openapi_endpoints.ENDPOINTS."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.api.http.openapi_endpoints import ENDPOINTS, Endpoint

PROBLEM = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Stable identifier, e.g. /problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, for a person"},
        "errors": {
            "type": "array",
            "description": "For validation errors: each failing field by its path",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "campaignStatus": {"type": "string", "description": "For conflicts: the status now"},
    },
}

HEALTH = {
    "type": "object",
    "required": ["status", "components"],
    "properties": {
        "status": {"type": "string", "enum": ["UP", "DOWN"]},
        "components": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "enum": ["UP", "DOWN"]}},
            },
        },
    },
}

_ERROR_TEXT = {
    400: "Malformed request: a body that is not JSON or a multipart body that cannot be read,"
    " or a query parameter without a name",
    401: "Missing or wrong API key (or callback signature)",
    403: "Missing or wrong carrier signature",
    404: "No such resource",
    409: "The resource's state does not allow it",
    410: "What was asked for is no longer kept",
    413: "The body is larger than the configured limit",
    415: "The body is not of the media type this endpoint takes",
    422: "Invalid input; `errors` names each failing field",
    429: "Rate limit reached; see Retry-After",
    503: "A dependency is unavailable, or a concurrent change got in the way; try again",
}

RATE_HEADERS = {
    name: {"schema": {"type": "string"}, "description": text}
    for name, text in (
        ("RateLimit-Limit", "Burst size of the client's token bucket"),
        ("RateLimit-Remaining", "Requests left in the bucket"),
        ("RateLimit-Reset", "Seconds until the bucket is full again"),
    )
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "operationId": endpoint.operation_id,
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    if endpoint.params:
        operation["parameters"] = [
            {
                "name": p.name,
                "in": p.location,
                "required": p.required,
                "description": p.description,
                "schema": p.schema,
            }
            for p in endpoint.params
        ]
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.body)}},
        }
    if endpoint.form_body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _ref(endpoint.form_body)}},
        }
    if endpoint.multipart:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            **dict(endpoint.multipart_fields),
                        },
                        # A part of another name is refused (uploads.py), not ignored.
                        "additionalProperties": False,
                    }
                }
            },
        }
    ok: dict[str, Any] = {"description": "OK", "headers": {**RATE_HEADERS, **endpoint.ok_headers}}
    if endpoint.links_to:
        ok["links"] = {
            target[0].upper() + target[1:]: {
                "operationId": target,
                "parameters": {"id": "$response.body#/id"},
            }
            for target in endpoint.links_to
        }
    if endpoint.ok_model is not None:
        schema: dict[str, Any] = _ref(endpoint.ok_model)
        if endpoint.ok_list:
            schema = {"type": "array", "items": schema}
        ok["content"] = {"application/json": {"schema": schema}}
    if endpoint.ok_text:
        ok["content"] = {endpoint.ok_text: {"schema": {"type": "string"}}}
    responses = {str(endpoint.ok_status): ok}
    # Any request can be malformed, be refused for pace, or meet a part that is down.
    codes = set(endpoint.errors) | {400, 429, 503}
    if not endpoint.public:
        codes.add(401)
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    operation["responses"] = responses
    if endpoint.public:
        operation["security"] = []
    return operation


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document; computed once per process."""
    request_models = {e.body for e in ENDPOINTS if e.body is not None}
    request_models |= {e.form_body for e in ENDPOINTS if e.form_body is not None}
    response_models = {e.ok_model for e in ENDPOINTS if e.ok_model is not None}
    _, schemas = models_json_schema(
        [(m, "validation") for m in request_models]
        + [(m, "serialization") for m in response_models],
        ref_template="#/components/schemas/{model}",
    )
    components = {**schemas.get("$defs", {}), "Problem": PROBLEM, "Health": HEALTH}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method] = _operation(endpoint)
    for path, operation_id in (("/health", "getHealth"), ("/actuator/health", "getActuatorHealth")):
        paths[path] = {"get": {**_health_operation(), "operationId": operation_id}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Voice Campaign Service",
            "version": "1.0.0",
            "description": "Outbound voice campaigns: load numbers, set calling hours, limits"
            " and retries, start, and watch every call reach a final state.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "API key"}
            },
        },
    }


def _health_operation() -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
    return {
        "summary": "Health of the database and broker connections",
        "tags": ["Operations"],
        "security": [],
        "responses": {
            "200": {"description": "Every part is up", "content": content},
            "503": {"description": "A part is down", "content": content},
        },
    }
