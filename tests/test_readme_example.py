"""The README's Python example runs as written (on a small stand-in for the default dataset)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from safemil.data import default_dataset_path
from tests.tiny_swimmer import make_tiny_dataset

README = Path(__file__).parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    block = re.search(r"<!-- python-example -->\n```python\n(.*?)```\n<!-- /python-example -->", text, re.S)
    assert block, "README.md lost its marked Python example"
    return block.group(1)


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    # enough risky trajectories (cost >= 75) for the default split's 50 in D_N; the same task's shapes
    make_tiny_dataset(default_dataset_path("HalfCheetahVelocity"), n_safe=30, n_risky=60, steps=80,
                      task="HalfCheetahVelocity")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "90 trajectories"
    ret, cost = (float(x) for x in out[1].split())
    assert cost >= 0 and ret == ret  # numbers, not nan
    assert float(out[2]) >= 0
    assert (tmp_path / "runs" / "demo" / "eval.json").exists()
    assert os.environ["SAFEMIL_DATA_DIR"] in str(default_dataset_path("HalfCheetahVelocity"))
