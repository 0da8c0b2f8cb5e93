"""Reading flow files with line numbers, so a mistake in a file names the file and the line.

Flow files are edited by program staff who are not programmers: every error must say where
(``onboarding.yaml:42``) and what is wrong, in plain words.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class FlowError(ValueError):
    """A flow file is malformed. `str()` reads ``<file>:<line>: <what is wrong>``."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class MDict(dict[str, Any]):
    """A mapping that remembers the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class MList(list[Any]):
    """A sequence that remembers its line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_at(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    """SafeLoader where only `true`/`false` are booleans (YAML 1.2): `yes`, `no`, `on`, `off` stay
    words, so a button id or a typed alias like `no` means what a non-programmer expects."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> MDict:
    loader.flatten_mapping(node)
    out = MDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise FlowError(loader.name, line, f"a key must be a word, not {key!r}")
        if key in out:
            raise FlowError(
                loader.name, line, f"'{key}' appears twice here (first on line {out.key_lines[key]})"
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> MList:
    out = MList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path) -> MDict:
    """Parse one flow file; syntax errors become FlowError with the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowError(path, 1, "the file is not UTF-8 text") from exc
    loader = _Loader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except FlowError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise FlowError(path, line, f"YAML syntax: {what}") from exc
    except yaml.YAMLError as exc:
        raise FlowError(path, 1, f"YAML syntax: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, MDict):
        raise FlowError(path, 1, "the file must be a mapping of names to values (name: value)")
    return data
