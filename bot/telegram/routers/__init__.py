"""Routers assembled in one function (see MasterGroosha/telegram-report-bot)."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.routers import companion, counsellor, staff


def build_root_router() -> Router:
    root = Router(name="root")
    # Order matters: counsellor and staff routers filter on their chats and ids first;
    # the companion router catches everything a young person sends.
    root.include_router(counsellor.build_router())
    root.include_router(staff.build_router())
    root.include_router(companion.build_router())
    return root
