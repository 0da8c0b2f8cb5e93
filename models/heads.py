"""The trained heads as plain arrays: fitted with scikit-learn by `ieum train`, exported here.

Why export: the app then loads the detector from a numpy archive (no pickle, no scikit-learn import
at start-up: load time counts), and one message costs a few small matrix products instead of
scikit-learn's per-call validation. `tests/test_models_heads.py` checks the exported heads give
scikit-learn's own `predict_proba` on the same inputs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_WHITE = re.compile(r"\s\s+")
WORD_MEMO = 50_000  # words whose n-gram ids are remembered


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class LinearHead:
    """A multinomial logistic regression with per-class sigmoid calibration (one-vs-rest)."""

    coef: np.ndarray  # (k, d)
    intercept: np.ndarray  # (k,)
    cal_a: np.ndarray  # (k,)
    cal_b: np.ndarray  # (k,)

    @classmethod
    def from_sklearn(cls, calibrated: Any) -> LinearHead:
        """From a fitted `CalibratedClassifierCV(LogisticRegression, method="sigmoid", ensemble=False)`."""
        (inner,) = calibrated.calibrated_classifiers_
        lr = inner.estimator
        if list(lr.classes_) != list(range(len(lr.classes_))):
            raise ValueError("classes must be 0..k-1")
        return cls(
            coef=np.asarray(lr.coef_, dtype=np.float64),
            intercept=np.asarray(lr.intercept_, dtype=np.float64),
            cal_a=np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
            cal_b=np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
        )

    def decision(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef.T) + self.intercept

    def predict_proba(self, x: Any) -> np.ndarray:
        p = _expit(-(self.cal_a * self.decision(x) + self.cal_b))
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1.0 / p.shape[1])
        return np.divide(p, total, out=uniform, where=total != 0)


@dataclass(frozen=True)
class CharTfidfHead:
    """Character n-grams within word boundaries (scikit-learn's `char_wb`), sublinear tf-idf, l2."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]
    linear: LinearHead
    _memo: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_sklearn(cls, pipeline: Any) -> CharTfidfHead:
        vec, calibrated = pipeline[0], pipeline[-1]
        if vec.analyzer != "char_wb" or not vec.sublinear_tf or vec.norm != "l2" or not vec.lowercase:
            raise ValueError("only char_wb, sublinear, l2, lowercase vectorizers are exported")
        return cls(
            vocabulary={k: int(v) for k, v in vec.vocabulary_.items()},
            idf=np.asarray(vec.idf_, dtype=np.float64),
            ngram_range=tuple(vec.ngram_range),
            linear=LinearHead.from_sklearn(calibrated),
        )

    def ngrams(self, text: str) -> list[str]:
        text = _WHITE.sub(" ", text.lower())
        return [g for word in text.split() for g in self._word_ngrams(word)]

    def _word_ngrams(self, word: str) -> list[str]:
        lo, hi = self.ngram_range
        w = f" {word} "
        out: list[str] = []
        for n in range(lo, hi + 1):
            out.extend(w[i : i + n] for i in range(max(1, len(w) - n + 1)))
            if len(w) <= n:  # a short word counts once, as scikit-learn does
                break
        return out

    def _word_ids(self, word: str) -> list[int]:
        """Vocabulary ids of one word's n-grams; words repeat a lot in chat, so they are memoised."""
        ids = self._memo.get(word)
        if ids is None:
            vocab = self.vocabulary
            ids = [i for g in self._word_ngrams(word) if (i := vocab.get(g)) is not None]
            if len(self._memo) >= WORD_MEMO:
                self._memo.clear()
            self._memo[word] = ids
        return ids

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Dense (n, k) scores are all we need: project each sparse row straight onto the coefficients."""
        coef = self.linear.coef
        out = np.zeros((len(texts), coef.shape[0]))
        idf = self.idf
        for row, text in enumerate(texts):
            counts = Counter(
                i for word in _WHITE.sub(" ", text.lower()).split() for i in self._word_ids(word)
            )
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(
                (1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts)
            )
            w = tf * idf[idx]
            w /= np.linalg.norm(w)
            out[row] = coef[:, idx] @ w
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        d = self.transform(texts) + self.linear.intercept
        p = _expit(-(self.linear.cal_a * d + self.linear.cal_b))
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1.0 / p.shape[1])
        return np.divide(p, total, out=uniform, where=total != 0)
