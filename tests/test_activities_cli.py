"""`ieum activities add|list|edit|cancel|stats` against real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis as syncredis

from bot.cli import main


@pytest.fixture
def cli_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IEUM_REDIS_URL", redis_url)
    client = syncredis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield
    finally:
        client.flushdb()
        client.close()


def test_add_list_edit_stats_cancel(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "activities",
                "add",
                "--title",
                "보드게임 저녁",
                "--start",
                "2099-12-05 19:00",
                "--place",
                "센터 2층",
                "--capacity",
                "8",
                "--weekly",
                "--remind",
                "1d,3h",
                "--json",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["start"] == "2099-12-05T10:00:00+00:00"  # Asia/Seoul by default
    assert created["reminders_min"] == [1440, 180] and created["weekly"] is True

    assert main(["activities", "list", "--json"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [created["id"]]

    assert main(["activities", "edit", created["id"], "--start", "2099-12-06 18:30", "--json"]) == 0
    edited = json.loads(capsys.readouterr().out)
    assert edited["version"] == 1 and edited["start"] == "2099-12-06T09:30:00+00:00"

    assert main(["activities", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["counts"] == {"going": 0, "maybe": 0, "looking": 0, "no": 0, "waitlist": 0}

    assert main(["activities", "stats", "--lang", "en"]) == 0
    assert "coming 0/8" in capsys.readouterr().out

    assert main(["activities", "cancel", created["id"]]) == 0
    capsys.readouterr()
    assert main(["activities", "cancel", created["id"]]) == 1
    assert main(["activities", "list", "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_add_rejects_a_past_start_and_bad_input(cli_env: None) -> None:
    assert main(["activities", "add", "--title", "x", "--start", "2001-01-01 10:00"]) == 2
    with pytest.raises(SystemExit):
        main(["activities", "add", "--title", "x", "--start", "tomorrow"])
