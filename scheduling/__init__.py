"""Check-ins and group-activity reminders on APScheduler, with Redis as the source of truth."""
