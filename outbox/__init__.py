"""The durable outbox: everything the bot sends on its own initiative (alerts, relays, reminders)."""
