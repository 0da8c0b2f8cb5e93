"""`ieum assess` and `ieum eval` through their real code paths (and one real subprocess)."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.commands.assess import build, run
from bot.commands.evaluate import evaluate_files, render

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def assessor():
    a = build(None, None)
    yield a
    a.close()


def test_one_line_out_per_line_in_with_errors_in_place(assessor):
    lines = [
        json.dumps({"text": "졸려 죽겠다"}, ensure_ascii=False),
        "this is not json",
        json.dumps({"text": "i want to kill myself"}),
        json.dumps({"nope": 1}),
        json.dumps(["text"]),
        "",
        json.dumps({"text": "오늘 점심 뭐 먹지", "id": 7}, ensure_ascii=False),
    ]
    out = io.StringIO()
    errors = run(assessor, [line + "\n" for line in lines], out, batch_size=2)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert errors == 3
    assert len(rows) == 6  # the blank line is skipped, everything else answered in order
    assert rows[0]["text"] == "졸려 죽겠다" and rows[0]["level"] != "crisis"
    assert rows[1] == {"line": 2, "error": rows[1]["error"]} and rows[1]["error"]
    assert rows[2]["level"] == "crisis" and rows[2]["reasons"]
    assert "error" in rows[3] and "error" in rows[4]
    assert rows[5]["text"] == "오늘 점심 뭐 먹지"
    for row in (rows[0], rows[2], rows[5]):
        assert set(row) == {"text", "level", "score", "reasons"}
        assert 0.0 <= row["score"] <= 1.0


def test_eval_reports_per_language_and_source(assessor, tmp_path):
    data = tmp_path / "d.jsonl"
    rows = [
        {"text": "죽고 싶다", "label": "crisis"},
        {"text": "졸려 죽겠다", "label": "neutral"},
        {"text": "i want to die", "label": "crisis", "lang": "en", "source": "x"},
        {"text": "i'm so lonely", "label": "distress", "source": "x"},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    report = evaluate_files(assessor, [data], by_source=True)
    assert set(report["by_lang"]) == {"ko", "en", "all"}
    assert report["by_lang"]["all"]["crisis_recall"] == 1.0
    assert report["by_lang"]["ko"]["neutral_flagged_crisis"] == 0.0
    assert "x" in report["by_source"]
    assert "confusion" in render(report)


def test_ieum_assess_as_a_process():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "assess"],
        input='{"text": "한강 물 온도 몇 도야"}\n{bad\n{"text": "ok see you"}\n',
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=True,
    )
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [False, True, False]
    assert rows[0]["level"] == "crisis"
