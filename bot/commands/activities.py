"""`ieum activities add|list|edit|cancel|stats`: group activities for program staff.

Writes go to Redis only; the scheduler leader inside `ieum run` announces new activities, sends
the reminders and tells everyone who answered about a change or a cancellation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("activities", help="group activities: add, list, edit, cancel, stats")
    inner = parser.add_subparsers(dest="action", metavar="ACTION")

    add = inner.add_parser("add", help="create an activity (announced to the opted-in audience)")
    _fields(add, required=True)
    add.add_argument("--weekly", action="store_true", help="repeat every week")
    add.add_argument(
        "--tag", default="", help="audience: only people with this tag (default: everyone opted in)"
    )
    add.add_argument("--remind", default="1d,2h", help="reminder offsets before the start (default 1d,2h)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=lambda a: _run(_add, a))

    lst = inner.add_parser("list", help="upcoming activities")
    lst.add_argument("--all", action="store_true", help="include ended and cancelled ones")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=lambda a: _run(_list, a))

    edit = inner.add_parser("edit", help="change an activity (a new time or place notifies who answered)")
    edit.add_argument("id")
    _fields(edit, required=False)
    edit.add_argument("--json", action="store_true")
    edit.set_defaults(func=lambda a: _run(_edit, a))

    cancel = inner.add_parser("cancel", help="cancel an activity (everyone who answered is told)")
    cancel.add_argument("id")
    cancel.set_defaults(func=lambda a: _run(_cancel, a))

    stats = inner.add_parser("stats", help="answers per activity and who is coming")
    stats.add_argument("id", nargs="?")
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--lang", choices=("ko", "en"), default=None)
    stats.set_defaults(func=lambda a: _run(_stats, a))

    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _fields(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--title", required=required)
    p.add_argument("--start", required=required, help="local start time, e.g. '2026-12-05 19:00'")
    p.add_argument("--duration", type=int, default=90 if required else None, help="minutes (default 90)")
    p.add_argument("--place", default="" if required else None)
    p.add_argument("--description", default="" if required else None)
    p.add_argument("--capacity", type=int, default=0 if required else None, help="places; 0 = no limit")


def _run(func: Any, args: argparse.Namespace) -> int:
    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    return asyncio.run(_with_service(func, args))


async def _with_service(func: Any, args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from clock import SystemClock
    from scheduling.service import ActivityService
    from storage.connection import open_redis
    from storage.profiles import ProfileRepository

    settings = Settings()
    async with open_redis(settings.redis_url, settings.data_dir) as redis:
        profiles = ProfileRepository(redis, default_lang=settings.lang, default_tz=settings.tz)
        service = ActivityService(redis, profiles, None, tz=settings.tz)
        return int(await func(service, args, settings, SystemClock().now()))


def _as_dict(act: Any) -> dict[str, Any]:
    return {
        "id": act.id,
        "title": act.title,
        "start": act.start.isoformat(),
        "duration_min": act.duration_min,
        "place": act.place,
        "description": act.description,
        "capacity": act.capacity,
        "weekly": act.weekly,
        "audience_tag": act.audience_tag,
        "reminders_min": list(act.reminders_min),
        "status": act.status.value,
        "occurrence": act.occurrence,
        "version": act.version,
    }


def _print_act(service: Any, act: Any, lang: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_as_dict(act), ensure_ascii=False))
    else:
        print(f"#{act.id} [{act.status.value}] {service.summary(act, lang)}")


def _start(text: str, tz: str) -> Any:
    from scheduling.parsing import parse_local

    start = parse_local(text, tz)
    if start is None:
        raise SystemExit(f"cannot read --start {text!r}; use 'YYYY-MM-DD HH:MM' ({tz})")
    return start


async def _add(service: Any, args: argparse.Namespace, settings: Any, now: Any) -> int:
    from scheduling.parsing import parse_offsets

    start = _start(args.start, settings.tz)
    if start <= now:
        print("the start time has already passed", file=sys.stderr)
        return 2
    act = await service.create(
        title=args.title,
        start=start,
        now=now,
        duration_min=args.duration,
        place=args.place,
        description=args.description,
        capacity=args.capacity,
        weekly=args.weekly,
        audience_tag=args.tag,
        reminders_min=parse_offsets(args.remind),
        created_by="cli",
    )
    _print_act(service, act, settings.lang, args.json)
    return 0


async def _list(service: Any, args: argparse.Namespace, settings: Any, now: Any) -> int:
    acts = await service.repo.all() if args.all else await service.repo.upcoming(now)
    for act in sorted(acts, key=lambda a: a.start):
        _print_act(service, act, settings.lang, args.json)
    if not acts and not args.json:
        print(service.texts.get("stats_empty", settings.lang))
    return 0


async def _edit(service: Any, args: argparse.Namespace, settings: Any, now: Any) -> int:
    changes = {
        "title": args.title,
        "place": args.place,
        "description": args.description,
        "duration_min": args.duration,
        "capacity": args.capacity,
        "start": _start(args.start, settings.tz) if args.start else None,
    }
    act = await service.edit(args.id, now, **changes)
    if act is None:
        print(f"no scheduled activity #{args.id}", file=sys.stderr)
        return 1
    _print_act(service, act, settings.lang, args.json)
    return 0


async def _cancel(service: Any, args: argparse.Namespace, settings: Any, now: Any) -> int:
    act = await service.cancel(args.id, now)
    if act is None:
        print(f"no scheduled activity #{args.id}", file=sys.stderr)
        return 1
    print(service.texts.get("flow_cancelled", settings.lang, id=act.id))
    return 0


async def _stats(service: Any, args: argparse.Namespace, settings: Any, now: Any) -> int:
    rows = await service.stats(now, args.id)
    if args.json:
        for row in rows:
            data = _as_dict(row.activity)
            data["counts"] = {k.value: v for k, v in row.counts.items()}
            data["coming"] = list(row.coming)
            data["maybe"] = list(row.maybe)
            print(json.dumps(data, ensure_ascii=False))
        return 0
    print(service.format_stats(rows, args.lang or settings.lang))
    return 0
