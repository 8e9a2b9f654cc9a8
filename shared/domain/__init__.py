"""Pure domain rules: statuses, business hours, retry policy, phone numbers. No I/O here."""
