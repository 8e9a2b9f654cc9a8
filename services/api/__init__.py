"""The HTTP API: campaigns, single calls, provider callbacks, health.

`http/` is the edge (views, errors as problem+json, pagination, API keys, rate limits, the
OpenAPI document, the console's files); `operations/` is what a request does to the database
and which events it publishes. `schemas.py` and `stats_schemas.py` are the request and
response bodies both layers speak, `presenters.py` turns domain objects into them, and
`app.py` puts it together: `create_app(settings, deps=None)`.
"""
