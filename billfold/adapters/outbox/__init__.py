"""The outbox: fan-out of events to endpoints, the dispatcher, webhook signing and transport,
and the real-time pushes to the housing bureau."""
