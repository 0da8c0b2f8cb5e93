"""A fake Telegram Bot API server over HTTP on loopback.

aiogram's real client (AiohttpSession via `TelegramAPIServer.from_base`) talks to it, so tests
exercise real serialisation, retries and 429 handling. It records every call, serves getUpdates
from a queue (long polling), builds updates for tests, and can inject failures (429 with
retry_after, 5xx, 403) and enforce Telegram-like pacing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 777000111
BOT_USERNAME = "ieum_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    ts: float
    token: str

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        markup = self.params.get("reply_markup") or {}
        return markup.get("inline_keyboard", []) if isinstance(markup, dict) else []

    @property
    def button_data(self) -> list[str]:
        return [b.get("callback_data", "") for row in self.buttons for b in row]


@dataclass
class FailureRule:
    method: str | None  # None matches every method
    status: int
    description: str
    retry_after: int | None = None
    remaining: int = 1  # how many calls fail; -1 means forever
    chat_id: str | None = None


@dataclass
class FakeTelegram:
    """State of the fake server. Start with `await fake.start()`; `fake.base_url` is the API base."""

    host: str = "127.0.0.1"
    port: int = 0
    token: str = "123456:TEST-TOKEN"
    rate_limit_per_s: float | None = None  # global sends/s before answering 429 (like Telegram)
    per_chat_per_s: float | None = None
    calls: list[Call] = field(default_factory=list)
    failures: list[FailureRule] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _thread_ids: itertools.count = field(default_factory=lambda: itertools.count(500))
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _new_call: asyncio.Event = field(default_factory=asyncio.Event)
    _send_times: deque[float] = field(default_factory=deque)
    _chat_times: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _runner: web.AppRunner | None = None
    on_call: Callable[[Call], None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._new_update.set()  # release any long poll still waiting, so shutdown is quick
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- building updates ----------------------------------------------------------------------
    def next_update_id(self) -> int:
        return next(self._update_ids)

    @staticmethod
    def user(user_id: int, language_code: str = "ko") -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": "Test",
            "language_code": language_code,
        }

    def message_update(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        update_id: int | None = None,
        language_code: str = "ko",
        extra: dict[str, Any] | None = None,
        chat_type: str = "private",
        from_id: int | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        edited: bool = False,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": self.user(from_id or chat_id, language_code),
        }
        if chat_type != "private":
            message["chat"]["title"] = "Counsellors"
            message["chat"]["is_forum"] = thread_id is not None
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                cmd = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(cmd)}]
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to_message_id is not None:
            message["reply_to_message"] = {
                "message_id": reply_to_message_id,
                "date": int(time.time()),
                "chat": message["chat"],
            }
        if extra:
            message.update(extra)
        if edited:
            message["edit_date"] = int(time.time())
        key = "edited_message" if edited else "message"
        return {"update_id": update_id or self.next_update_id(), key: message}

    def sticker_update(self, chat_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgAD",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "🙂",
        }
        return self.message_update(chat_id, None, extra={"sticker": sticker})

    def photo_update(self, chat_id: int) -> dict[str, Any]:
        photo = [{"file_id": "AgACAgIAAx", "file_unique_id": "AQAD", "width": 90, "height": 90}]
        return self.message_update(chat_id, None, extra={"photo": photo})

    def voice_update(self, chat_id: int) -> dict[str, Any]:
        voice = {"file_id": "AwACAgIAAx", "file_unique_id": "AgADv", "duration": 3}
        return self.message_update(chat_id, None, extra={"voice": voice})

    def callback_update(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int = 1,
        from_id: int | None = None,
        chat_type: str = "private",
        update_id: int | None = None,
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Counsellors"
        return {
            "update_id": update_id or self.next_update_id(),
            "callback_query": {
                "id": str(next(self._message_ids) + 900_000),
                "from": self.user(from_id or chat_id),
                "chat_instance": "ci-1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": chat,
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "ieum"},
                    "text": "…",
                },
            },
        }

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (long polling)."""
        self._updates.append(update)
        self._new_update.set()
        return update

    # --- failure injection ------------------------------------------------------------------
    def fail(
        self,
        method: str | None,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        chat_id: str | int | None = None,
    ) -> FailureRule:
        rule = FailureRule(
            method=method,
            status=status,
            description=description or _default_description(status),
            retry_after=retry_after,
            remaining=times,
            chat_id=None if chat_id is None else str(chat_id),
        )
        self.failures.append(rule)
        return rule

    # --- inspecting ---------------------------------------------------------------------------
    def calls_to(self, method: str, chat_id: str | int | None = None) -> list[Call]:
        return [
            c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == str(chat_id))
        ]

    def texts_to(self, chat_id: str | int) -> list[str]:
        return [c.text for c in self.calls_to("sendMessage", chat_id)]

    async def wait_for(
        self,
        predicate: Callable[[list[Call]], bool],
        timeout: float = 5.0,
    ) -> list[Call]:
        """Wait until `predicate(self.calls)` is true; raise TimeoutError with a summary if not."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.calls):
                return self.calls
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                summary = [(c.method, c.chat_id, c.text[:40]) for c in self.calls[-10:]]
                raise TimeoutError(f"condition not met; last calls: {summary}")
            self._new_call.clear()
            try:
                await asyncio.wait_for(self._new_call.wait(), timeout=min(remaining, 0.2))
            except TimeoutError:
                pass

    async def wait_for_messages(self, chat_id: str | int, count: int, timeout: float = 5.0) -> list[str]:
        await self.wait_for(lambda _c: len(self.texts_to(chat_id)) >= count, timeout)
        return self.texts_to(chat_id)

    # --- HTTP ----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        if token != self.token:
            return _error(401, "Unauthorized")
        params = await _read_params(request)
        lowered = method.lower()
        if lowered == "getupdates":
            return await self._get_updates(params)
        call = Call(method=method, params=params, ts=time.monotonic(), token=token)
        failure = self._match_failure(call)
        if failure is None:
            failure = self._pace(call)
        if failure is not None:
            call.params["_failed"] = failure.status
            self._record(call)
            return _error(failure.status, failure.description, failure.retry_after)
        self._record(call)
        return web.json_response({"ok": True, "result": self._result(call)})

    def webhook_reply(self, body: dict[str, Any]) -> None:
        """A method the bot gave in its response to a webhook call: Telegram runs it (with no
        result reported back), so it is recorded like any other call."""
        params = {k: v for k, v in body.items() if k != "method"}
        self._record(Call(method=str(body["method"]), params=params, ts=time.monotonic(), token=self.token))

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        self._new_call.set()

    def _match_failure(self, call: Call) -> FailureRule | None:
        for rule in self.failures:
            if rule.remaining == 0:
                continue
            if rule.method is not None and rule.method.lower() != call.method.lower():
                continue
            if rule.chat_id is not None and rule.chat_id != call.chat_id:
                continue
            if rule.remaining > 0:
                rule.remaining -= 1
            return rule
        return None

    def _pace(self, call: Call) -> FailureRule | None:
        if call.method not in ("sendMessage", "editMessageText", "createForumTopic"):
            return None
        now = time.monotonic()
        if self.rate_limit_per_s:
            while self._send_times and now - self._send_times[0] >= 1.0:
                self._send_times.popleft()
            if len(self._send_times) >= self.rate_limit_per_s:
                return FailureRule(None, 429, "Too Many Requests: retry after 1", retry_after=1)
        if self.per_chat_per_s and call.chat_id is not None:
            times = self._chat_times[call.chat_id]
            while times and now - times[0] >= 1.0:
                times.popleft()
            if len(times) >= self.per_chat_per_s:
                return FailureRule(None, 429, "Too Many Requests: retry after 1", retry_after=1)
            times.append(now)
        if self.rate_limit_per_s:
            self._send_times.append(now)
        return None

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout=timeout)
            except TimeoutError:
                pass
        limit = int(params.get("limit") or 100)
        return web.json_response({"ok": True, "result": self._updates[:limit]})

    def _result(self, call: Call) -> Any:
        method = call.method
        p = call.params
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "ieum",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": True,
                "supports_inline_queries": False,
            }
        if method in ("sendMessage", "editMessageText"):
            chat_id = p.get("chat_id")
            message: dict[str, Any] = {
                "message_id": int(p["message_id"])
                if method == "editMessageText" and p.get("message_id")
                else next(self._message_ids),
                "date": int(time.time()),
                "chat": {
                    "id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else 0,
                    "type": "private" if not str(chat_id).startswith("-") else "supergroup",
                },
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "ieum"},
                "text": p.get("text", ""),
            }
            if p.get("message_thread_id"):
                message["message_thread_id"] = int(p["message_thread_id"])
            if p.get("reply_markup"):
                message["reply_markup"] = p["reply_markup"]
            return message
        if method == "createForumTopic":
            return {
                "message_thread_id": next(self._thread_ids),
                "name": p.get("name", ""),
                "icon_color": 7322096,
            }
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True


async def _read_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        raw: dict[str, Any] = await request.json()
    elif request.method == "GET":
        raw = dict(request.query)
    else:
        form = await request.post()
        raw = {k: v for k, v in form.items() if isinstance(v, str)}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "{[":
            try:
                params[key] = json.loads(value)
                continue
            except ValueError:
                pass
        params[key] = value
    return params


def _default_description(status: int) -> str:
    return {
        400: "Bad Request: message to edit not found",
        403: "Forbidden: bot was blocked by the user",
        429: "Too Many Requests: retry after 1",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(status, "Error")


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
