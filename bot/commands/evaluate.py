"""`ieum eval DATA.jsonl`: detection metrics on labelled JSON lines (`text`, `label`, optional `lang`).

Per language and overall: crisis recall and precision, the share of `neutral` messages flagged
crisis and flagged anything, distress recall (distress or crisis), the confusion matrix, crisis PR-AUC.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("eval", help="detection metrics on labelled JSON lines")
    p.add_argument("data", type=Path, nargs="+", help="JSON lines with text, label (crisis|distress|neutral)")
    p.add_argument("--by-source", action="store_true", help="also break metrics down by `source`")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--held-out",
        action="store_true",
        help="only rows `ieum train` did not train on (the shared datasets' calib+test hash split)",
    )
    p.add_argument("--encoder", default=None)
    p.add_argument("--artifact", default=None)
    p.set_defaults(func=_main)


def evaluate_files(
    assessor: Any, paths: list[Path], by_source: bool = False, held_out: bool = False
) -> dict[str, Any]:
    from models.banks import read_jsonl, split_of
    from models.metrics import by_group

    rows = [e for path in paths for e in read_jsonl(path)]
    if held_out:
        rows = [e for e in rows if split_of(e.text) != "train"]
    results = assessor.assess_many([e.text for e in rows])
    labels = [e.label for e in rows]
    levels = [a.level.value for a in results]
    scores = [a.score for a in results]
    report: dict[str, Any] = {"by_lang": by_group([e.lang for e in rows], labels, levels, scores)}
    if by_source:
        report["by_source"] = by_group([e.source for e in rows], labels, levels, scores)
    return report


def _fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def render(report: dict[str, Any]) -> str:
    lines = []
    for section, groups in report.items():
        lines.append(f"# {section}")
        heads = ("n", "c.rec", "c.prec", "n->c", "n->any", "d.rec", "prauc")
        lines.append(f"{'group':<44} " + " ".join(f"{h:>6}" for h in heads))
        for name, m in groups.items():
            lines.append(
                f"{name[:44]:<44} {m['n']:>6} {_fmt(m['crisis_recall']):>6} {_fmt(m['crisis_precision']):>6} "
                f"{_fmt(m['neutral_flagged_crisis']):>6} {_fmt(m['neutral_flagged_any']):>6} "
                f"{_fmt(m['distress_recall']):>6} {_fmt(m['crisis_pr_auc']):>6}"
            )
        for name, m in groups.items():
            rows = m["confusion"]["rows_true_cols_predicted"]
            lines.append(f"  confusion {name} (true \\ predicted none/distress/crisis): {rows}")
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    from bot.commands.assess import build
    from models.artifact import ArtifactError

    try:
        assessor = build(args.encoder, args.artifact)
    except ArtifactError as exc:
        print(f"ieum eval: {exc}", file=sys.stderr)
        return 2
    try:
        report = evaluate_files(assessor, args.data, args.by_source, args.held_out)
    finally:
        assessor.close()
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else render(report))
    return 0
