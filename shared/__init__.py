"""Code shared by the four services: settings, messages, topology, database and domain rules."""
