"""The committed detector artifact: `risk.npz` (the exported heads and exemplar vectors, plain arrays,
no pickle) beside `risk.json` (its card: encoder, blend weight, thresholds, metrics, data versions,
and the sha256 of the archive).

Safety decision: a missing, corrupt or mismatched artifact is a start-up error, never a silent
fallback to something weaker. The app must not run believing it detects crisis when it does not.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.detector import Detector
from models.heads import CharTfidfHead, LinearHead

ARTIFACT_DIR = Path(__file__).parent / "artifacts"
DEFAULT_ARTIFACT = ARTIFACT_DIR / "risk.npz"
FORMAT = 2


class ArtifactError(RuntimeError):
    """The detector artifact is missing, corrupt, or does not fit the encoder."""


def card_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _linear(prefix: str, head: LinearHead) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_coef": head.coef.astype(np.float32),
        f"{prefix}_intercept": head.intercept,
        f"{prefix}_cal_a": head.cal_a,
        f"{prefix}_cal_b": head.cal_b,
    }


def _read_linear(z: Any, prefix: str) -> LinearHead:
    return LinearHead(
        coef=np.asarray(z[f"{prefix}_coef"], dtype=np.float64),
        intercept=np.asarray(z[f"{prefix}_intercept"], dtype=np.float64),
        cal_a=np.asarray(z[f"{prefix}_cal_a"], dtype=np.float64),
        cal_b=np.asarray(z[f"{prefix}_cal_b"], dtype=np.float64),
    )


def save(detector: Detector, path: Path = DEFAULT_ARTIFACT) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "bank_vectors": detector.bank_vectors.astype(np.float16),
        "bank_labels": detector.bank_labels.astype(np.int8),
        "bank_categories": np.array(detector.bank_categories, dtype=str),
    }
    if detector.emb_head is not None:
        arrays.update(_linear("emb", detector.emb_head))
    if detector.tfidf_head is not None:
        head = detector.tfidf_head
        vocab = sorted(head.vocabulary, key=head.vocabulary.__getitem__)
        arrays.update(_linear("tfidf", head.linear))
        arrays["tfidf_vocab"] = np.array(vocab, dtype=str)
        arrays["tfidf_idf"] = head.idf.astype(np.float32)
        arrays["tfidf_ngram"] = np.array(head.ngram_range, dtype=np.int64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    data = buf.getvalue()
    path.write_bytes(data)
    card = {
        "format": FORMAT,
        "encoder": detector.encoder_name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "weight": detector.weight,
        "thresholds": detector.thresholds,
        **detector.meta,
    }
    card_path(path).write_text(json.dumps(card, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return card


def load(path: Path | None = None) -> Detector:
    path = Path(path) if path else DEFAULT_ARTIFACT
    card_file = card_path(path)
    if not path.is_file() or not card_file.is_file():
        raise ArtifactError(
            f"risk detector artifact not found: {path} (and its card {card_file.name}); "
            "run `ieum train` or restore the committed files under models/artifacts/"
        )
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"risk detector card {card_file} is unreadable: {exc}") from exc
    data = path.read_bytes()
    if card.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ArtifactError(f"risk detector artifact {path} is corrupt: its sha256 does not match the card")
    if card.get("format") != FORMAT:
        raise ArtifactError(f"risk detector artifact {path} has format {card.get('format')}, need {FORMAT}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            emb = _read_linear(z, "emb") if "emb_coef" in z.files else None
            tfidf = None
            if "tfidf_coef" in z.files:
                vocab = [str(v) for v in z["tfidf_vocab"]]
                lo, hi = (int(x) for x in z["tfidf_ngram"])
                tfidf = CharTfidfHead(
                    vocabulary={g: i for i, g in enumerate(vocab)},
                    idf=np.asarray(z["tfidf_idf"], dtype=np.float64),
                    ngram_range=(lo, hi),
                    linear=_read_linear(z, "tfidf"),
                )
            detector = Detector(
                encoder_name=str(card["encoder"]),
                emb_head=emb,
                tfidf_head=tfidf,
                weight=float(card["weight"]),
                bank_vectors=np.asarray(z["bank_vectors"]),
                bank_labels=np.asarray(z["bank_labels"]),
                bank_categories=[str(c) for c in z["bank_categories"]],
                thresholds=card["thresholds"],
                meta={k: v for k, v in card.items() if k != "thresholds"},
            )
    except (KeyError, ValueError, OSError) as exc:
        raise ArtifactError(f"risk detector artifact {path} cannot be read: {exc}") from exc
    if detector.emb_head is None and detector.tfidf_head is None:
        raise ArtifactError(f"risk detector artifact {path} has no classifier head")
    return detector
