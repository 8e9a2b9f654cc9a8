"""The HTTP API: campaigns, single calls, provider callbacks, health."""
