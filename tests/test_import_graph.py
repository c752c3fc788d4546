"""The package's imports flow one way: no cycles, no import of a higher layer by a lower one.

Read from the source (AST), so imports inside functions count as much as those at the
top of a module: a function-level import hides a dependency, it does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"

# Lowest first. A module may import from its own layer or any layer below; a package's name
# stands for all its modules (``safemil`` itself for its ``__init__`` only). What data flows through: tasks -> data -> env/evaluator -> collect ->
# cost sources -> policy learners -> algorithms -> runner -> benchmark -> command line.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("safemil.cpu_kernels", "safemil.environment", "safemil.errors", "safemil.console", "safemil.files", "safemil.plotting",
     "safemil.networks", "safemil.optim"),
    ("safemil.config", "safemil.config_keys", "safemil.presets"),
    ("safemil.tasks",),
    ("safemil.data",),
    ("safemil.eval",),
    ("safemil.collect",),
    ("safemil.costs", "safemil.models"),
    ("safemil.diagnostics",),
    ("safemil.policies",),
    ("safemil.proco",),
    ("safemil.algos",),
    ("safemil.runs",),
    ("safemil.runner",),
    ("safemil.bench", "safemil.quickstart", "safemil.api"),
    ("safemil.cli", "safemil.__main__", "safemil"),
)


def modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = p.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The safemil modules ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t not in known and "." in t:
                t = t.rpartition(".")[0]
            if t in known and t != name:
                found.add(t)
    return found


def layer_of(name: str) -> int:
    best, best_len = None, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            inside = name == prefix or (prefix != "safemil" and name.startswith(prefix + "."))
            if inside and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{name} is in no declared layer: add it to LAYERS"
    return best


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_module_imports_a_higher_layer():
    upward = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets
                    if layer_of(b) > layer_of(a))
    assert upward == []


def test_the_checker_finds_a_cycle_and_an_upward_edge():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("safemil.cli.train") > layer_of("safemil.runner") > layer_of("safemil.algos.safemil")
