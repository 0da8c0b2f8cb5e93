"""Text helpers for detection: language guess and sentence segmentation.

Long messages are split into sentences so that (a) one crisis sentence inside a long message is
scored on its own instead of being averaged away, and (b) the pure-Python tokenizer of the default
encoder never sees one huge string (its cost grows with the length of a single input).
"""

from __future__ import annotations

import re

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_SPACES = re.compile(r"\s+")
# Sentence ends: Western punctuation, Korean sentence-final endings followed by a space, newlines,
# and chat habits (ㅋㅋ / ㅠㅠ runs) that close a thought.
_SPLIT = re.compile(r"(?<=[.!?。？！…~])\s+|\n+|(?<=[ㅋㅎㅠㅜ]{2})\s+")

SHORT_MESSAGE = 40  # characters: encode such a message whole (one sentence in practice)
MAX_SEGMENT = 160  # characters: a sentence longer than this is cut at spaces
MAX_SEGMENTS = 400  # the encoder sees at most this many segments (Telegram caps a message at 4,096
# characters, so only pasted walls of text reach it); the lexicon reads everything


def guess_lang(text: str) -> str:
    """`ko` when the text has any Hangul, else `en` (the two languages ieum serves)."""
    return "ko" if _HANGUL.search(text) else "en"


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _cut(sentence: str) -> list[str]:
    if len(sentence) <= MAX_SEGMENT:
        return [sentence]
    out: list[str] = []
    words = sentence.split(" ")
    current = ""
    for word in words:
        while len(word) > MAX_SEGMENT:  # no spaces at all: hard cut
            if current:
                out.append(current)
                current = ""
            out.append(word[:MAX_SEGMENT])
            word = word[MAX_SEGMENT:]
        if current and len(current) + 1 + len(word) > MAX_SEGMENT:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        out.append(current)
    return out


def segments(text: str) -> list[str]:
    """The pieces the encoder scores: the whole message when short, else its sentences.

    Every sentence is returned; `encodable` picks the ones the encoder scores.
    """
    text = text.strip()
    if not text:
        return []
    if len(text) <= SHORT_MESSAGE and "\n" not in text:
        return [normalise(text)]
    pieces: list[str] = []
    for raw in _SPLIT.split(text):
        sentence = normalise(raw)
        if sentence:
            pieces.extend(_cut(sentence))
    # Glue very short fragments ("응.", "ㅋㅋ") onto the previous sentence so they carry context.
    merged: list[str] = []
    for piece in pieces:
        if merged and len(piece) < 6 and len(merged[-1]) + len(piece) < MAX_SEGMENT:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged or [normalise(text)[:MAX_SEGMENT]]


def encodable(segs: list[str]) -> list[int]:
    """Indices of the segments the encoder scores: all of them up to MAX_SEGMENTS, else the first and
    last halves (goodbyes and plans tend to open or close a message). The lexicon reads every one."""
    if len(segs) <= MAX_SEGMENTS:
        return list(range(len(segs)))
    half = MAX_SEGMENTS // 2
    return list(range(half)) + list(range(len(segs) - half, len(segs)))
