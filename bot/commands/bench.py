"""`ieum bench NAME`: benchmarks that print the figures quoted in issue notes."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import bot.benchmarks


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("bench", help="run a benchmark (detect, updates, alerts, fanout)")
    inner = parser.add_subparsers(dest="bench", metavar="NAME")
    for info in pkgutil.iter_modules(bot.benchmarks.__path__):
        module = importlib.import_module(f"bot.benchmarks.{info.name}")
        if hasattr(module, "register"):
            module.register(inner)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
