"""The HTTP session to the Bot API: aiogram's aiohttp session, sending JSON bodies.

aiogram posts every method as a form (URL-encoded, nested objects as JSON strings inside it).
The Bot API takes `application/json` as well; a JSON body costs less CPU to build than
percent-encoding Korean text, which matters when hundreds of replies a second go out. Methods
that upload a file still go as multipart forms, through aiogram's own code.
"""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError

JSON_HEADERS = {"Content-Type": "application/json"}


class BotApiSession(AiohttpSession):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # aiogram builds `Response[<return type>]` on every call; pydantic caches parametrised
        # generics only weakly, so after a garbage collection each one is rebuilt (milliseconds of
        # CPU per reply under load). Holding the types the bot uses keeps them built once.
        from aiogram.methods.base import Response
        from aiogram.types import ForumTopic, Message, Update, User

        self._response_types = [
            Response[t]  # type: ignore[valid-type]
            for t in (Message, bool, list[Update], list[dict[str, Any]], User, ForumTopic, Message | bool)
        ]

    def build_json(self, bot: Bot, method: TelegramMethod[TelegramType]) -> str | None:
        """The method as a JSON body, or None when it carries a file (multipart only)."""
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if not prepared and prepared is not False and prepared != 0:
                continue  # None, "", [], {}: left out, as aiogram's form leaves them out
            body[key] = prepared
        if files:
            return None
        return cast(str, self.json_dumps(body))

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        body = self.build_json(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=JSON_HEADERS,
                timeout=self.timeout if timeout is None else timeout,  # type: ignore[arg-type]
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)
