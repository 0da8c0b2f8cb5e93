"""Labelled text: the project's exemplar banks, its dev set, and the shared public datasets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from models.text import guess_lang

DATA_DIR = Path(__file__).parent / "data"
BANK_FILES = {
    "ko": (DATA_DIR / "exemplars_ko.yaml", DATA_DIR / "exemplars_ko_more.yaml"),
    "en": (DATA_DIR / "exemplars_en.yaml", DATA_DIR / "exemplars_en_more.yaml"),
}
DEV_FILE = DATA_DIR / "dev.jsonl"
TEST_FILE = DATA_DIR / "test.jsonl"  # hand-written after the dev set; never used for any choice
LABELS = ("none", "distress", "crisis")  # class order everywhere (index = class id)


def norm_label(label: str) -> str:
    """The datasets say `neutral` where the assessor says `none`."""
    label = label.strip().lower()
    if label == "neutral":
        return "none"
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}")
    return label


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # none | distress | crisis
    lang: str
    category: str = ""
    source: str = ""


def load_bank(lang: str) -> list[Example]:
    out: list[Example] = []
    for path in BANK_FILES[lang]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for label, categories in data.items():
            for category, lines in categories.items():
                for line in lines:
                    out.append(Example(str(line), norm_label(label), lang, category, f"ieum/bank_{lang}"))
    return out


def load_banks() -> list[Example]:
    return [e for lang in BANK_FILES for e in load_bank(lang)]


def read_jsonl(path: Path) -> Iterator[Example]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            text = str(row["text"])
            yield Example(
                text=text,
                label=norm_label(row["label"]),
                lang=row.get("lang") or guess_lang(text),
                category=row.get("category", ""),
                source=row.get("source", path.name),
            )


def split_of(text: str) -> str:
    """A stable split by text hash: 70% `train`, 10% `calib` (thresholds), 20% `test` (untouched)."""
    bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 7 else "calib" if bucket == 7 else "test"


def shared_rows(datasets_dir: Path, split: str) -> list[Example]:
    rows: list[Example] = []
    for path in sorted(datasets_dir.glob("*.jsonl")):
        rows.extend(e for e in read_jsonl(path) if split_of(e.text) == split)
    return rows


def file_digest(paths: Iterable[Path]) -> dict[str, str]:
    """sha256 (first 16 hex) of each data file: the data versions an artifact was trained on."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(paths)}
