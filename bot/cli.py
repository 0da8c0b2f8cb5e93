"""`ieum` command line. Each subcommand lives in `bot/commands/<name>.py` with a `register()`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.commands import activities, assess, bench, cases, chat, evaluate, run, train

SUBCOMMANDS = (run, chat, assess, evaluate, train, bench, cases, activities)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ieum",
        description="ieum (이음): a companion for socially withdrawn young people, "
        "with a counsellor queue and activity reminders.",
    )
    parser.add_argument("--log-level", default="WARNING", help="log level (default WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from telemetry import configure

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure(args.log_level.upper())
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
