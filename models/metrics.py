"""Detection metrics, per language and overall: what `ieum eval` prints and `ieum train` records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

from models.banks import LABELS


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def metrics(labels: Sequence[str], levels: Sequence[str], scores: Sequence[float]) -> dict[str, Any]:
    """labels / levels in LABELS (`none`, `distress`, `crisis`); scores are crisis probabilities."""
    y = np.array([LABELS.index(label) for label in labels], dtype=int)
    p = np.array([LABELS.index(level) for level in levels], dtype=int)
    s = np.asarray(scores, dtype=float)
    none, distress, crisis = 0, 1, 2
    confusion = np.zeros((3, 3), dtype=int)
    np.add.at(confusion, (y, p), 1)
    is_c, flag_c = y == crisis, p == crisis
    out: dict[str, Any] = {
        "n": len(y),
        "support": {LABELS[i]: int((y == i).sum()) for i in range(3)},
        "crisis_recall": _ratio(int((is_c & flag_c).sum()), int(is_c.sum())),
        "crisis_precision": _ratio(int((is_c & flag_c).sum()), int(flag_c.sum())),
        "neutral_flagged_crisis": _ratio(int(((y == none) & flag_c).sum()), int((y == none).sum())),
        "neutral_flagged_any": _ratio(int(((y == none) & (p != none)).sum()), int((y == none).sum())),
        "distress_recall": _ratio(int(((y == distress) & (p != none)).sum()), int((y == distress).sum())),
        "confusion": {
            "labels": list(LABELS),
            "rows_true_cols_predicted": confusion.tolist(),
        },
        "crisis_pr_auc": None,
    }
    if 0 < is_c.sum() < len(y):
        out["crisis_pr_auc"] = round(float(average_precision_score(is_c, s)), 4)
    return out


def by_group(
    groups: Sequence[str], labels: Sequence[str], levels: Sequence[str], scores: Sequence[float]
) -> dict[str, Any]:
    """Metrics per group value (language or source) plus `all`."""
    out: dict[str, Any] = {}
    for group in sorted(set(groups)):
        idx = [i for i, g in enumerate(groups) if g == group]
        out[group] = metrics([labels[i] for i in idx], [levels[i] for i in idx], [scores[i] for i in idx])
    out["all"] = metrics(labels, levels, scores)
    return out
