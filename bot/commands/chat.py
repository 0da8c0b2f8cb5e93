"""`ieum chat`: talk to the companion in the terminal, through the full pipeline."""

from __future__ import annotations

import argparse
import asyncio
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "chat",
        help="talk to the companion in the terminal (reads one message a line when stdin is not a terminal)",
        description="Talk to ieum through the full pipeline (local channel). Quick replies are shown as "
        "numbered options: type the number to press one. Lines starting with '/' are commands. "
        "With no IEUM_REDIS_URL an embedded Valkey under IEUM_DATA_DIR (./var) is used. "
        "Example: printf '/start\\n1\\n안녕\\n' | ieum chat",
    )
    p.add_argument("--user", default="me", help="a stable local id for the person (default: me)")
    p.add_argument("--no-echo", action="store_true", help="scripted mode: do not echo input lines")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from dialogues.yamlfile import FlowError

    try:
        return asyncio.run(chat(user=args.user, echo=not args.no_echo))
    except FlowError as exc:  # a flow file staff edited is malformed: say where, no traceback
        print(f"ieum chat: {exc}", file=sys.stderr)
        return 2


async def chat(*, user: str, echo: bool = True) -> int:
    from bot.app import running_app
    from bot.local import LocalChat, run_interactive, run_lines
    from bot.settings import Settings

    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    interactive = sys.stdin.isatty()
    async with running_app(Settings()) as app:
        session = LocalChat(app.pipeline.handle, app.clock, sys.stdout, user_id=user)
        prepare = getattr(app.conversation, "prepare", None)
        if interactive and prepare is not None:
            await prepare()
        if interactive:
            await run_interactive(session)
        else:
            await run_lines(session, sys.stdin, echo=echo)
    return 0
