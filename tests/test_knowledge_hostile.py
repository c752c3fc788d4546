"""Hostile or broken answers: every one is rejected with a message, and none is ever executed.

Proof of "never executed": a canary function in builtins, a canary module on
sys.path that leaves a file when imported, a file an expression tries to open,
and spies on eval/exec/compile (the only compile allowed is ast.parse's
tree-only one). Each text goes through every entry point that takes untrusted
text: the parser, `KnowledgeCost`, the static backend, the LLM answer path
(extract + parse) and a saved cost file.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import sys

import pytest

from safemil.costs.knowledge import (
    CostFileError,
    ExpressionError,
    GroundingError,
    KnowledgeCost,
    extract_expression,
    ground,
    parse_expression,
)
from safemil.costs.knowledge.cost import FILE_FORMAT, FILE_VERSION
from safemil.errors import SafemilError
from safemil.tasks import get_task

TASK = "HalfCheetahVelocity"
CANARY_MOD = "safemil_canary_module_7"

HOSTILE = [
    # imports and builtins
    f"__import__('{CANARY_MOD}')",
    f"__import__('{CANARY_MOD}').boom() > 1",
    "__import__('os').system('touch PWNED')",
    "import os",
    f"x_velocity > 1 and __import__('{CANARY_MOD}')",
    "exec('safemil_canary()')",
    "eval('safemil_canary()')",
    "compile('1', 'f', 'eval')",
    "open('{tmp}/pwned.txt', 'w')",
    "safemil_canary()",
    "x_velocity > safemil_canary()",
    "x_velocity > 1 if safemil_canary() else 0",
    "globals()",
    "breakpoint()",
    "getattr(x_velocity, 'real') > 1",
    "__builtins__",
    # attribute and dunder access
    "x_velocity.__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x_velocity.real > 1",
    "np.abs(x_velocity) > 1",
    "obs[8].__class__.__init__.__globals__",
    # lambdas, comprehensions, other syntax
    "(lambda: safemil_canary())()",
    "[safemil_canary() for _ in obs]",
    "{safemil_canary() for _ in obs}",
    "{k: safemil_canary() for k in obs}",
    "max(safemil_canary() for _ in obs)",
    "(x := safemil_canary()) > 0",
    "f'{safemil_canary()}'",
    "'x_velocity > 1'",
    "b'x'",
    "x_velocity > 1; safemil_canary()",
    "x_velocity > 1\nsafemil_canary()",
    "await safemil_canary()",
    "yield safemil_canary()",
    "min(*obs)",
    "clip(x_velocity, lo=0, hi=1)",
    "x_velocity[0] > 1",
    "obs[1:3]",
    "obs[-1] > 1",
    "obs[x_velocity] > 1",
    "x_velocity @ x_velocity > 1",
    "x_velocity % 2 > 1",
    "x_velocity // 2 > 1",
    "True",
    "None",
    "x_velocity\x00 > 1",
    # huge numbers
    "9 ** 9 ** 9",
    "x_velocity ** 1000 > 1",
    "10 ** 400 > x_velocity",
    "1e309 > x_velocity",
    "x_velocity > 10000001",
    "x_velocity > " + "9" * 1000,
    "z_position > 1e6 * 2",
    "sqrt(-1) < x_velocity",
    # deep nesting, too big, too long
    "-(" * 40 + "x_velocity" + ")" * 40 + " > 1",
    "abs(" * 40 + "x_velocity" + ")" * 40 + " > 1",
    "not " * 60 + "x_velocity > 1",
    "(" * 250 + "x_velocity" + ")" * 250,
    "x_velocity + " * 150 + "1 > 2",
    "x_velocity > 1 " + "and x_velocity > 1 " * 200,
    # unknown names
    "y_velocity > 1",  # an Ant field, not a HalfCheetah one
    "speed > 3.2",
    "x_vеlocity > 1",  # Cyrillic 'е'
    "inf > x_velocity",
]


@pytest.fixture
def canaries(tmp_path, monkeypatch):
    """Install the canaries; yield a function that says what (if anything) fired."""
    fired: list[str] = []
    flag = tmp_path / "canary_imported.flag"
    (tmp_path / f"{CANARY_MOD}.py").write_text(f"open({str(flag)!r}, 'w').write('x')\ndef boom():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(builtins, "safemil_canary", lambda: fired.append("canary called") or 1, raising=False)
    real_compile = builtins.compile

    def spy_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            fired.append(f"compile to code: {source!r}")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def spy_eval(*a, **k):
        fired.append(f"eval{a!r}")
        raise AssertionError("eval called")

    def spy_exec(*a, **k):
        fired.append(f"exec{a!r}")
        raise AssertionError("exec called")

    monkeypatch.setattr(builtins, "compile", spy_compile)
    monkeypatch.setattr(builtins, "eval", spy_eval)
    monkeypatch.setattr(builtins, "exec", spy_exec)

    def check() -> list[str]:
        out = list(fired)
        if flag.exists():
            out.append("canary module imported")
        if CANARY_MOD in sys.modules:
            out.append("canary module in sys.modules")
        if (tmp_path / "pwned.txt").exists():
            out.append("file opened for writing")
        return out

    yield check


def test_corpus_is_big_enough():
    assert len(HOSTILE) >= 30 and len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("text", HOSTILE, ids=[f"h{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_text_is_rejected_everywhere_and_never_runs(text, canaries, tmp_path):
    text = text.replace("{tmp}", str(tmp_path))
    schema = get_task(TASK).schema
    with pytest.raises(ExpressionError) as e:
        parse_expression(text, schema)
    msg = str(e.value)
    assert msg and "\n" not in msg and len(msg) < 1200  # one line (long only when it lists the fields)
    with pytest.raises(ExpressionError):
        KnowledgeCost(TASK, text)
    with pytest.raises(SafemilError):
        ground(TASK, text, backend="static")
    # as an LLM answer in a fenced block
    with pytest.raises(ExpressionError):
        parse_expression(extract_expression(f"Here you go:\n```expr\n{text}\n```\n"), schema)
    # as a saved cost file
    f = tmp_path / "cost.json"
    f.write_text(json.dumps({"format": FILE_FORMAT, "version": FILE_VERSION, "task": TASK, "expression": text}))
    with pytest.raises((ExpressionError, CostFileError)):
        KnowledgeCost.load(f)
    assert canaries() == []


def test_messages_name_the_offending_part(canaries):
    schema = get_task(TASK).schema
    cases = {
        f"__import__('{CANARY_MOD}')": "'__import__' is not allowed",
        "x_velocity.__class__": "attribute access is not allowed: 'x_velocity.__class__'",
        "(lambda: 1)()": "lambda",
        "[1 for _ in obs]": "comprehension",
        "9 ** 9 ** 9": "exponent in '9 ** 9' must be a numeric constant",
        "-(" * 40 + "x_velocity" + ")" * 40 + " > 1": "nested too deeply",
        "x_velocity + " * 150 + "1 > 2": "too long|too large",
        "speed > 3.2": "unknown name 'speed'",
        "x_velocity > 10000001": "constant '10000001' is too large",
        "open('f', 'w')": "function 'open' is not allowed",
    }
    for text, want in cases.items():
        with pytest.raises(ExpressionError, match=want if "|" in want else re.escape(want)):
            parse_expression(text, schema)
    assert canaries() == []


def test_hostile_llm_answers_exhaust_repairs_without_running(canaries, tmp_path):
    """A model that only ever answers with code is refused N+1 times, then grounding fails."""

    class Script:
        config = type("C", (), {"model": "m"})()

        def __init__(self):
            self.calls = 0

        def complete(self, messages):
            from safemil.costs.knowledge.llm import ChatAnswer

            self.calls += 1
            return ChatAnswer(
                f"```python\nimport {CANARY_MOD}\n{CANARY_MOD}.boom()\n```" if self.calls % 2 else
                f"```expr\n__import__('{CANARY_MOD}').boom() > 0\n```", cached=False, attempts=1)

    script = Script()
    with pytest.raises(GroundingError, match="no acceptable expression in 3 answers"):
        ground(TASK, "do not go fast", backend="openai", client=script, max_repairs=2)
    assert script.calls == 3
    assert canaries() == []


def test_the_canaries_do_fire_when_code_runs(canaries, monkeypatch):
    """Control: the detectors above are live (so their silence means something)."""
    import importlib

    builtins.safemil_canary()
    with pytest.raises(AssertionError, match="exec called"):  # running a module goes through exec
        importlib.import_module(CANARY_MOD)
    monkeypatch.delitem(sys.modules, CANARY_MOD, raising=False)
    fired = canaries()
    assert "canary called" in fired and any(f.startswith("exec") for f in fired)
