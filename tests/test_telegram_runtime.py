"""The Telegram channel end to end with a stand-in conversation: aiogram's real client against the
fake Bot API server on loopback, real Redis, long polling and a real webhook over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.telegram import replies as replies_module
from bot.telegram.webhook import spinner_answer
from dialogues.messages import Outcome, Reply
from storage import keys
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_harness import (
    EchoConversation,
    bot_running,
    bot_settings,
    echo_app,
    post_update,
)

CHAT = 5001


@pytest.fixture
def app(fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis):
    return echo_app(bot_settings(fake_telegram, redis_url), redis)


async def test_text_is_answered_with_buttons_over_polling(app, fake_telegram: FakeTelegram) -> None:
    async with bot_running(app):
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "안녕"))
        texts = await fake_telegram.wait_for_messages(CHAT, 1)
    assert texts == ["text:안녕"]
    call = fake_telegram.calls_to("sendMessage", CHAT)[0]
    assert call.button_data == ["v1:ci:good", "v1:ci:bad"]
    assert len(call.buttons) == 1  # two short labels share a row


async def test_every_kind_of_input_is_translated(app, fake_telegram: FakeTelegram) -> None:
    f = fake_telegram
    updates = [
        f.message_update(CHAT, "/start@ieum_test_bot code42"),
        f.sticker_update(CHAT),
        f.photo_update(CHAT),
        f.voice_update(CHAT),
        f.message_update(CHAT, None, extra={"location": {"latitude": 35.1, "longitude": 126.9}}),
        f.message_update(
            CHAT,
            None,
            extra={"video_note": {"file_id": "v", "file_unique_id": "u", "length": 1, "duration": 1}},
        ),
        f.message_update(CHAT, None, extra={"document": {"file_id": "d", "file_unique_id": "u"}}),
        f.message_update(CHAT, None, extra={"contact": {"phone_number": "1", "first_name": "A"}}),
        f.message_update(CHAT, "고쳤어", edited=True),
        f.message_update(
            CHAT,
            None,
            extra={
                "photo": [{"file_id": "p", "file_unique_id": "q", "width": 1, "height": 1}],
                "caption": "사진 설명",
            },
        ),
        f.callback_update(CHAT, "v1:ci:good"),
    ]
    async with bot_running(app):
        for update in updates:
            f.push_update(update)
        texts = await f.wait_for_messages(CHAT, len(updates))
    assert texts == [
        "command:start:code42",
        "sticker:",
        "photo:",
        "voice:",
        "location:",
        "video:",
        "document:",
        "other:",
        "edited:고쳤어",
        "text:사진 설명",
        "button:v1:ci:good",
    ]
    assert len(f.calls_to("answerCallbackQuery")) == 1


async def test_duplicated_update_is_answered_once(app, fake_telegram: FakeTelegram) -> None:
    update = fake_telegram.message_update(CHAT, "한 번만")
    async with bot_running(app):
        fake_telegram.push_update(update)
        fake_telegram.push_update(update)  # Telegram delivered it twice
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "다음"))
        texts = await fake_telegram.wait_for_messages(CHAT, 2)
    assert texts == ["text:한 번만", "text:다음"]


async def test_one_persons_updates_are_handled_in_order(app, fake_telegram: FakeTelegram) -> None:
    async with bot_running(app):
        for i in range(25):
            fake_telegram.push_update(fake_telegram.message_update(CHAT, f"m{i}"))
            fake_telegram.push_update(fake_telegram.message_update(CHAT + 1, f"m{i}"))
        await fake_telegram.wait_for_messages(CHAT, 25)
        await fake_telegram.wait_for_messages(CHAT + 1, 25)
    expected = [f"text:m{i}" for i in range(25)]
    assert fake_telegram.texts_to(CHAT) == expected
    assert fake_telegram.texts_to(CHAT + 1) == expected


async def test_webhook_checks_the_secret_and_stores_before_200(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    async with bot_running(app, webhook=True) as runtime:
        update = fake_telegram.message_update(CHAT, "웹훅")
        assert await post_update(runtime, update, secret="wrong") == 401
        assert await post_update(runtime, update, secret=None) == 401
        assert await post_update(runtime, b"{not json", secret="test-webhook-secret") == 400
        assert await post_update(runtime, b'{"no_update_id": 1}') == 400
        assert [k async for k in redis.scan_iter("ieum:*:seen:*")] == []
        assert sum([await redis.xlen(stream) for stream in runtime.inbox.streams()]) == 0
        assert fake_telegram.calls_to("sendMessage") == []

        assert await post_update(runtime, update) == 200
        assert await post_update(runtime, update) == 200  # a redelivery: accepted, not handled again
        assert await fake_telegram.wait_for_messages(CHAT, 1) == ["text:웹훅"]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{runtime.port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["redis"] == "ok"
        await fake_telegram.wait_for(lambda _c: True, timeout=0.3)
    assert fake_telegram.texts_to(CHAT) == ["text:웹훅"]


async def test_webhook_registers_itself_when_a_public_url_is_set(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
) -> None:
    settings = bot_settings(fake_telegram, redis_url, webhook_url="https://bot.example.org/")
    async with bot_running(echo_app(settings, redis), webhook=True):
        calls = await fake_telegram.wait_for(lambda c: any(x.method == "setWebhook" for x in c))
    hook = next(c for c in calls if c.method == "setWebhook")
    assert hook.params["url"] == "https://bot.example.org/telegram/webhook"
    assert hook.params["secret_token"] == "test-webhook-secret"


async def test_a_button_pressed_through_the_webhook_is_answered_in_its_response(
    app, fake_telegram: FakeTelegram
) -> None:
    async with bot_running(app, webhook=True) as runtime:
        press = fake_telegram.callback_update(CHAT, "v1:ci:good")
        assert await post_update(runtime, press, telegram=fake_telegram) == 200
        # Telegram ran the answer given in the response: the spinner stopped at intake
        answered = fake_telegram.calls_to("answerCallbackQuery")
        assert [c.params["callback_query_id"] for c in answered] == [press["callback_query"]["id"]]
        assert await fake_telegram.wait_for_messages(CHAT, 1) == ["button:v1:ci:good"]
        await fake_telegram.wait_for(lambda _c: True, timeout=0.3)
    assert len(fake_telegram.calls_to("answerCallbackQuery")) == 1  # the bot did not answer it again


async def test_buttons_outside_the_companion_are_left_to_their_handlers(fake_telegram: FakeTelegram) -> None:
    press = fake_telegram.callback_update(CHAT, "cs:take:17")  # a counsellor's case button
    assert spinner_answer(press) is None
    group = fake_telegram.callback_update(-100123, "v1:ci:good")  # a companion payload, not in private
    group["callback_query"]["message"]["chat"]["type"] = "supergroup"
    assert spinner_answer(group) is None
    assert spinner_answer(fake_telegram.message_update(CHAT, "v1:ci:good")) is None
    assert spinner_answer(fake_telegram.callback_update(CHAT, "v1:ci:good")) is not None


class LongConversation(EchoConversation):
    async def handle(self, msg, profile, assessment):  # type: ignore[no-untyped-def]
        paragraph = "가" * 3000
        return Outcome(replies=(Reply(f"{paragraph}\n\n{paragraph}"),))


async def test_long_replies_are_split(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
) -> None:
    app = echo_app(bot_settings(fake_telegram, redis_url), redis, LongConversation())
    async with bot_running(app):
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "x" * 5000))
        texts = await fake_telegram.wait_for_messages(CHAT, 2)
    assert texts == ["가" * 3000, "가" * 3000]


class CountingConversation(EchoConversation):
    def __init__(self) -> None:
        self.turns = 0

    async def handle(self, msg, profile, assessment):  # type: ignore[no-untyped-def]
        self.turns += 1
        return await super().handle(msg, profile, assessment)


async def test_a_reply_that_cannot_be_sent_is_retried_without_running_the_turn_twice(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies_module, "TRANSIENT_DELAYS_S", (0.01,))
    conversation = CountingConversation()
    app = echo_app(bot_settings(fake_telegram, redis_url), redis, conversation)
    fake_telegram.fail("sendMessage", 502, times=3)  # two in-place tries, then one more on retry
    async with bot_running(app):
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "잘 가니?"))
        texts = await fake_telegram.wait_for_messages(CHAT, 4)  # three failed sends, then one
    assert texts[-1] == "text:잘 가니?"
    assert conversation.turns == 1
    assert [k async for k in redis.scan_iter("ieum:*:unsent:*")] == []


async def test_group_messages_are_not_the_companions(app, fake_telegram: FakeTelegram) -> None:
    async with bot_running(app):
        fake_telegram.push_update(fake_telegram.message_update(-100, "hello", chat_type="supergroup"))
        fake_telegram.push_update(fake_telegram.callback_update(-100, "x", chat_type="supergroup"))
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "private"))
        await fake_telegram.wait_for_messages(CHAT, 1)
        await fake_telegram.wait_for(lambda _c: len(fake_telegram.calls_to("answerCallbackQuery")) == 1)
    assert fake_telegram.texts_to(-100) == []


def test_raw_updates_are_json_round_trippable(fake_telegram: FakeTelegram) -> None:
    update = fake_telegram.sticker_update(CHAT)
    assert json.loads(json.dumps(update)) == update


async def test_no_update_type_breaks_the_bot(app, fake_telegram: FakeTelegram, redis: aioredis.Redis) -> None:
    f = fake_telegram
    odd = [
        {
            "update_id": f.next_update_id(),
            "poll": {
                "id": "p",
                "question": "?",
                "options": [],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
            },
        },
        {
            "update_id": f.next_update_id(),
            "my_chat_member": {
                "chat": {"id": CHAT, "type": "private"},
                "from": f.user(CHAT),
                "date": 1,
                "old_chat_member": {"status": "member", "user": f.user(1)},
                "new_chat_member": {"status": "kicked", "user": f.user(1), "until_date": 0},
            },
        },
        {
            "update_id": f.next_update_id(),
            "inline_query": {"id": "q", "from": f.user(CHAT), "query": "hi", "offset": ""},
        },
        {"update_id": f.next_update_id(), "some_future_update_type": {"x": 1}},
        f.message_update(CHAT, None, extra={"dice": {"emoji": "🎲", "value": 3}}),
        f.message_update(CHAT, ""),
        f.message_update(CHAT, "긴 메시지 " * 1000),
        f.message_update(-100500, "channel", chat_type="channel"),
    ]
    async with bot_running(app):
        for update in odd:
            f.push_update(update)
        f.push_update(f.message_update(CHAT, "still here"))
        await f.wait_for(lambda _c: "text:still here" in f.texts_to(CHAT))
    # What aiogram cannot read is set aside for an operator, never retried, never blocking the chat.
    dead = await redis.xrange(keys.inbox_dead_letter())
    assert {fields["reason"] for _id, fields in dead} <= {"unreadable"}
    assert "other:" in f.texts_to(CHAT)  # the dice
    assert "text:" in f.texts_to(CHAT)  # the empty text


async def test_failures_are_logged_without_what_was_said(
    fake_telegram: FakeTelegram,
    redis_url: str,
    redis: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(replies_module, "TRANSIENT_DELAYS_S", (0.01,))
    app = echo_app(bot_settings(fake_telegram, redis_url), redis)
    fake_telegram.fail("sendMessage", 500, times=-1)
    secret_words = "아무한테도말못한비밀"
    caplog.set_level(logging.DEBUG)
    async with bot_running(app) as runtime:
        runtime.consumer.retry_delays = (0.0, 0.0)
        fake_telegram.push_update(fake_telegram.message_update(CHAT, secret_words))
        for _ in range(100):
            if await redis.xlen(keys.inbox_dead_letter()):
                break
            await asyncio.sleep(0.05)
    assert await redis.xlen(keys.inbox_dead_letter()) == 1
    events = [r.getMessage() for r in caplog.records]
    assert "update_failed" in events and "inbox_entry_dead_lettered" in events
    for record in caplog.records:
        assert secret_words not in record.getMessage()
        assert secret_words not in json.dumps(getattr(record, "fields", {}), ensure_ascii=False)
        assert str(CHAT) not in json.dumps(getattr(record, "fields", {}))
