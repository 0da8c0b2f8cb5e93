"""End to end on the real flows: the bot runs as an asyncio task (long polling, or a webhook on a
loopback port) against the fake Bot API server through aiogram's real client, on real Redis.

The keyword assessor keeps these tests fast and independent of the trained detector.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.app import App, running_app
from dialogues.catalogue import load_catalogue
from models.placeholder import KeywordAssessor
from storage import keys
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_harness import bot_running, bot_settings, post_update

CHAT = 8_100_001
FLOWS = load_catalogue()  # expected texts come from the flow files staff edit, not from here


def step_text(step: str, lang: str) -> str:
    found = FLOWS.onboarding.step(step)
    assert found is not None, step
    return found.text.render(lang)


def done_text(lang: str) -> str:
    return FLOWS.onboarding.done.render(lang)


def command_text(name: str, lang: str) -> str:
    return FLOWS.commands[name].render(lang)


@pytest.fixture
async def app(fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis) -> AsyncIterator[App]:
    async with running_app(bot_settings(fake_telegram, redis_url), assessor=KeywordAssessor()) as app:
        yield app


class Person:
    """One young person talking to the bot through the fake Telegram server."""

    def __init__(self, fake: FakeTelegram, chat: int = CHAT, language_code: str = "ko") -> None:
        self.fake = fake
        self.chat = chat
        self.language_code = language_code

    def replies(self) -> list[str]:
        return self.fake.texts_to(self.chat)

    def last_buttons(self) -> list[str]:
        calls = self.fake.calls_to("sendMessage", self.chat)
        return calls[-1].button_data if calls else []

    async def say(self, text: str, expect: int = 1) -> list[str]:
        before = len(self.replies())
        self.fake.push_update(self.fake.message_update(self.chat, text, language_code=self.language_code))
        return (await self.fake.wait_for_messages(self.chat, before + expect))[before:]

    async def press(self, data: str, expect: int = 1) -> list[str]:
        before = len(self.replies())
        self.fake.push_update(self.fake.callback_update(self.chat, data))
        return (await self.fake.wait_for_messages(self.chat, before + expect))[before:]

    async def send(self, update: dict[str, Any], expect: int = 1) -> list[str]:
        before = len(self.replies())
        self.fake.push_update(update)
        return (await self.fake.wait_for_messages(self.chat, before + expect))[before:]


async def test_onboarding_to_the_end_in_korean(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)
    async with bot_running(app):
        assert (await me.say("/start"))[0] == step_text("lang", "ko")
        assert me.last_buttons() == ["v1:st:lang:ko", "v1:st:lang:en", "v1:st:lang:skip"]
        assert (await me.press("v1:st:lang:ko"))[0] == step_text("intro", "ko")
        assert (await me.press("v1:st:intro:ok"))[0] == step_text("privacy", "ko")
        await me.press("v1:st:privacy:ok")
        assert "v1:st:checkin:yes" in me.last_buttons()
        await me.press("v1:st:checkin:yes")
        await me.press("v1:st:share:yes", expect=2)  # thanks, then the rhythm question
        assert "v1:st:rhythm:daily" in me.last_buttons()
        await me.press("v1:st:rhythm:daily")
        await me.press("v1:st:window:evening")
        await me.press("v1:st:quiet:q2308")
        assert me.last_buttons() == ["v1:st:nickname:skip"]
        await me.say("미나")
        done = await me.press("v1:st:code:skip")
        assert done[-1] == done_text("ko")
        await fake_telegram.wait_for(lambda _c: len(fake_telegram.calls_to("answerCallbackQuery")) == 9)
    profile = await app.profiles.get(f"telegram:{CHAT}")
    assert profile is not None and profile.onboarded
    assert (profile.lang, profile.nickname, profile.rhythm.value) == ("ko", "미나", "daily")
    assert profile.checkin_consent and profile.share_consent


async def test_onboarding_to_the_end_in_english_by_typing_and_skipping(
    app: App, fake_telegram: FakeTelegram
) -> None:
    me = Person(fake_telegram, language_code="en")
    async with bot_running(app):
        await me.say("/start")
        assert (await me.say("English"))[0] == step_text("intro", "en")
        await me.press("v1:st:intro:skip")
        await me.press("v1:st:privacy:ok")
        await me.press("v1:st:checkin:no")
        await me.press("v1:st:share:skip", expect=1)
        while "v1:st:nickname:skip" not in me.last_buttons():  # the steps that apply, all skipped
            skip = next(b for b in me.last_buttons() if b.endswith(":skip"))
            await me.press(skip)
        await me.press("v1:st:nickname:skip")
        done = await me.say("GJ-2024")
        assert done[-1] == done_text("en")
    profile = await app.profiles.get(f"telegram:{CHAT}")
    assert profile is not None and profile.onboarded and profile.lang == "en"
    assert profile.enrolment_code == "GJ-2024"
    assert not profile.checkin_consent


async def _onboard_quickly(me: Person) -> None:
    await me.say("/start")
    for data in ("v1:st:lang:ko", "v1:st:intro:ok", "v1:st:privacy:ok", "v1:st:checkin:yes"):
        await me.press(data)
    await me.press("v1:st:share:yes", expect=2)
    while me.replies()[-1] != done_text("ko"):
        skip = next(b for b in me.last_buttons() if b.endswith(":skip"))
        await me.press(skip)


async def test_checkin_answered_by_button(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)
    async with bot_running(app):
        await _onboard_quickly(me)
        await me.say("/checkin")
        assert me.last_buttons()[:3] == ["v1:ci:good", "v1:ci:soso", "v1:ci:low"]
        follow_up = await me.press("v1:ci:soso")
        assert follow_up[0]
    moods = await app.redis.zrange(f"ieum:{{u:telegram:{CHAT}}}:moods", 0, -1)
    assert len(moods) == 1 and moods[0].endswith("|so_so")


async def _mentions(redis: aioredis.Redis, needle: str) -> list[str]:
    """Every key whose name, members or values mention `needle`."""
    found: list[str] = []
    async for key in redis.scan_iter("*", count=500):
        kind = await redis.type(key)
        if kind == "string":
            values = [await redis.get(key) or ""]
        elif kind == "hash":
            values = [x for pair in (await redis.hgetall(key)).items() for x in pair]
        elif kind == "set":
            values = list(await redis.smembers(key))
        elif kind == "zset":
            values = list(await redis.zrange(key, 0, -1))
        elif kind == "list":
            values = list(await redis.lrange(key, 0, -1))
        elif kind == "stream":
            values = [v for _id, fields in await redis.xrange(key) for v in fields.values()]
        else:
            values = []
        if needle in key or any(needle in str(v) for v in values):
            found.append(key)
    return found


async def test_delete_leaves_no_trace_of_the_person_in_redis(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)
    other = Person(fake_telegram, chat=CHAT + 7)
    async with bot_running(app):
        await _onboard_quickly(me)
        await me.say("/checkin")
        await me.press("v1:ci:good")
        await me.say("/talk")
        await other.say("/start")
        # an update of mine that failed for good, kept for operators with what I wrote
        failed = fake_telegram.message_update(CHAT, "실패한 메시지")
        await app.redis.xadd(
            keys.inbox_dead_letter(), {"reason": "RuntimeError", "c": str(CHAT), "u": json.dumps(failed)}
        )
        # replies computed for an update of mine but not sent yet, kept for the update's retry
        unsent = keys.inbox_unsent(f"telegram:{CHAT}", failed["update_id"])
        await app.redis.set(unsent, json.dumps([{"t": "하늘님, 오늘 어땠어요?", "q": []}]), ex=3600)
        assert await _mentions(app.redis, str(CHAT))  # there is something to erase
        confirm = await me.say("/delete")
        assert me.last_buttons() == ["v1:del:yes", "v1:del:no"], confirm
        await me.press("v1:del:yes")
    assert await _mentions(app.redis, str(CHAT)) == []
    assert not await app.redis.exists(unsent)
    assert await _mentions(app.redis, str(CHAT + 7))  # someone else's data stays


async def test_restart_mid_onboarding_resumes_where_it_was(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
) -> None:
    settings = bot_settings(fake_telegram, redis_url)
    me = Person(fake_telegram)
    async with running_app(settings, assessor=KeywordAssessor()) as app:
        async with bot_running(app):
            await me.say("/start")
            await me.press("v1:st:lang:ko")
            await me.press("v1:st:intro:ok")
    # While the bot is down the person answers; Telegram keeps the update until we poll again.
    fake_telegram.push_update(fake_telegram.callback_update(CHAT, "v1:st:privacy:ok"))
    async with running_app(settings, assessor=KeywordAssessor()) as app:
        async with bot_running(app):
            await fake_telegram.wait_for_messages(CHAT, 4)
            assert "v1:st:checkin:yes" in me.last_buttons()
            await me.press("v1:st:checkin:yes")
            assert "v1:st:share:yes" in me.last_buttons()


async def test_duplicated_update_is_answered_once(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)
    async with bot_running(app):
        await me.say("/start")
        press = fake_telegram.callback_update(CHAT, "v1:st:lang:ko")
        fake_telegram.push_update(press)
        fake_telegram.push_update(press)
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "/help"))
        await fake_telegram.wait_for_messages(CHAT, 3)  # once /help is answered, the copy had its chance
    texts = me.replies()
    assert len(texts) == 3
    assert texts[1] == step_text("intro", "ko") and texts[2] == command_text("help", "ko")


async def test_webhook_wrong_secret_401_right_secret_answered(app: App, fake_telegram: FakeTelegram) -> None:
    async with bot_running(app, webhook=True) as runtime:
        update = fake_telegram.message_update(CHAT, "/start")
        assert await post_update(runtime, update, secret="nope") == 401
        assert [k async for k in app.redis.scan_iter("ieum:*:seen:*")] == []
        assert await post_update(runtime, update) == 200
        texts = await fake_telegram.wait_for_messages(CHAT, 1)
    assert texts[0] == step_text("lang", "ko")


async def test_sticker_gets_a_reply(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)
    async with bot_running(app):
        reply = await me.send(fake_telegram.sticker_update(CHAT))
    assert reply[0].strip()


async def test_crisis_as_a_first_message_gets_the_109_line(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)
    async with bot_running(app):
        replies = await me.say("요즘 너무 지쳐서 죽고 싶어")
    assert "109" in replies[0]


async def test_crisis_in_english_as_a_first_message(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram, language_code="en")
    async with bot_running(app):
        replies = await me.say("I want to die")
    assert "109" in replies[0] and "24" in replies[0]


async def test_stale_button_gets_a_polite_answer_and_the_spinner_stops(
    app: App, fake_telegram: FakeTelegram
) -> None:
    me = Person(fake_telegram)
    async with bot_running(app):
        reply = await me.press("v0:something:old")
        await fake_telegram.wait_for(lambda _c: len(fake_telegram.calls_to("answerCallbackQuery")) == 1)
    assert reply[0] == command_text("stale_button", "ko")


async def test_one_persons_burst_is_handled_in_order(app: App, fake_telegram: FakeTelegram) -> None:
    """Every answer is sent before the previous one was handled: order alone makes this work."""
    burst = [
        fake_telegram.message_update(CHAT, "/start"),
        fake_telegram.callback_update(CHAT, "v1:st:lang:en"),
        fake_telegram.callback_update(CHAT, "v1:st:intro:ok"),
        fake_telegram.callback_update(CHAT, "v1:st:privacy:ok"),
        fake_telegram.callback_update(CHAT, "v1:st:checkin:no"),
        fake_telegram.callback_update(CHAT, "v1:st:share:no"),
    ]
    async with bot_running(app):
        for update in burst:
            fake_telegram.push_update(update)
        texts = await fake_telegram.wait_for_messages(CHAT, 6)
    expected = [step_text(step, "en") for step in ("intro", "privacy", "checkin", "share")]
    assert texts[0] == step_text("lang", "ko")  # asked before a language was chosen
    assert texts[1:5] == expected


async def test_blocking_the_bot_marks_the_person_unreachable(app: App, fake_telegram: FakeTelegram) -> None:
    me = Person(fake_telegram)

    def membership(status: str) -> dict[str, Any]:
        return {
            "update_id": fake_telegram.next_update_id(),
            "my_chat_member": {
                "chat": {"id": CHAT, "type": "private"},
                "from": fake_telegram.user(CHAT),
                "date": 1,
                "old_chat_member": {"status": "member", "user": fake_telegram.user(1)},
                "new_chat_member": {"status": status, "user": fake_telegram.user(1), "until_date": 0},
            },
        }

    async with bot_running(app):
        await me.say("/start")
        fake_telegram.push_update(membership("kicked"))
        for _ in range(100):
            profile = await app.profiles.get(f"telegram:{CHAT}")
            if profile is not None and not profile.active:
                break
            await asyncio.sleep(0.02)
        assert profile is not None and not profile.active
        fake_telegram.push_update(membership("member"))
        await me.say("/help")
    profile = await app.profiles.get(f"telegram:{CHAT}")
    assert profile is not None and profile.active
