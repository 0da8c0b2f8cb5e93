"""The Telegram channel (aiogram 3). Only this package and `bot/` import aiogram."""
