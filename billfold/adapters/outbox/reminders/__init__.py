"""Payer reminders through the outbox: storing, sending and the providers (docs/reminders.md)."""
