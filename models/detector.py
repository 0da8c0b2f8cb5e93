"""The trained detector: classifier heads + exemplar bank vectors + thresholds, scoring batches.

A message is scored per sentence (see `models.text.segments`): its crisis probability is the highest
of its sentences, so one crisis sentence inside a long, ordinary message still stands out.

The embedding head reads the sentence embedding plus its similarity to the exemplar banks (the best
and the mean of the best three per class): exemplars written the way young people write carry
further than the public data alone. The nearest crisis / distress exemplar also names the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from models import lexicon
from models.banks import LABELS
from models.encoder_port import Encoder
from models.heads import CharTfidfHead, LinearHead
from models.text import encodable, guess_lang, segments

NONE, DISTRESS, CRISIS = (LABELS.index(x) for x in ("none", "distress", "crisis"))
# A sentence that is everyday hyperbole ("졸려 죽겠다", "this homework is killing me") and fires no
# explicit rule keeps only this share of its crisis probability; the rest counts as distress.
HYPERBOLE_DAMPING = 0.35
# A mention not about the writer (news, a campaign, a drama's plot) keeps less: the topic words
# ("dies", "bridge", "hotline") pull the classifier up, yet nobody in the chat is at risk.
NOT_SELF_DAMPING = 0.2
KNN_SCALE = 3.0
KNN_TOP = 3


def _class_columns(bank_labels: np.ndarray) -> list[slice | np.ndarray]:
    """Per class, its bank columns: a slice when the bank is sorted by class (no copy), else a mask."""
    out: list[slice | np.ndarray] = []
    for c in range(len(LABELS)):
        idx = np.flatnonzero(bank_labels == c)
        contiguous = len(idx) and idx[-1] - idx[0] + 1 == len(idx)
        out.append(slice(int(idx[0]), int(idx[-1]) + 1) if contiguous else bank_labels == c)
    return out


def knn_features(
    sims: np.ndarray, bank_labels: np.ndarray, columns: list[slice | np.ndarray] | None = None
) -> np.ndarray:
    """(n, 6): per class, the best similarity and the mean of the best three."""
    cols = []
    for where in columns or _class_columns(bank_labels):
        s = sims[:, where]
        k = min(KNN_TOP, s.shape[1])
        top = -np.partition(-s, k - 1, axis=1)[:, :k]
        cols += [top.max(axis=1), top.mean(axis=1)]
    return KNN_SCALE * np.stack(cols, axis=1)


def emb_inputs(
    vectors: np.ndarray,
    sims: np.ndarray,
    bank_labels: np.ndarray,
    columns: list[slice | np.ndarray] | None = None,
) -> np.ndarray:
    return np.hstack([vectors.astype(np.float64), knn_features(sims, bank_labels, columns)])


@dataclass(frozen=True)
class Raw:
    """What the detector read in one message, before thresholds and context."""

    lang: str
    p_crisis: float  # highest sentence crisis probability (after hyperbole damping)
    p_flag: float  # highest sentence probability of distress or crisis
    explicit: tuple[str, ...] = ()  # lexicon rules that fired
    guards: tuple[str, ...] = ()  # mentions not about the writer
    hyperbole: bool = False
    crisis_category: str = ""  # nearest crisis exemplar's category for the top sentence
    distress_category: str = ""
    none_category: str = ""  # nearest everyday exemplar's category ("hyperbole", "games", ...)
    n_segments: int = 1


@dataclass
class Detector:
    encoder_name: str
    emb_head: LinearHead | None
    tfidf_head: CharTfidfHead | None
    weight: float  # blend weight of the embedding head (1.0 = embeddings only); see `weight_for`
    bank_vectors: np.ndarray  # (n, dim) float32, exemplar embeddings
    bank_labels: np.ndarray  # (n,) int class ids
    bank_categories: list[str]
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # lang|all -> crisis/distress
    meta: dict[str, Any] = field(default_factory=dict)
    _columns: list[slice | np.ndarray] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        labels = np.asarray(self.bank_labels, dtype=np.int64)
        # Sorted by class (stable), so each class's similarities are one slice: no per-message copy.
        order = np.argsort(labels, kind="stable")
        self.bank_vectors = np.ascontiguousarray(np.asarray(self.bank_vectors)[order], dtype=np.float32)
        self.bank_labels = labels[order]
        self.bank_categories = [self.bank_categories[int(i)] for i in order]
        self._columns = _class_columns(self.bank_labels)

    def weight_for(self, lang: str) -> float:
        """The blend weight for a language: `meta["lang_weights"][lang]` when training chose one per
        language (Korean carries to new phrasings better with more character n-gram weight), else
        `weight`."""
        return float(self.meta.get("lang_weights", {}).get(lang, self.weight))

    # --- sentences ---------------------------------------------------------------------------
    def proba(
        self, texts: Sequence[str], vectors: np.ndarray, sims: np.ndarray, langs: Sequence[str] | None = None
    ) -> np.ndarray:
        """Class probabilities (n, 3) for sentences, blending the heads by each sentence's language
        weight (`weight_for`; without `langs`, `weight` for all)."""
        p = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
        if not len(texts):
            return p
        if langs is None:
            w = np.full(len(texts), self.weight)
        else:
            w = np.array([self.weight_for(lang) for lang in langs], dtype=np.float64)
        if self.emb_head is None:
            w[:] = 0.0
        elif self.tfidf_head is None:
            w[:] = 1.0
        if (w > 0).any():
            x = emb_inputs(vectors, sims, self.bank_labels, self._columns)
            p += w[:, None] * self.emb_head.predict_proba(x)  # type: ignore[union-attr]
        if (w < 1).any():
            p += (1 - w)[:, None] * self.tfidf_head.predict_proba(texts)  # type: ignore[union-attr]
        return p

    def _nearest(self, sims_row: np.ndarray, label: int) -> str:
        where = self._columns[label]
        if isinstance(where, slice):
            if where.stop <= where.start:
                return ""
            return self.bank_categories[where.start + int(np.argmax(sims_row[where]))]
        idx = np.flatnonzero(where)
        if not len(idx):
            return ""
        return self.bank_categories[int(idx[int(np.argmax(sims_row[idx]))])]

    # --- messages --------------------------------------------------------------------------------
    def score(self, encoder: Encoder, texts: Sequence[str]) -> list[Raw]:
        """Score messages in one batch: all their sentences go through the encoder together."""
        all_segs: list[list[str]] = [segments(t) for t in texts]
        pieces = [[segs[i] for i in encodable(segs)] for segs in all_segs]
        flat = [s for segs in pieces for s in segs]
        langs = [guess_lang(t) for t in texts]
        flat_langs = [lang for lang, segs in zip(langs, pieces, strict=True) for _ in segs]
        vectors = encoder.encode(flat) if flat else np.zeros((0, encoder.dim), dtype=np.float32)
        sims = vectors @ self.bank_vectors.T
        probs = self.proba(flat, vectors, sims, flat_langs)
        out: list[Raw] = []
        start = 0
        for text, segs, every in zip(texts, pieces, all_segs, strict=True):
            n = len(segs)
            raw = self._aggregate(text, segs, sims[start : start + n], probs[start : start + n])
            if len(every) > n:  # the encoder skipped the middle of a huge message; the lexicon did not
                seen = set(segs)
                skipped = [lexicon.read(s) for s in every if s not in seen]
                fired = (r for hit in skipped for r in hit.crisis if r not in raw.explicit)
                extra = tuple(dict.fromkeys(fired))
                if extra:
                    raw = replace(raw, explicit=raw.explicit + extra)
            out.append(raw)
            start += n
        return out

    def _aggregate(self, text: str, segs: list[str], sims: np.ndarray, probs: np.ndarray) -> Raw:
        lang = guess_lang(text)
        if not segs:
            return Raw(lang, 0.0, 0.0, n_segments=0)
        explicit: list[str] = []
        guards: list[str] = []
        hyperbole = False
        p_crisis = np.empty(len(segs))
        p_flag = np.empty(len(segs))
        for i, seg in enumerate(segs):
            hit = lexicon.read(seg)
            explicit.extend(r for r in hit.crisis if r not in explicit)
            guards.extend(g for g in hit.guards if g not in guards)
            pc, pd = float(probs[i, CRISIS]), float(probs[i, DISTRESS])
            if (hit.hyperbole or hit.not_self) and not hit.crisis:
                # Hyperbole, or a mention not about the writer (campaign, news, a drama): damped.
                hyperbole = hyperbole or bool(hit.hyperbole)
                keep = HYPERBOLE_DAMPING if hit.hyperbole else NOT_SELF_DAMPING
                pd, pc = pd + pc * (1 - keep), pc * keep
            p_crisis[i], p_flag[i] = pc, pc + pd
        top_c = int(np.argmax(p_crisis))
        top_f = int(np.argmax(p_flag))
        return Raw(
            lang=lang,
            p_crisis=float(p_crisis[top_c]),
            p_flag=float(p_flag[top_f]),
            explicit=tuple(explicit),
            guards=tuple(guards),
            hyperbole=hyperbole,
            crisis_category=self._nearest(sims[top_c], CRISIS),
            distress_category=self._nearest(sims[top_f], DISTRESS),
            none_category=self._nearest(sims[top_f], NONE),
            n_segments=len(segs),
        )

    def thresholds_for(self, lang: str) -> dict[str, float]:
        return self.thresholds.get(lang) or self.thresholds["all"]
