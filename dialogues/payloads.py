"""Quick-reply payloads: short, versioned, namespaced strings (Telegram allows 64 bytes).

Format: ``v1:<namespace>:<arg>[:<arg>]``. A payload carries everything needed to act on it, so a
button works even when the conversation has moved on (a check-in sent by the scheduler, a step
answered twice). A payload of another version or an unknown namespace gets a polite answer.

Namespaces:
- ``st:<step>:<option|skip>`` answer an onboarding/settings step
- ``set:<step>``              open one setting from /settings
- ``ci:<mood option>``        answer a check-in
- ``cx:idea`` / ``cx:bye``    after a check-in: a tiny suggestion, or leave
- ``cmd:<command>``           run a command (talk, start, checkin, ...)
- ``del:yes`` / ``del:no``    confirm or cancel /delete
- ``ob:resume``               continue onboarding after an interruption
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogues.messages import MAX_PAYLOAD_BYTES

VERSION = "v1"
NAMESPACES = frozenset({"st", "set", "ci", "cx", "cmd", "del", "ob"})


@dataclass(frozen=True)
class Payload:
    ns: str
    args: tuple[str, ...]

    def arg(self, index: int) -> str:
        return self.args[index] if index < len(self.args) else ""


def make(ns: str, *args: str) -> str:
    raw = ":".join((VERSION, ns, *args))
    if ns not in NAMESPACES or len(raw.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"bad payload {raw!r}")
    return raw


def parse(raw: str | None) -> Payload | None:
    """The payload, or None if it is not one this version understands (stale or foreign)."""
    if not raw or len(raw.encode()) > MAX_PAYLOAD_BYTES:
        return None
    parts = raw.split(":")
    if len(parts) < 3 or parts[0] != VERSION or parts[1] not in NAMESPACES:
        return None
    return Payload(parts[1], tuple(parts[2:]))
