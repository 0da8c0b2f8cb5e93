"""`ieum bench detect`: throughput and latency of risk detection against the bare encoder.

Figures: load time (encoder + artifact), messages/s one at a time and batched (through the same code
as `ieum assess`, JSON in and out), p50/p99 per message at batch 1 (sync and through the async port),
the bare encoder's time on the same messages and the ratio, peak RSS. The embedding cache is off so
repeated messages do not flatter the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import time
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("detect", help="risk detection speed vs the bare encoder")
    p.add_argument("-n", type=int, default=2000, help="messages (default 2000)")
    p.add_argument("--encoder", default=None)
    p.add_argument("--artifact", default=None)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best kept (default 3)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_main)


def sample_messages(n: int) -> list[str]:
    """Chat-length messages from the banks and the dev set, made distinct so no cache can help."""
    from models.banks import DEV_FILE, load_banks, read_jsonl

    base = [e.text for e in load_banks()] + [e.text for e in read_jsonl(DEV_FILE) if len(e.text) <= 80]
    tails = ("", " ㅋㅋ", " ㅠㅠ", "!!", " lol", "...", " 진짜", " tbh")
    out: list[str] = []
    i = 0
    while len(out) < n:
        out.append(
            base[i % len(base)] + tails[(i // len(base)) % len(tails)] + (" " * (i // (8 * len(base))))
        )
        i += 1
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench(n: int, encoder_name: str | None, artifact: str | None, rounds: int = 3) -> dict[str, Any]:
    from pathlib import Path

    from bot.commands.assess import run
    from models.artifact import load
    from models.assessor import DetectorAssessor
    from models.factory import load_encoder

    t0 = time.perf_counter()
    path = Path(artifact) if artifact else None
    detector = load(path)
    encoder = load_encoder(encoder_name or detector.encoder_name)
    assessor = DetectorAssessor(detector, encoder, cache_size=0)
    load_s = time.perf_counter() - t0
    msgs = sample_messages(n)
    assessor.assess_many(msgs[:50])  # warm

    lines = [json.dumps({"text": m}, ensure_ascii=False) + "\n" for m in msgs]
    # The two sides run interleaved, `rounds` times, and each keeps its best round: other work on
    # the machine then slows both alike instead of whichever happened to run at the wrong moment.
    single_s = batched_s = enc_single_s = enc_batched_s = float("inf")
    lat: list[float] = []
    enc_lat: list[float] = []
    for _ in range(rounds):
        round_lat: list[float] = []
        t = time.perf_counter()
        for m in msgs:
            s = time.perf_counter()
            assessor.assess_many([m])
            round_lat.append(time.perf_counter() - s)
        elapsed = time.perf_counter() - t
        if elapsed < single_s:
            single_s, lat = elapsed, round_lat
        round_lat = []
        t = time.perf_counter()
        for m in msgs:
            s = time.perf_counter()
            encoder.encode([m])
            round_lat.append(time.perf_counter() - s)
        elapsed = time.perf_counter() - t
        if elapsed < enc_single_s:
            enc_single_s, enc_lat = elapsed, round_lat
        t = time.perf_counter()
        run(assessor, lines, io.StringIO())
        batched_s = min(batched_s, time.perf_counter() - t)
        t = time.perf_counter()
        for start in range(0, len(msgs), 256):
            encoder.encode(msgs[start : start + 256])
        enc_batched_s = min(enc_batched_s, time.perf_counter() - t)

    async def through_port() -> list[float]:
        out = []
        for m in msgs[:500]:
            s = time.perf_counter()
            await assessor.assess(m)
            out.append(time.perf_counter() - s)
        return out

    async_lat = asyncio.run(through_port())
    assessor.close()
    ms = 1000.0
    return {
        "messages": n,
        "rounds": rounds,
        "load_s": round(load_s, 3),
        "single_msgs_per_s": round(n / single_s, 1),
        "batched_msgs_per_s_ieum_assess": round(n / batched_s, 1),
        "p50_ms_batch1": round(_pct(lat, 0.5) * ms, 3),
        "p99_ms_batch1": round(_pct(lat, 0.99) * ms, 3),
        "async_port_p50_ms": round(_pct(async_lat, 0.5) * ms, 3),
        "async_port_p99_ms": round(_pct(async_lat, 0.99) * ms, 3),
        "encoder_single_msgs_per_s": round(n / enc_single_s, 1),
        "encoder_batched_msgs_per_s": round(n / enc_batched_s, 1),
        "encoder_p50_ms_batch1": round(_pct(enc_lat, 0.5) * ms, 3),
        "encoder_p99_ms_batch1": round(_pct(enc_lat, 0.99) * ms, 3),
        "ratio_single_vs_encoder": round(single_s / enc_single_s, 2),
        "ratio_batched_vs_encoder": round(batched_s / enc_batched_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _main(args: argparse.Namespace) -> int:
    result = bench(args.n, args.encoder, args.artifact, args.rounds)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:34} {value}")
    return 0
