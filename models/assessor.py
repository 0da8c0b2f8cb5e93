"""The real risk assessor: detector (classifier + lexicon) + conversation context, off the event loop.

Concurrency, a safety decision: encoding is CPU-bound and the default tokenizer is pure Python, so
`assess` runs in a small worker pool, never on the event loop. A long message is scored in chunks of
sentences, each its own job, so short messages from other people interleave with it instead of
waiting behind it; the pipeline's 3 s timeout is then reached only by pathological input (and a
timeout is treated as possible crisis by the pipeline, which fails safe).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from models import lexicon
from models.assessment import Assessment, RiskContext
from models.cache import CachedEncoder
from models.decision import decide
from models.detector import Detector, Raw
from models.encoder_port import Encoder
from models.text import encodable, segments

CHUNK_SEGMENTS = 8  # sentences per job for a long message
BATCH = 256  # messages per encoder call in assess_many
# Readings of short messages kept by text: chat repeats itself ("ㅇㅇ", "고마워", "ok"), and a
# repeated message is then read without a trip to the worker pool. A reading is a pure function
# of the text (context is applied after), so a kept one is exactly what scoring would return.
READING_CACHE_SIZE = 4096
READING_CACHE_MAX_CHARS = 280


class DetectorAssessor:
    def __init__(
        self, detector: Detector, encoder: Encoder, workers: int = 2, cache_size: int = 4096
    ) -> None:
        self.detector = detector
        self.encoder = CachedEncoder(encoder, size=cache_size) if cache_size else encoder
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assess")
        # Touched only on the event loop (`assess`), so it needs no lock.
        self._readings: OrderedDict[str, Raw] = OrderedDict()
        self._readings_size = cache_size and READING_CACHE_SIZE
        self.readings_reused = 0

    # --- the port ----------------------------------------------------------------------------
    async def assess(self, text: str, context: RiskContext | None = None) -> Assessment:
        raw = self._readings.get(text)
        if raw is not None:
            self._readings.move_to_end(text)
            self.readings_reused += 1
        else:
            loop = asyncio.get_running_loop()
            segs = segments(text)
            if len(segs) <= CHUNK_SEGMENTS:
                raw = await loop.run_in_executor(self._executor, self._score_one, text)
            else:
                raw = await self._score_long(loop, text, segs)
            self._keep_reading(text, raw)
        return decide(raw, self.detector.thresholds_for(raw.lang), context)

    def _keep_reading(self, text: str, raw: Raw) -> None:
        if not self._readings_size or len(text) > READING_CACHE_MAX_CHARS:
            return
        self._readings[text] = raw
        if len(self._readings) > self._readings_size:
            self._readings.popitem(last=False)

    # --- batches (the CLI, evaluation, benchmarks) -------------------------------------------
    def assess_many(
        self, texts: Sequence[str], contexts: Sequence[RiskContext | None] | None = None
    ) -> list[Assessment]:
        """Synchronous and batched: for `ieum assess`, `ieum eval` and benchmarks, not the event loop."""
        out: list[Assessment] = []
        for start in range(0, len(texts), BATCH):
            raws = self.detector.score(self.encoder, texts[start : start + BATCH])
            for i, raw in enumerate(raws, start):
                ctx = contexts[i] if contexts is not None else None
                out.append(decide(raw, self.detector.thresholds_for(raw.lang), ctx))
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- internals -----------------------------------------------------------------------------
    def _score_one(self, text: str) -> Raw:
        return self.detector.score(self.encoder, [text])[0]

    async def _score_long(self, loop: asyncio.AbstractEventLoop, text: str, segs: list[str]) -> Raw:
        """Score a long message chunk by chunk; the message's reading is its strongest chunk."""
        keep = encodable(segs)
        scored = [segs[i] for i in keep]
        parts: list[Raw] = []
        for start in range(0, len(scored), CHUNK_SEGMENTS):
            chunk = "\n".join(scored[start : start + CHUNK_SEGMENTS])
            parts.append(await loop.run_in_executor(self._executor, self._score_one, chunk))
        raw = merge(parts)
        if len(keep) < len(segs):  # the middle of a huge message: the lexicon still reads it
            kept = set(keep)
            fired = (r for i, s in enumerate(segs) if i not in kept for r in lexicon.read(s).crisis)
            extra = tuple(r for r in dict.fromkeys(fired) if r not in raw.explicit)
            raw = replace(raw, explicit=raw.explicit + extra)
        return raw


def merge(parts: Sequence[Raw]) -> Raw:
    top_c = max(parts, key=lambda r: r.p_crisis)
    top_f = max(parts, key=lambda r: r.p_flag)
    explicit: list[str] = []
    guards: list[str] = []
    for part in parts:
        explicit.extend(r for r in part.explicit if r not in explicit)
        guards.extend(g for g in part.guards if g not in guards)
    return Raw(
        lang=top_c.lang,
        p_crisis=top_c.p_crisis,
        p_flag=top_f.p_flag,
        explicit=tuple(explicit),
        guards=tuple(guards),
        hyperbole=any(p.hyperbole for p in parts),
        crisis_category=top_c.crisis_category,
        distress_category=top_f.distress_category,
        none_category=top_f.none_category,
        n_segments=sum(p.n_segments for p in parts),
    )
