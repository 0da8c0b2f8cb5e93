"""Composition root: settings, CLI, wiring and channel adapters (Telegram, terminal)."""
