"""`ieum activities` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("activities" if "activities" != "evaluate" else "eval", help="(not built yet)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    print("not built yet")
    return 1
