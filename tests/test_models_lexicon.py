import pytest

from models import lexicon

EXPLICIT = [
    "자살하고 싶어",
    "죽고 싶다",
    "진짜 살기 싫어",
    "ㅈㅅ하고 싶다",
    "한강 물 온도 몇 도야",
    "극단적 선택 하고 싶어",
    "자해했어",
    "번개탄 사놨어",
    "수면제 모아뒀어",
    "유서 썼어",
    "i want to kill myself",
    "gonna kms",
    "i want to unalive myself",
    "sewerslide",
    "i want to die",
    "everyone would be better off without me",
    "i cut myself again",
    "how many pills would it take to die",
    # chat spellings, passive wishes, euphemisms and means (generalisation round)
    "죽고시퍼",
    "살기시러",
    "태어나지 말걸",
    "자다가 그냥 안 깼으면",
    "누가 날 죽여줬으면",
    "인생 로그아웃 하고 싶다",
    "생을 마감하고 싶어",
    "ㅈ살하고 싶다",
    "자살 마렵다",
    "한강 수온 검색해봄",
    "타이레놀 몇 알 먹으면 죽어",
    "또 그었어",
    "먼저 가서 미안해 엄마",
    "i just wanna be dead",
    "im gonna end it tonight",
    # lethal-dose and method questions, self-harm slang and aftermath, intent softened with "lol"
    "수면제 치사량이 몇 알이야",
    "너무 깊게 그었나봐",
    "relapsed on sh last night",
    "what's the lethal dose of tylenol",
    "how much of my meds would it take to kill me",
    "might just jump tonight",
    "gonna step in front of a train",
    "cut too deep this time",
    "im gonna die tonight",
]

NOT_CRISIS = [
    "졸려 죽겠다",
    "배고파 죽을 것 같아",
    "미치겠다 진짜",
    "시험 기간이라 죽을 맛",
    "this homework is killing me",
    "i'm dying to see that movie",
    "i'm dead tired",
    "i could kill for a burger",
    "my phone battery is dead",
    "died to the boss again",
    "그 가수 죽고 못 살아",
    "한강 가서 치맥 하자",
    "투자해볼까",
    "설레서 죽을 것 같아",
    "엄마한테 들키면 나 죽음",
    "두통약 한 알 먹었어",
    "다시 태어나면 고양이로 태어나고 싶어",
    "이 물건 살 가치가 없어",
    "so tired im gonna die",
    "gonna die of boredom in this class",
    "just killing time",
    "창피해서 쥐구멍에 들어가고 싶다",
    "마포대교 난간에 있는 문구 봤어?",
    "gonna jump in the pool",
    "how many hits does it take to kill the dragon",
]

MENTIONS = [
    "자살 예방 캠페인 포스터 만들었어",
    "뉴스에서 자살률 기사 봤어",
    "드라마 주인공이 죽고 싶다고 하는 장면",
    "we made posters for suicide prevention week",
    "the song lyrics say i want to die",
    "they put hotline signs on the bridge",
    "the news said overdose deaths went up",
]


@pytest.mark.parametrize("text", EXPLICIT)
def test_explicit_statements_fire(text):
    assert lexicon.read(text).crisis, text


@pytest.mark.parametrize("text", NOT_CRISIS)
def test_hyperbole_and_idioms_do_not_fire(text):
    assert not lexicon.read(text).crisis, text


@pytest.mark.parametrize("text", MENTIONS)
def test_mentions_not_about_the_writer_are_suppressed(text):
    hit = lexicon.read(text)
    assert not hit.crisis and hit.not_self, text


def test_first_person_beside_a_mention_still_fires():
    assert lexicon.read("드라마 보다가 나도 죽고 싶어졌어").crisis


@pytest.mark.parametrize(
    "text",
    [
        "졸려 죽겠다",
        "this homework is killing me",
        "보스한테 또 죽었어",
        "긴장돼서 죽을 것 같아",
        "목 말라 죽겠다",
        "ate way too much im literally dying",
        "LMAO im dying",
        "my mom is gonna kill me",
        "so hungry im gonna die lol",
        "id rather die than do karaoke",
        "민망해서 숨고 싶다",
    ],
)
def test_hyperbole_is_recognised(text):
    assert lexicon.read(text).hyperbole
