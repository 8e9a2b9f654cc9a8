"""What a request does: the database statements it runs and the events it publishes (through
`broker.Broker`, the api's only way to the message broker). No aiohttp here."""
