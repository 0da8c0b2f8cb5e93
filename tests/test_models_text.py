from models.text import MAX_SEGMENT, MAX_SEGMENTS, guess_lang, segments


def test_lang_guess():
    assert guess_lang("졸려 죽겠다") == "ko"
    assert guess_lang("ㅈㅅ") == "ko"
    assert guess_lang("this homework is killing me") == "en"


def test_short_message_is_one_segment():
    assert segments("  오늘  점심 뭐 먹지 ") == ["오늘 점심 뭐 먹지"]
    assert segments("") == []


def test_long_message_is_split_into_sentences():
    text = (
        "오늘은 늦잠을 잤어. 점심은 라면을 먹었고 오후에는 유튜브를 봤어. "
        "근데 요즘 매일 죽고 싶어. 내일은 비가 온대."
    )
    segs = segments(text)
    assert len(segs) >= 3
    assert any("죽고 싶어" in s for s in segs)


def test_no_segment_is_huge_and_count_is_capped():
    text = "가" * 5000 + " " + "word " * 3000
    segs = segments(text)
    assert all(len(s) <= MAX_SEGMENT for s in segs)
    assert len(segs) <= MAX_SEGMENTS
