"""Telephony providers: one interface, one module per provider, resilience around them all."""
