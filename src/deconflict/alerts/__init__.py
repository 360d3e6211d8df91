"""Alerts: subscriptions, a durable outbox, the live stream and signed webhooks."""
