"""Webhooks: endpoint secrets, address checks, signing, rendering and the deliverer that runs
in the api process (docs/webhooks.md)."""
