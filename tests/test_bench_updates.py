"""`ieum bench updates` as a real process: every update it drives is handled and measured."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import redis.asyncio as aioredis

IEUM = str(Path(sys.executable).with_name("ieum"))


async def test_bench_updates_handles_every_update_and_reports_its_figures(
    redis_url: str, redis: aioredis.Redis
) -> None:
    args = ["bench", "updates", "-n", "80", "--warmup", "20", "--users", "8", "--json"]
    process = await asyncio.create_subprocess_exec(
        IEUM,
        *args,
        "--assessor",
        "keyword",
        "--redis-url",
        redis_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=110)
    assert process.returncode == 0, err.decode()[-2000:]
    figures = json.loads(out)
    assert figures["handled"] == figures["updates"] == 80
    assert figures["updates_per_s"] > 0
    assert 0 < figures["handling_ms_p50"] <= figures["handling_ms_p99"] <= figures["handling_ms_max"]
    assert figures["bot_api_rtt_ms_p50"] > 0
    assert figures["python_loop_us"] > 0
    assert "measuring 80 updates" in err.decode()
