"""Regenerate the config-key tables in docs/ from the config dataclasses (or check them).

A docs page marks a table with ``<!-- config-keys: NAME -->`` ... ``<!-- /config-keys -->``;
NAME is an algorithm (`safemil algos`), ``run`` (the split/data/train/eval keys every run
has), ``presets`` (the named presets, `safemil.presets`) or a shared nested config (``bc``, ``layer``).
The table lists each override key, its type, default and the source comment that documents it,
so it cannot drift from the code. A nested config many algorithms share (``bc.*``, ``layer.*``,
bcq-lag+proco's ``base.*``) has one table; an algorithm's table lists of it only the keys whose
default differs there.

    .venv/bin/python scripts/config_tables.py          # rewrite the tables in docs/*.md
    .venv/bin/python scripts/config_tables.py --check  # exit 1 if a table is out of date
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path

from safemil.algos import get_algo
from safemil.algos.bcq_lag import BCQLagConfig
from safemil.config_keys import ConfigKey, config_keys, markdown_table, update_tables
from safemil.data.safe_only import DataConfig
from safemil.data.splits import SplitConfig
from safemil.policies import BCConfig
from safemil.presets import PRESETS
from safemil.proco.layer import ProcoLayerConfig
from safemil.runner import EvalSettings, TrainSettings

DOCS = Path(__file__).parents[1] / "docs"
RUN_SECTIONS = {"split": SplitConfig, "data": DataConfig, "train": TrainSettings, "eval": EvalSettings}


# nested configs documented once: field name -> (its class, where its table is)
SHARED = {"bc": (BCConfig, "the `bc` table in `docs/config-reference.md`"),
          "layer": (ProcoLayerConfig, "the `layer` table in `docs/config-reference-proco.md`"),
          "base": (BCQLagConfig, "`bcq-lag`'s table")}


def keys_for(name: str) -> list[ConfigKey]:
    if name == "run":
        return [k for section, cls in RUN_SECTIONS.items() for k in config_keys(cls, section + ".")]
    if name in SHARED:
        return config_keys(SHARED[name][0], name + ".")
    return config_keys(get_algo(name).config_cls)


def algo_table(name: str) -> str:
    """The algorithm's own keys, and of each shared nested config the keys whose default differs here."""
    hints = typing.get_type_hints(get_algo(name).config_cls)
    shared = [f for f, (cls, _) in SHARED.items() if hints.get(f) is cls]
    defaults = {k.key: k.default for f in shared for k in keys_for(f)}
    own = [k for k in keys_for(name) if defaults.get(k.key, object()) != k.default]
    notes = [f"`{f}.*`: the keys of {SHARED[f][1]}" + (", at their defaults there but for those above"
                                                       if any(k.key.startswith(f + ".") for k in own) else "")
             for f in shared]
    return markdown_table(own) + (f"\nAlso {'; '.join(notes)}.\n" if notes else "")


def _codes(overrides) -> str:
    return " ".join(f"`{o}`" for o in overrides)


def _per_algo(algos) -> str:
    return "; ".join(f"`{a}`: {_codes(ov)}" for a, ov in algos.items())


def table_for(name: str) -> str:
    """``presets``: every named preset and its overrides; an algorithm's table (`algo_table`); else the
    config keys of ``run`` or a shared nested config."""
    if name in ("run", *SHARED):
        return markdown_table(keys_for(name))
    if name != "presets":
        return algo_table(name)
    rows = ["| preset | what | every algorithm | per algorithm |", "|---|---|---|---|"]
    for p in PRESETS.values():
        per = "".join([_per_algo(p.algos), *(f"; on {kind} tasks {_per_algo(a)}" for kind, a in p.kinds.items()),
                       *(f"; on {task}, then {_per_algo(a)}" for task, a in p.tasks.items())])
        rows.append(f"| `{p.name}` | {p.description} | {_codes(p.run)} | {per} |")
    return "\n".join(rows) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="Only report out-of-date tables (exit 1).")
    args = ap.parse_args()
    stale = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        new = update_tables(text, table_for)
        if new != text:
            stale.append(page)
            if not args.check:
                page.write_text(new)
    verb = "out of date" if args.check else "rewritten"
    for page in stale:
        print(f"{page.relative_to(DOCS.parent)}: config tables {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
