"""`ieum run` as a real process against the fake Bot API server: polling, webhook, clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegram

IEUM = str(Path(sys.executable).with_name("ieum"))
CHAT = 7_300_001


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(fake: FakeTelegram, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IEUM_")}
    env.update(
        IEUM_REDIS_URL=redis_url,
        IEUM_TELEGRAM_TOKEN=fake.token,
        IEUM_TELEGRAM_API_BASE=fake.base_url,
        **extra,
    )
    return env


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_ieum_run_without_a_token_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IEUM_")}
    process = await asyncio.create_subprocess_exec(
        IEUM, "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await process.communicate()
    assert process.returncode == 2
    assert b"IEUM_TELEGRAM_TOKEN" in err


async def test_ieum_run_with_a_wrong_token_or_unreachable_api_says_so(
    fake_telegram: FakeTelegram, redis_url: str, tmp_path: Path
) -> None:
    wrong_token = {**_env(fake_telegram, redis_url), "IEUM_TELEGRAM_TOKEN": "999:WRONG"}
    unreachable = {
        **_env(fake_telegram, redis_url),
        "IEUM_TELEGRAM_API_BASE": f"http://127.0.0.1:{_free_port()}",
    }
    for env, expected in ((wrong_token, b"IEUM_TELEGRAM_TOKEN"), (unreachable, b"IEUM_TELEGRAM_API_BASE")):
        process = await asyncio.create_subprocess_exec(
            IEUM, "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        _out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 1, err
        assert expected in err and b"Traceback" not in err
        assert b"WRONG" not in err  # the token never reaches the terminal


async def test_ieum_run_polls_answers_and_stops_cleanly(
    fake_telegram: FakeTelegram, redis_url: str, redis, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        IEUM, "run", cwd=tmp_path, env=_env(fake_telegram, redis_url), stderr=asyncio.subprocess.PIPE
    )
    try:
        fake_telegram.push_update(fake_telegram.message_update(CHAT, "/start"))
        texts = await fake_telegram.wait_for_messages(CHAT, 1, timeout=60)
        assert "이음" in texts[0]
    finally:
        code = await _stop(process)
    assert code == 0, (await process.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]
    assert await redis.zcard("ieum:inbox:members") == 0  # left the consumer group's roster


@pytest.mark.parametrize("secret", ["s3cret-token"])
async def test_ieum_run_webhook_serves_health_and_updates(
    fake_telegram: FakeTelegram, redis_url: str, redis, tmp_path: Path, secret: str
) -> None:
    port = _free_port()
    env = _env(
        fake_telegram,
        redis_url,
        IEUM_WEBHOOK_SECRET=secret,
        IEUM_WEBHOOK_HOST="127.0.0.1",
        IEUM_WEBHOOK_PORT=str(port),
        IEUM_WEBHOOK_URL="https://bot.example.org",
    )
    process = await asyncio.create_subprocess_exec(
        IEUM, "run", "--webhook", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            update = fake_telegram.message_update(CHAT, "/start")
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            async with session.post(f"{base}/telegram/webhook", json=update) as response:
                assert response.status == 401
            async with session.post(f"{base}/telegram/webhook", json=update, headers=headers) as response:
                assert response.status == 200
        texts = await fake_telegram.wait_for_messages(CHAT, 1, timeout=30)
        assert "이음" in texts[0]
        hook = fake_telegram.calls_to("setWebhook")[0]
        assert hook.params["url"] == "https://bot.example.org/telegram/webhook"
    finally:
        code = await _stop(process)
    assert code == 0, (await process.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]
