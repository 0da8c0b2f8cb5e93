"""Token buckets that keep deliveries inside Telegram's limits before Telegram has to say 429.

Telegram's published limits: about 30 messages/s for a bot overall, about 1 message/s in one
chat, and no more than 20 messages/minute in one group. Globally, a token bucket spaces sends
evenly and its small burst catches up slots a late timer wake-up missed (so jitter does not slow a
long fan-out down), while a sliding window never lets more than `rate` sends into any
1 s + `WINDOW_MARGIN_S` span (so catching up never earns a 429 from a strict limiter; the margin
absorbs network jitter and costs about 1.5% of the ideal rate). Per-chat buckets allow no burst.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_MARGIN_S = 0.015


@dataclass
class Bucket:
    """`rate` tokens per second, at most `burst` saved up. `delay()` says how long until one is free."""

    rate: float
    burst: float = 1.0
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:  # first use: start full
            self.tokens, self.stamp = self.burst, now
            return
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def delay(self, now: float) -> float:
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        if self.rate <= 0:
            return
        self._refill(now)
        self.tokens -= 1.0

    def idle(self, now: float) -> bool:
        """Full again (nothing to remember): the bucket can be forgotten."""
        self._refill(now)
        return self.tokens >= self.burst - 1e-9


class SlidingWindow:
    """At most `limit` events in any `span` seconds."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self.times: deque[float] = deque()

    def delay(self, now: float) -> float:
        if self.limit <= 0:
            return 0.0
        while self.times and now - self.times[0] >= self.span:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.span - now

    def take(self, now: float) -> None:
        if self.limit > 0:
            self.times.append(now)


@dataclass(frozen=True)
class PacingConfig:
    global_per_s: float = 30.0  # 0 disables
    chat_per_s: float = 1.0
    group_per_min: float = 20.0

    @staticmethod
    def unlimited() -> PacingConfig:
        return PacingConfig(0.0, 0.0, 0.0)


class Pacer:
    """The global bucket plus one bucket per chat (groups get the per-minute bucket as well)."""

    def __init__(self, config: PacingConfig) -> None:
        self.config = config
        rate = config.global_per_s
        self.global_bucket = Bucket(rate, burst=2.0)
        self.global_window = SlidingWindow(int(rate) if rate >= 1 else 0, 1.0 + WINDOW_MARGIN_S)
        self._chats: dict[str, Bucket] = {}
        self._groups: dict[str, Bucket] = {}

    def global_delay(self, now: float) -> float:
        return max(self.global_bucket.delay(now), self.global_window.delay(now))

    def chat_delay(self, chat_id: str, now: float) -> float:
        wait = self._chat(chat_id).delay(now)
        if _is_group(chat_id):
            wait = max(wait, self._group(chat_id).delay(now))
        return wait

    def take(self, chat_id: str | None, now: float) -> None:
        self.global_bucket.take(now)
        self.global_window.take(now)
        if chat_id is None:
            return
        self._chat(chat_id).take(now)
        if _is_group(chat_id):
            self._group(chat_id).take(now)

    def forget_idle(self, now: float) -> None:
        for table in (self._chats, self._groups):
            for chat_id in [c for c, b in table.items() if b.idle(now)]:
                del table[chat_id]

    def _chat(self, chat_id: str) -> Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._chats[chat_id] = Bucket(self.config.chat_per_s, burst=1.0)
        return bucket

    def _group(self, chat_id: str) -> Bucket:
        bucket = self._groups.get(chat_id)
        if bucket is None:
            per_s = self.config.group_per_min / 60.0
            bucket = self._groups[chat_id] = Bucket(per_s, burst=max(1.0, self.config.group_per_min / 4))
        return bucket


def _is_group(chat_id: str) -> bool:
    """Telegram group and channel ids are negative; private chats are positive."""
    return chat_id.startswith("-")
