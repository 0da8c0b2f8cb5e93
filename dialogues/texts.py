"""Bilingual texts (Korean first, English second) and a checked reader over flow-file data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogues.yamlfile import FlowError, MDict, MList

LANGS = ("ko", "en")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Text:
    """One user-visible text in both languages."""

    ko: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.ko

    def render(self, lang: str, values: Mapping[str, str] | None = None) -> str:
        """The text in `lang` with known `{name}` placeholders filled; other braces stay as written."""
        raw = self.get(lang).strip()
        if not values:
            return raw
        filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), raw)
        return "\n".join(line.rstrip() for line in filled.splitlines())


class Reader:
    """Typed access to one mapping of a flow file; every problem names the file and the line."""

    def __init__(self, path: Path, data: MDict) -> None:
        self.path = path
        self.data = data

    def fail(self, line: int, message: str) -> FlowError:
        return FlowError(self.path, line, message)

    def line(self, key: str | None = None) -> int:
        return self.data.line_of(key) if key else self.data.line

    def has(self, key: str) -> bool:
        return key in self.data

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(self.line(key), f"unknown name '{key}' (expected one of: {known})")

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.fail(self.line(), f"'{key}' is missing")
            return default
        return self.data[key]

    def child(self, key: str) -> Reader:
        value = self.raw(key)
        if not isinstance(value, MDict):
            raise self.fail(self.line(key), f"'{key}' must be a mapping (name: value lines below it)")
        return Reader(self.path, value)

    def children(self, key: str, *, optional: bool = False) -> list[Reader]:
        items = self.seq(key, optional=optional)
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, MDict):
                raise self.fail(items.line_at(i), f"each item of '{key}' must be a mapping")
            out.append(Reader(self.path, item))
        return out

    def seq(self, key: str, *, optional: bool = False) -> MList:
        if optional and key not in self.data:
            empty = MList()
            empty.line, empty.item_lines = self.line(), []
            return empty
        value = self.raw(key)
        if not isinstance(value, MList) or not value:
            raise self.fail(self.line(key), f"'{key}' must be a non-empty list (lines starting with '- ')")
        return value

    def string(self, key: str, *, optional: bool = False) -> str | None:
        if optional and key not in self.data:
            return None
        value = self.raw(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(self.line(key), f"'{key}' must be a non-empty text")
        return value.strip()

    def number(self, key: str, default: float) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(self.line(key), f"'{key}' must be a number")
        return float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(self.line(key), f"'{key}' must be true or false")
        return value

    def text(self, key: str, *, allowed: set[str] | None = None) -> Text:
        return self._text(self.raw(key), self.line(key), key, allowed)

    def texts(self, key: str, *, allowed: set[str] | None = None) -> tuple[Text, ...]:
        """A list of variants (one is picked), or a single text."""
        value = self.raw(key)
        if isinstance(value, MDict):
            return (self._text(value, self.line(key), key, allowed),)
        items = self.seq(key)
        return tuple(self._text(v, items.line_at(i), key, allowed) for i, v in enumerate(items))

    def _text(self, value: Any, line: int, key: str, allowed: set[str] | None) -> Text:
        if not isinstance(value, MDict):
            raise self.fail(line, f"'{key}' must give the text in both languages, as 'ko:' and 'en:' lines")
        for extra in value:
            if extra not in LANGS:
                raise self.fail(value.line_of(extra), f"'{extra}' is not a language here (use ko: and en:)")
        parts = {}
        for lang in LANGS:
            part = value.get(lang)
            if not isinstance(part, str) or not part.strip():
                raise self.fail(value.line, f"'{key}' needs a non-empty '{lang}:' text")
            used = set(_PLACEHOLDER.findall(part))
            unknown = used - (allowed or set())
            if unknown:
                names = ", ".join("{" + n + "}" for n in sorted(allowed or ())) or "none"
                raise self.fail(
                    value.line_of(lang),
                    f"unknown placeholder {{{sorted(unknown)[0]}}} (this text may use: {names})",
                )
            parts[lang] = part
        return Text(ko=parts["ko"], en=parts["en"])
