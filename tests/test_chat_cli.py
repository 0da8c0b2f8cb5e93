"""`ieum chat` as a person would script it: piped stdin, the real process, the full pipeline."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from pathlib import Path

from bot.app import build_app
from bot.local import LocalChat
from bot.settings import Settings
from clock import FakeClock
from models.placeholder import KeywordAssessor
from storage.profiles import ProfileRepository, Rhythm

# /start, then buttons by number: 한국어, 알겠어요, 이해했어요, check-ins yes, sharing yes, 매일,
# 저녁 19-21, quiet 23-08, skip nickname, skip code.
ONBOARDING = ["/start", "1", "1", "1", "1", "1", "1", "4", "2", "1", "1"]
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _ieum() -> list[str]:
    script = Path(sys.executable).parent / "ieum"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


async def _run_chat(lines: list[str], *, cwd: Path, env: dict[str, str], user: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("IEUM_")}
    proc = await asyncio.create_subprocess_exec(
        *_ieum(),
        "chat",
        "--user",
        user,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={**base, **env},
    )
    data = ("\n".join(lines) + "\n").encode()
    out, err = await asyncio.wait_for(proc.communicate(data), timeout=100)
    return proc.returncode or 0, out.decode("utf-8"), err.decode("utf-8")


def _turn(stdout: str, line: str) -> str:
    """The bot's answer to the echoed input `line`."""
    after = stdout.split(f"> {line}\n", 1)[1]
    return after.split("\n> ", 1)[0]


async def test_scripted_chat_onboards_talks_and_answers_a_crisis(
    redis, redis_url: str, tmp_path: Path
) -> None:
    lines = [*ONBOARDING, "안녕하세요", "요즘 잠이 잘 안 와요", "죽고 싶어"]
    code, out, err = await _run_chat(lines, cwd=tmp_path, env={"IEUM_REDIS_URL": redis_url}, user="cli-1")
    assert code == 0, err
    assert "Traceback" not in err
    assert '{"ts"' not in out  # logs stay on stderr
    assert "설정이 끝났어요" in out
    assert "   1) 한국어" in out  # quick replies as numbered options
    for said in ("안녕하세요", "요즘 잠이 잘 안 와요"):
        assert _HANGUL.search(_turn(out, said))
    crisis = _turn(out, "죽고 싶어")
    assert "109" in crisis and "1388" in crisis and "119" in crisis

    profile = await ProfileRepository(redis).get("local:cli-1")
    assert profile is not None and profile.onboarded and profile.rhythm is Rhythm.DAILY
    assert (profile.window_start, profile.quiet_start) == ("19:00", "23:00")


async def test_chat_runs_on_the_embedded_server_and_remembers(tmp_path: Path) -> None:
    env = {"IEUM_DATA_DIR": str(tmp_path / "var")}
    code, out, err = await _run_chat([*ONBOARDING, "죽고 싶어"], cwd=tmp_path, env=env, user="emb")
    assert code == 0, err
    assert "설정이 끝났어요" in out and "109" in _turn(out, "죽고 싶어")
    assert (tmp_path / "var" / "valkey").is_dir()

    code, out, err = await _run_chat(["/settings"], cwd=tmp_path, env=env, user="emb")  # a new process
    assert code == 0, err
    assert "매일" in out and "19:00–21:00" in out


async def test_numbers_press_the_shown_options(redis, redis_url: str) -> None:
    settings = Settings(redis_url=redis_url)
    app = await build_app(settings, redis, clock=FakeClock(), assessor=KeywordAssessor())
    out = io.StringIO()
    chat = LocalChat(app.pipeline.handle, app.clock, out, user_id="num")
    await chat.say("/start")
    assert [o.payload for o in chat.options][:2] == ["v1:st:lang:ko", "v1:st:lang:en"]
    await chat.say("2")  # English
    assert "chatbot" in out.getvalue()
    await chat.say("9")  # not an option number: plain text, nothing breaks
    await chat.say("")  # blank lines are ignored
    await chat.say("/lang ko")
    before = len(out.getvalue())
    await chat.say("오늘 밤에도 잠이 안 와")
    sleep = next(t for t in app.conversation.catalogue.free_talk.themes if t.id == "sleep")
    assert any(r.ko.strip() in out.getvalue()[before:] for r in sleep.replies)
    await chat.say("i want to kill myself")
    assert "109" in out.getvalue()[before:]
