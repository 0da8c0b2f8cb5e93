"""`ieum bench updates` as a real process: every update it drives is handled and measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

IEUM = str(Path(sys.executable).with_name("ieum"))


async def test_bench_updates_handles_every_update_and_reports_its_figures(
    redis_url: str, redis: aioredis.Redis
) -> None:
    run = subprocess.run(
        [IEUM, "bench", "updates", "-n", "80", "--warmup", "20", "--users", "8", "--json"]
        + ["--assessor", "keyword", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout)
    assert figures["handled"] == figures["updates"] == 80
    assert figures["updates_per_s"] > 0
    assert 0 < figures["handling_ms_p50"] <= figures["handling_ms_p99"] <= figures["handling_ms_max"]
    assert figures["bot_api_rtt_ms_p50"] > 0
    assert figures["python_loop_us"] > 0
    assert "measuring 80 updates" in run.stderr
