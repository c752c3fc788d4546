"""Every key of a config dataclass, flattened to its override name, with type, default and meaning.

The meaning is the comment that documents the field in the source (on its line, or
the comment lines right above it), so the docs' config tables are generated from the
code they describe and cannot drift from it (`scripts/config_tables.py`).
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import re
import tokenize
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class ConfigKey:
    """One overridable key: ``bc.weights.beta``, its type, default and documenting comment."""

    key: str
    type: str
    default: str
    meaning: str


def config_keys(cls: type, prefix: str = "") -> list[ConfigKey]:
    """The leaf keys of ``cls`` (nested dataclasses expanded to dotted keys), in field order."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    defaults = cls()
    out: list[ConfigKey] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            out.extend(_nested(config_keys(tp, key + "."), getattr(defaults, f.name), key + "."))
            continue
        out.append(ConfigKey(key, type_name(tp), _show(getattr(defaults, f.name)), comments.get(f.name, "")))
    return out


def _nested(keys: list[ConfigKey], value: Any, prefix: str) -> list[ConfigKey]:
    """A nested config's keys with the defaults the *parent* gives it (a default_factory may differ)."""
    out = []
    for k in keys:
        v = value
        for part in k.key[len(prefix):].split("."):
            v = getattr(v, part)
        out.append(dataclasses.replace(k, default=_show(v)))
    return out


def type_name(tp: Any) -> str:
    """``int | None`` -> ``int | None``; ``tuple[int, ...]`` -> ``list[int]`` (as written in overrides)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"list[{type_name(args[0])}]" if args else "list"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"' if value == "" else value
    return str(value)


@cache
def field_comments(cls: type) -> dict[str, str]:
    """Field name -> its documenting comment in ``cls``'s source ('' where there is none)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    lines = source.splitlines()
    trailing: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            trailing[tok.start[0]] = tok.string.lstrip("#").strip()
    out: dict[str, str] = {}
    field_re = re.compile(r"^\s{4}(\w+)\s*:")
    for i, line in enumerate(lines, start=1):
        m = field_re.match(line)
        if not m or m.group(1) not in names or m.group(1) in out:
            continue
        parts = []
        j = i - 1  # comment lines right above the field
        while j >= 1 and lines[j - 1].strip().startswith("#") and not _continues(lines[j - 1], line):
            parts.insert(0, trailing.get(j, ""))
            j -= 1
        if i in trailing and not line.strip().startswith("#"):
            parts.append(trailing[i])
        k = i + 1  # a trailing comment continued on the next lines, indented under it
        while i in trailing and k <= len(lines) and lines[k - 1].strip().startswith("#") \
                and not field_re.match(lines[k - 1]) and _continues(lines[k - 1], line):
            parts.append(trailing.get(k, ""))
            k += 1
        out[m.group(1)] = " ".join(p for p in parts if p)
    return out


def _continues(comment_line: str, field_line: str) -> bool:
    """A comment line indented deeper than the field continues the field's trailing comment."""
    return len(comment_line) - len(comment_line.lstrip()) > len(field_line) - len(field_line.lstrip())


def markdown_table(keys: list[ConfigKey]) -> str:
    """The keys as a markdown table (key, type, default, meaning)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in keys:
        meaning, tp = k.meaning.replace("|", "\\|"), k.type.replace("|", "\\|")
        rows.append(f"| `{k.key}` | {tp} | `{k.default}` | {meaning} |")
    return "\n".join(rows) + "\n"


_BLOCK = re.compile(r"(<!-- config-keys: (?P<name>[\w+.-]+) -->\n)(?P<body>.*?)(<!-- /config-keys -->)", re.S)


def update_tables(text: str, table_for: typing.Callable[[str], str]) -> str:
    """``text`` with every ``<!-- config-keys: NAME -->`` ... ``<!-- /config-keys -->`` block
    replaced by ``table_for(NAME)`` (markdown)."""
    return _BLOCK.sub(lambda m: m.group(1) + table_for(m.group("name")) + m.group(4), text)
