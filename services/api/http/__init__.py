"""The HTTP edge: views, problem+json, pagination, API keys, rate limits, request parsing and
the OpenAPI document. Views parse a request, call an operation, and translate its answer."""
