"""Token buckets that keep deliveries inside Telegram's limits before Telegram has to say 429.

Telegram's published limits: about 30 messages/s for a bot overall, about 1 message/s in one
chat, and no more than 20 messages/minute in one group. The global bucket schedules slots at
exact 1/rate intervals (slots that a late wake-up missed are caught up, so timer jitter does not
slow a long fan-out down); per-chat buckets allow no burst in a private chat.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
        # A burst of 2 lets one late timer wake-up be caught up, so a long fan-out keeps the exact
        # average rate; it can put one message over a strict sliding window, which costs that one
        # message a 429 and its retry_after, not the run.
        self.global_bucket = Bucket(config.global_per_s, burst=2.0)
        self._chats: dict[str, Bucket] = {}
        self._groups: dict[str, Bucket] = {}

    def global_delay(self, now: float) -> float:
        return self.global_bucket.delay(now)

    def chat_delay(self, chat_id: str, now: float) -> float:
        wait = self._chat(chat_id).delay(now)
        if _is_group(chat_id):
            wait = max(wait, self._group(chat_id).delay(now))
        return wait

    def take(self, chat_id: str | None, now: float) -> None:
        self.global_bucket.take(now)
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
