"""Config-key tables generated from the dataclasses, and the docs' tables kept in step with them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from safemil.algos import get_algo
from safemil.config_keys import config_keys, markdown_table, update_tables

ROOT = Path(__file__).parents[1]


@dataclass
class _Inner:
    # the learning rate,
    # over two lines
    lr: float = 1e-3
    sizes: tuple[int, ...] = (8, 8)  # hidden sizes


@dataclass
class _Outer:
    steps: int = 10  # updates
    mode: str = "a"  # a | b: the first
                     # or the second
    flag: bool = False
    beta: float | None = None
    inner: _Inner = field(default_factory=lambda: _Inner(lr=0.5))


def test_keys_are_flattened_with_types_defaults_and_their_comments():
    keys = {k.key: k for k in config_keys(_Outer)}
    assert list(keys) == ["steps", "mode", "flag", "beta", "inner.lr", "inner.sizes"]
    assert (keys["steps"].type, keys["steps"].default, keys["steps"].meaning) == ("int", "10", "updates")
    assert keys["mode"].meaning == "a | b: the first or the second"
    assert keys["flag"].meaning == "" and keys["flag"].default == "false"
    assert keys["beta"].type == "float | None" and keys["beta"].default == "null"
    assert keys["inner.lr"].meaning == "the learning rate, over two lines"
    assert keys["inner.lr"].default == "0.5"  # the parent's default_factory, not _Inner's own default
    assert (keys["inner.sizes"].type, keys["inner.sizes"].default) == ("list[int]", "[8, 8]")


def test_the_table_escapes_pipes_and_blocks_are_replaced_in_place():
    table = markdown_table(config_keys(_Outer))
    assert "| `mode` | str | `a` | a \\| b: the first or the second |" in table
    text = "intro\n<!-- config-keys: x -->\nstale\n<!-- /config-keys -->\nafter\n"
    new = update_tables(text, lambda name: markdown_table(config_keys(_Outer)))
    assert new.startswith("intro\n<!-- config-keys: x -->\n| key |") and new.endswith("<!-- /config-keys -->\nafter\n")
    assert "stale" not in new and update_tables(new, lambda name: markdown_table(config_keys(_Outer))) == new


def test_every_key_of_a_real_config_is_an_override_the_runner_accepts():
    from safemil.config import apply_overrides

    cls = get_algo("safemil").config_cls
    for k in config_keys(cls):
        value = k.default if k.default != "null" else "null"
        apply_overrides(cls(), [f"{k.key}={value}"])


def test_the_docs_config_tables_are_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "config_tables.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_algorithm_and_shared_config_has_a_table_in_the_docs():
    """Splitting or moving a reference page must not drop an algorithm's keys."""
    import re

    from safemil.algos import list_algos

    names = {m for page in (ROOT / "docs").glob("*.md")
             for m in re.findall(r"<!-- config-keys: ([\w+.-]+) -->", page.read_text())}
    assert {s.name for s in list_algos()} | {"run", "presets", "bc", "layer"} <= names
