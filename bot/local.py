"""The terminal channel: the full pipeline, with quick replies shown as numbered options.

Typing a number answers the option with that number (sent as a BUTTON with its payload), a line
starting with '/' is a command, anything else is text. Only the conversation goes to the output
stream; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TextIO

from clock import Clock
from dialogues.catalogue import FLOWS_DIR
from dialogues.messages import IncomingMessage, InputKind, QuickReply, Reply
from dialogues.texts import Reader, Text
from dialogues.yamlfile import load_yaml

CHANNEL = "local"
SCREEN_TEXTS = FLOWS_DIR / "local_chat.yaml"

Handler = Callable[[IncomingMessage], Awaitable[Sequence[Reply]]]


def screen_texts(path: Path = SCREEN_TEXTS) -> dict[str, Text]:
    """The terminal's own words (bot name, prompt, banner), from YAML like every other text."""
    reader = Reader(path, load_yaml(path))
    reader.check_keys({"bot_name", "prompt", "banner"})
    return {name: reader.text(name) for name in ("bot_name", "prompt", "banner")}


class LocalChat:
    """Turns typed lines into IncomingMessages and replies into text, remembering numbered options."""

    def __init__(self, handle: Handler, clock: Clock, out: TextIO, user_id: str = "me") -> None:
        self.handle = handle
        self.clock = clock
        self.out = out
        self.user_id = user_id
        self.options: list[QuickReply] = []
        self.texts = screen_texts()
        self.bot_name = self.texts["bot_name"].ko

    def to_message(self, line: str) -> IncomingMessage | None:
        text = line.strip()
        if not text:
            return None
        base = {
            "channel": CHANNEL,
            "user_id": self.user_id,
            "update_id": uuid.uuid4().hex,
            "ts": self.clock.now(),
        }
        if text.isdigit() and 1 <= int(text) <= len(self.options):
            option = self.options[int(text) - 1]
            return IncomingMessage(**base, kind=InputKind.BUTTON, text=option.label, payload=option.payload)
        if text.startswith("/") and len(text) > 1:
            name, _, args = text[1:].partition(" ")
            return IncomingMessage(
                **base, kind=InputKind.COMMAND, text=text, command=name.lower(), command_args=args.strip()
            )
        return IncomingMessage(**base, kind=InputKind.TEXT, text=text)

    def render(self, replies: Sequence[Reply]) -> str:
        self.options = [q for reply in replies for q in reply.quick_replies]
        lines: list[str] = []
        number = 0
        for reply in replies:
            body = reply.text.splitlines() or [""]
            lines.append(f"{self.bot_name}: {body[0]}")
            lines.extend(f"      {rest}" for rest in body[1:])
            for option in reply.quick_replies:
                number += 1
                lines.append(f"   {number}) {option.label}")
        return "\n".join(lines)

    async def say(self, line: str) -> bool:
        """Send one typed line; print the replies. Returns False when the line was empty."""
        msg = self.to_message(line)
        if msg is None:
            return False
        replies = await self.handle(msg)
        if replies:
            self.out.write(self.render(replies) + "\n\n")
            self.out.flush()
        return True


async def run_lines(chat: LocalChat, stdin: TextIO, *, echo: bool) -> None:
    """Scripted mode: one message per line until EOF."""
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return
        if echo and line.strip():
            chat.out.write(f"> {line.strip()}\n")
        await chat.say(line)


async def run_interactive(chat: LocalChat) -> None:
    """A prompt with line editing (readline copes with Korean input); EOF (Ctrl-D) ends."""
    try:
        import readline  # noqa: F401  (enables editing and history for input())
    except ImportError:
        pass
    banner = chat.texts["banner"]
    chat.out.write(f"{banner.ko}\n{banner.en}\n\n")
    chat.out.flush()
    prompt = chat.texts["prompt"].ko
    while True:
        try:
            line = await asyncio.to_thread(input, prompt)
        except EOFError:
            chat.out.write("\n")
            return
        await chat.say(line)
