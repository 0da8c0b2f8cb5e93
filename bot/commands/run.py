"""`ieum run`: the Telegram bot, by long polling (default) or `--webhook`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "run",
        help="run the Telegram bot (long polling; --webhook serves IEUM_WEBHOOK_PATH and /healthz)",
    )
    p.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook on IEUM_WEBHOOK_HOST:IEUM_WEBHOOK_PORT instead of polling",
    )
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from bot.settings import Settings

    settings = Settings()
    problem = _check(settings, webhook=args.webhook)
    if problem:
        print(f"ieum run: {problem}", file=sys.stderr)
        return 2
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
    from redis.exceptions import ConnectionError as RedisConnectionError

    from bot.telegram.runtime import run_with_fast_loop
    from models.artifact import ArtifactError

    # Start-up failures a person running the bot can fix get one clear line, not a traceback.
    try:
        run_with_fast_loop(run(settings, webhook=args.webhook))
    except KeyboardInterrupt:
        pass
    except TelegramNetworkError:
        problem = f"cannot reach the Bot API at {settings.telegram_api_base} (check IEUM_TELEGRAM_API_BASE)"
    except TelegramAPIError as exc:
        problem = f"the Bot API refused the request: {exc.message} (check IEUM_TELEGRAM_TOKEN)"
    except RedisConnectionError:
        problem = "cannot connect to Redis (check IEUM_REDIS_URL, or unset it for the embedded Valkey)"
    except ArtifactError as exc:
        problem = f"the risk model cannot be loaded: {exc}"
    else:
        return 0
    if problem:
        print(f"ieum run: {problem}", file=sys.stderr)
        return 1
    return 0


def _check(settings: object, *, webhook: bool) -> str | None:
    if getattr(settings, "telegram_token", None) is None:
        return "IEUM_TELEGRAM_TOKEN is not set (create a bot with @BotFather and put its token there)"
    if webhook:
        secret = getattr(settings, "webhook_secret", None)
        if secret is None:
            return (
                "IEUM_WEBHOOK_SECRET is not set: a webhook without a secret would accept updates "
                "from anyone (use 1-256 characters A-Z a-z 0-9 _ -)"
            )
        if not _SECRET.fullmatch(secret.get_secret_value()):
            return "IEUM_WEBHOOK_SECRET may hold only 1-256 characters A-Z a-z 0-9 _ - (Telegram's rule)"
    return None


async def run(settings: object, *, webhook: bool) -> None:
    from bot.app import running_app
    from bot.telegram.runtime import TelegramRuntime, settle_heap

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, task.cancel)
    async with running_app(settings) as app:  # type: ignore[arg-type]
        prepare = getattr(app.conversation, "prepare", None)
        if prepare is not None:
            await prepare()  # load the encoder before the first person writes
        runtime = TelegramRuntime(app)
        settle_heap()
        s = app.settings
        with contextlib.suppress(asyncio.CancelledError):
            if webhook:
                secret = s.webhook_secret.get_secret_value() if s.webhook_secret else ""
                await runtime.run_webhook(
                    host=s.webhook_host,
                    port=s.webhook_port,
                    path=s.webhook_path,
                    secret=secret,
                    url=s.webhook_url,
                )
            else:
                await runtime.run_polling()
