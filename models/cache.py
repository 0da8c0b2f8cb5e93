"""A small thread-safe LRU cache of sentence embeddings (chat repeats itself: "ㅇㅇ", "ok", "ㅋㅋ")."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from models.encoder_port import Encoder


class CachedEncoder:
    """Wraps an Encoder; same port. Only the missing sentences of a batch reach the encoder."""

    def __init__(self, encoder: Encoder, size: int = 4096) -> None:
        self.inner = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.size = size
        self._store: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def cached(self, texts: Sequence[str]) -> np.ndarray | None:
        """The embeddings of `texts` if every one is in the cache, else None. Never encodes, so it
        is cheap enough for the event loop (a caller that gets None encodes in a worker thread)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for i, text in enumerate(texts):
                vec = self._store.get(text)
                if vec is None:
                    return None
                out[i] = vec
            for text in texts:
                self._store.move_to_end(text)
            self.hits += len(texts)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vec = self._store.get(text)
                if vec is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._store.move_to_end(text)
                    out[i] = vec
            self.hits += len(texts) - sum(len(v) for v in missing.values())
            self.misses += len(missing)
        if missing:
            todo = list(missing)
            vectors = self.inner.encode(todo)
            with self._lock:
                for text, vec in zip(todo, vectors, strict=True):
                    for i in missing[text]:
                        out[i] = vec
                    self._store[text] = vec
                    self._store.move_to_end(text)
                while len(self._store) > self.size:
                    self._store.popitem(last=False)
        return out
