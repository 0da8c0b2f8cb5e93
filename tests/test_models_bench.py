"""`ieum bench detect` runs and reports every figure the issue asks for (small n: a smoke test)."""

from bot.benchmarks.detect import bench, sample_messages


def test_sample_messages_are_distinct():
    msgs = sample_messages(3000)
    assert len(set(msgs)) == len(msgs)


def test_bench_detect_reports_all_figures():
    result = bench(60, None, None, rounds=1)
    for key in (
        "load_s",
        "single_msgs_per_s",
        "batched_msgs_per_s_ieum_assess",
        "p50_ms_batch1",
        "p99_ms_batch1",
        "encoder_batched_msgs_per_s",
        "ratio_batched_vs_encoder",
        "peak_rss_mb",
    ):
        assert result[key] > 0, key
