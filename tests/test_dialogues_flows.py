"""The flow files: complete in both languages, and mistakes reported with file and line."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from clock import FakeClock
from dialogues import payloads
from dialogues.catalogue import FLOWS_DIR, load_catalogue
from dialogues.service import build_conversation
from dialogues.texts import Text
from dialogues.yamlfile import FlowError
from storage.profiles import ProfileRepository


def _texts(value: object) -> Iterator[Text]:
    if isinstance(value, Text):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _texts(getattr(value, f.name))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _texts(v)


def test_every_text_has_korean_and_english() -> None:
    catalogue = load_catalogue()
    texts = list(_texts(catalogue))
    assert len(texts) > 100
    for text in texts:
        assert text.ko.strip() and text.en.strip(), text
    themes = {t.id for t in catalogue.free_talk.themes}
    assert {
        "loneliness",
        "sleep",
        "family",
        "school_job",
        "games",
        "anxiety",
        "small_talk",
        "thanks",
    } <= themes
    assert "greetings" in themes


def test_every_button_payload_fits_and_parses() -> None:
    catalogue = load_catalogue()
    made = [payloads.make("st", s.id, o.id) for s in catalogue.onboarding.steps for o in s.options]
    made += [payloads.make("ci", m.id) for m in catalogue.checkin.moods]
    for raw in made:
        assert len(raw.encode()) <= 64 and payloads.parse(raw) is not None
    assert payloads.parse("v2:ci:good") is None and payloads.parse("v1:nope:x") is None
    with pytest.raises(ValueError):
        payloads.make("st", "x" * 70)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, target)
    return target


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_missing_english_names_file_and_line(flows: Path) -> None:
    path = flows / "checkin.yaml"
    line = _line_of(path, "ko: 그런 날도 있죠.")
    _replace(path, "\n        en: Some days are like that. A so-so day is perfectly okay.", "")
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert info.value.path.endswith("checkin.yaml") and info.value.line == line
    assert f"checkin.yaml:{line}:" in str(info.value) and "'en:'" in str(info.value)


def test_yaml_syntax_error_names_file_and_line(flows: Path) -> None:
    path = flows / "free_talk.yaml"
    line = _line_of(path, "- 외로워")
    _replace(path, "      - 외로워\n", "      - 외로워\n     bad: [unclosed\n")
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert info.value.path.endswith("free_talk.yaml")
    assert line <= info.value.line <= line + 2
    assert "YAML syntax" in str(info.value)


def test_bad_setting_value_and_unknown_names(flows: Path) -> None:
    path = flows / "onboarding.yaml"
    _replace(path, 'window_start: "09:00"', 'window_start: "9 am"')
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert info.value.line == _line_of(path, 'window_start: "9 am"') and "window_start" in str(info.value)

    _replace(path, 'window_start: "9 am"', 'window_start: "09:00"')
    _replace(path, "          rhythm: daily\n", "          rythm: daily\n")
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert info.value.line == _line_of(path, "rythm: daily") and "rythm" in str(info.value)


def test_duplicate_key_is_reported(flows: Path) -> None:
    path = flows / "commands.yaml"
    _replace(path, "pause:\n", "help:\n  ko: 다시\n  en: again\npause:\n")
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert "twice" in str(info.value) and info.value.path.endswith("commands.yaml")


def test_crisis_text_must_keep_every_helpline(flows: Path) -> None:
    path = flows / "crisis.yaml"
    _replace(path, "📞 1388 청소년상담 (문자도 돼요: #1388)\n", "")
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert "1388" in str(info.value) and info.value.path.endswith("crisis.yaml")


def test_start_up_refuses_a_broken_flow(flows: Path, redis) -> None:
    (flows / "other_input.yaml").write_text("sticker: [just text]\n", encoding="utf-8")
    with pytest.raises(FlowError) as info:
        build_conversation(
            redis=redis, profiles=ProfileRepository(redis), encoder=None, clock=FakeClock(), flows_dir=flows
        )
    assert "other_input.yaml:1:" in str(info.value)


def test_unknown_placeholder_is_reported(flows: Path) -> None:
    path = flows / "commands.yaml"
    _replace(path, "    {commands}\n  en:", "    {comands}\n  en:")
    with pytest.raises(FlowError) as info:
        load_catalogue(flows)
    assert "{comands}" in str(info.value) and info.value.line == _line_of(path, "unknown:") + 1


def test_check_command_for_staff(flows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dialogues.catalogue import main

    assert main([str(flows)]) == 0 and "ok:" in capsys.readouterr().out
    (flows / "checkin.yaml").write_text("greeting:\n  - ko: 안녕\n", encoding="utf-8")
    assert main([str(flows)]) == 1
    assert "checkin.yaml:1: 'moods' is missing" in capsys.readouterr().err


def test_terminal_screen_texts_are_bilingual() -> None:
    from bot.local import screen_texts

    texts = screen_texts()
    assert all(t.ko.strip() and t.en.strip() for t in texts.values())
