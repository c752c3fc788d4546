"""The cost expression language: untrusted text -> a small typed tree, by allow-list.

Grammar (Python expression syntax, a tiny subset of it)::

    expr  := number | field | obs[INT] | expr (+ - * /) expr | -expr | expr ** k
           | expr (< <= > >=) expr [chained] | expr and expr | expr or expr | not expr
           | a if cond else b | where(cond, a, b)
           | abs(x) | sqrt(x) | min(a, b, ...) | max(a, b, ...) | norm(a, b, ...) | clip(x, lo, hi)

``field`` is a name from the task's observation schema (``x_velocity``), ``obs[i]``
an observation entry by index. ``k`` in ``x ** k`` is a numeric constant with
``|k| <= 4``. A whole expression is either a *condition* (true = unsafe, cost 1)
or a *number* (the cost, clipped to [0, 1]).

Why an allow-list over the `ast` tree: the text usually comes from an LLM and is
untrusted. Python's parser only builds a tree here (``ast.parse`` never runs
code); every node type, name and call is checked against the lists below and
translated into our own node classes, which `safemil.costs.knowledge.compiler`
turns into closures. Nothing from the text is ever passed to ``eval``/``exec``
or imported. Constant sub-expressions are folded here, so a compiled tree only
contains nodes that depend on the observation.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from safemil.costs.knowledge.errors import ExpressionError

MAX_CHARS = 2000
MAX_NODES = 256
MAX_DEPTH = 24
MAX_CONSTANT = 1e6
MAX_EXPONENT = 4
MAX_ARGS = 16

NUM = "number"
BOOL = "condition"

# name -> (min args, max args); all arguments are numbers except where()'s first.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1),
    "sqrt": (1, 1),
    "min": (2, MAX_ARGS),
    "max": (2, MAX_ARGS),
    "norm": (1, MAX_ARGS),
    "clip": (3, 3),
    "where": (3, 3),
}
OBS_NAME = "obs"

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_HINTS = {
    ast.BitAnd: "use 'and'",
    ast.BitOr: "use 'or'",
    ast.Invert: "use 'not'",
    ast.Eq: "compare with < <= > >= instead",
    ast.NotEq: "compare with < <= > >= instead",
    ast.Mod: "",
    ast.FloorDiv: "use '/'",
    ast.Attribute: "write the bare name, e.g. abs(x) not np.abs(x)",
    ast.Lambda: "write the expression directly",
}


# -- the typed tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    @property
    def type(self) -> str:  # NUM or BOOL
        raise NotImplementedError


@dataclass(frozen=True)
class Const(Node):
    value: float | bool

    @property
    def type(self) -> str:
        return BOOL if isinstance(self.value, bool) else NUM


@dataclass(frozen=True)
class Field(Node):
    index: int
    name: str  # schema name, or "obs[i]" when the schema has none
    type: ClassVar[str] = NUM


@dataclass(frozen=True)
class Unary(Node):
    op: str  # - (a number's negation) or not (a condition's), as Python's ast.UnaryOp
    x: Node

    @property
    def type(self) -> str:
        return BOOL if self.op == "not" else NUM


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * / **
    a: Node
    b: Node
    type: ClassVar[str] = NUM


@dataclass(frozen=True)
class Compare(Node):
    op: str  # < <= > >=
    a: Node
    b: Node
    type: ClassVar[str] = BOOL


@dataclass(frozen=True)
class Logic(Node):
    op: str  # and / or
    items: tuple[Node, ...]
    type: ClassVar[str] = BOOL


@dataclass(frozen=True)
class Call(Node):
    fn: str  # abs sqrt min max norm clip
    args: tuple[Node, ...]
    type: ClassVar[str] = NUM


@dataclass(frozen=True)
class IfElse(Node):
    test: Node
    a: Node
    b: Node

    @property
    def type(self) -> str:
        return self.a.type


@dataclass(frozen=True)
class Parsed:
    """A checked expression: the tree, the source it came from, and the fields it reads."""

    source: str
    root: Node
    fields: tuple[str, ...]

    @property
    def type(self) -> str:
        return self.root.type

    @property
    def canonical(self) -> str:
        return to_source(self.root)


# -- parsing -----------------------------------------------------------------------------------


def parse_expression(source: str, schema: Sequence) -> Parsed:
    """Parse untrusted ``source`` against an observation ``schema`` (items with ``.name``, ``.index``).

    Raises `ExpressionError` naming the offending part for anything outside the language.
    """
    if not isinstance(source, str):
        raise ExpressionError(f"expression must be text, got {type(source).__name__}")
    text = source.strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"expression too long: {len(text)} characters (limit {MAX_CHARS})")
    if "\n" in text or "\r" in text:
        raise ExpressionError("expression must be a single line")
    try:
        tree = ast.parse(text, mode="eval")  # builds a tree only; never runs the text
    except SyntaxError as e:
        raise ExpressionError(f"not a valid expression: {e.msg} (at column {e.offset})") from None
    except (RecursionError, MemoryError, ValueError) as e:
        raise ExpressionError(f"not a valid expression: {type(e).__name__}: {e}") from None
    n = 0
    for _ in ast.walk(tree):  # iterative walk: safe on any tree the parser accepts
        n += 1
        if n > MAX_NODES:
            raise ExpressionError(f"expression too large: more than {MAX_NODES} syntax nodes")
    tr = _Translator(text, schema)
    root = tr.node(tree.body, 1)
    if isinstance(root, Const):
        raise ExpressionError(
            f"expression {text!r} does not depend on any observation field (it is always {root.value})"
        )
    return Parsed(source=text, root=root, fields=tuple(sorted(tr.used)))


class _Translator:
    def __init__(self, source: str, schema: Sequence):
        self.source = source
        self.by_name = {f.name: f for f in schema}
        self.by_index = {f.index: f for f in schema}
        self.obs_dim = len(schema)
        self.used: set[str] = set()

    def seg(self, node: ast.AST) -> str:
        s = ast.get_source_segment(self.source, node) or type(node).__name__
        return s if len(s) <= 60 else s[:57] + "..."

    def reject(self, node: ast.AST, what: str, hint: str = "") -> ExpressionError:
        h = f"; {hint}" if hint else ""
        return ExpressionError(f"{what} is not allowed: {self.seg(node)!r}{h}")

    def expect(self, node: Node, want: str, where: ast.AST, role: str) -> Node:
        if node.type != want:
            fix = (
                "compare it, e.g. 'x > 1'" if want == BOOL else "a condition is not a number; use 'a if cond else b'"
            )
            raise ExpressionError(f"{role} must be a {want}, got a {node.type}: {self.seg(where)!r} ({fix})")
        return node

    def node(self, n: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested too deeply (more than {MAX_DEPTH} levels) at {self.seg(n)!r}")
        d = depth + 1
        if isinstance(n, ast.Constant):
            return self.constant(n)
        if isinstance(n, ast.Name):
            return self.name(n)
        if isinstance(n, ast.Subscript):
            return self.subscript(n)
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, ast.USub):
                x = self.expect(self.node(n.operand, d), NUM, n.operand, "operand of '-'")
                return _fold(Unary("-", x), self, n)
            if isinstance(n.op, ast.UAdd):
                return self.expect(self.node(n.operand, d), NUM, n.operand, "operand of '+'")
            if isinstance(n.op, ast.Not):
                x = self.expect(self.node(n.operand, d), BOOL, n.operand, "operand of 'not'")
                return _fold(Unary("not", x), self, n)
            raise self.reject(n, f"operator {type(n.op).__name__}", _HINTS.get(type(n.op), ""))
        if isinstance(n, ast.BinOp):
            op = _BINOPS.get(type(n.op))
            if op is None:
                raise self.reject(n, f"operator {type(n.op).__name__}", _HINTS.get(type(n.op), ""))
            a = self.expect(self.node(n.left, d), NUM, n.left, f"left side of '{op}'")
            if op == "**":
                return self.power(n, a, d)
            b = self.expect(self.node(n.right, d), NUM, n.right, f"right side of '{op}'")
            return _fold(Arith(op, a, b), self, n)
        if isinstance(n, ast.Compare):
            parts = [self.expect(self.node(n.left, d), NUM, n.left, "compared value")]
            for op_node, right in zip(n.ops, n.comparators, strict=True):
                if type(op_node) not in _CMPOPS:
                    raise self.reject(n, f"comparison {type(op_node).__name__}", _HINTS.get(type(op_node), ""))
                parts.append(self.expect(self.node(right, d), NUM, right, "compared value"))
            cmps = [
                Compare(_CMPOPS[type(o)], parts[i], parts[i + 1]) for i, o in enumerate(n.ops)
            ]
            folded = [_fold(c, self, n) for c in cmps]
            return folded[0] if len(folded) == 1 else _fold(Logic("and", tuple(folded)), self, n)
        if isinstance(n, ast.BoolOp):
            op = "and" if isinstance(n.op, ast.And) else "or"
            items = tuple(self.expect(self.node(v, d), BOOL, v, f"operand of '{op}'") for v in n.values)
            return _fold(Logic(op, items), self, n)
        if isinstance(n, ast.IfExp):
            test = self.expect(self.node(n.test, d), BOOL, n.test, "condition of 'if'")
            a, b = self.node(n.body, d), self.node(n.orelse, d)
            if a.type != b.type:
                raise ExpressionError(
                    f"both branches of {self.seg(n)!r} must be of one kind (got a {a.type} and a {b.type})"
                )
            return _fold(IfElse(test, a, b), self, n)
        if isinstance(n, ast.Call):
            return self.call(n, d)
        raise self.reject(n, _describe(n), _HINTS.get(type(n), ""))

    def constant(self, n: ast.Constant) -> Const:
        v = n.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.reject(n, f"constant of type {type(v).__name__}", "only numbers are allowed")
        if isinstance(v, int):
            if abs(v) > MAX_CONSTANT:
                raise ExpressionError(f"constant {self.seg(n)!r} is too large (limit {MAX_CONSTANT:g})")
            v = float(v)
        if not math.isfinite(v) or abs(v) > MAX_CONSTANT:
            raise ExpressionError(f"constant {self.seg(n)!r} is too large (limit {MAX_CONSTANT:g})")
        return Const(v)

    def name(self, n: ast.Name) -> Field:
        name = n.id
        if name in self.by_name:
            f = self.by_name[name]
            self.used.add(f.name)
            return Field(f.index, f.name)
        if name in FUNCTIONS:
            raise ExpressionError(f"{name!r} is a function; call it, e.g. {name}(...)")
        if name == OBS_NAME:
            raise ExpressionError("'obs' must be indexed with a whole number, e.g. obs[3]")
        close = difflib.get_close_matches(name, list(self.by_name), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known fields: {', '.join(self.by_name)}"
        raise ExpressionError(f"unknown name {name!r} (not an observation field or function){hint}")

    def subscript(self, n: ast.Subscript) -> Field:
        if not (isinstance(n.value, ast.Name) and n.value.id == OBS_NAME):
            raise self.reject(n, "indexing anything but 'obs'")
        idx = n.slice
        if not (isinstance(idx, ast.Constant) and type(idx.value) is int):
            raise self.reject(n, "an index that is not a whole-number constant", "write e.g. obs[3]")
        i = idx.value
        if not 0 <= i < self.obs_dim:
            raise ExpressionError(f"{self.seg(n)!r}: index {i} is out of range (observations have {self.obs_dim} entries)")
        f = self.by_index.get(i)
        name = f.name if f is not None else f"obs[{i}]"
        self.used.add(name)
        return Field(i, name)

    def power(self, n: ast.BinOp, base: Node, depth: int) -> Node:
        exp = self.node(n.right, depth)
        if not (isinstance(exp, Const) and exp.type == NUM and abs(exp.value) <= MAX_EXPONENT):
            raise ExpressionError(
                f"exponent in {self.seg(n)!r} must be a numeric constant between -{MAX_EXPONENT} and {MAX_EXPONENT}"
            )
        return _fold(Arith("**", base, exp), self, n)

    def call(self, n: ast.Call, depth: int) -> Node:
        if not isinstance(n.func, ast.Name):
            raise self.reject(n.func, _describe(n.func), _HINTS.get(type(n.func), ""))
        fn = n.func.id
        if fn not in FUNCTIONS:
            raise ExpressionError(
                f"function {fn!r} is not allowed (allowed: {', '.join(FUNCTIONS)}): {self.seg(n)!r}"
            )
        if n.keywords:
            raise self.reject(n, f"keyword arguments to {fn}()")
        for a in n.args:
            if isinstance(a, ast.Starred):
                raise self.reject(a, "argument unpacking")
        lo, hi = FUNCTIONS[fn]
        if not lo <= len(n.args) <= hi:
            want = f"{lo} argument{'s' if lo > 1 else ''}" if lo == hi else f"{lo} to {hi} arguments"
            raise ExpressionError(f"{fn}() takes {want}, got {len(n.args)}: {self.seg(n)!r}")
        if fn == "where":
            test = self.expect(self.node(n.args[0], depth), BOOL, n.args[0], "first argument of where()")
            a, b = self.node(n.args[1], depth), self.node(n.args[2], depth)
            if a.type != b.type:
                raise ExpressionError(f"both value arguments of {self.seg(n)!r} must be of one kind")
            return _fold(IfElse(test, a, b), self, n)
        args = tuple(self.expect(self.node(a, depth), NUM, a, f"argument of {fn}()") for a in n.args)
        return _fold(Call(fn, args), self, n)


def _describe(n: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Lambda: "lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.NamedExpr: "assignment (:=)",
        ast.JoinedStr: "an f-string",
        ast.List: "a list",
        ast.Tuple: "a tuple",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.Starred: "unpacking",
        ast.Slice: "slicing",
        ast.Await: "await",
    }
    return names.get(type(n), f"syntax {type(n).__name__}")


# -- constant folding (plain floats; never touches the source text) ----------------------------


def _fold(node: Node, tr: _Translator, where: ast.AST) -> Node:
    """Evaluate a node whose children are all constants; simplify and/or/if with constant parts."""
    if isinstance(node, Logic):
        items = []
        for it in node.items:
            if isinstance(it, Const):
                if it.value == (node.op == "or"):  # True in 'or', False in 'and' decides it
                    return Const(node.op == "or")
                continue  # neutral element
            items.append(it)
        if not items:
            return Const(node.op == "and")
        return items[0] if len(items) == 1 else Logic(node.op, tuple(items))
    if isinstance(node, IfElse) and isinstance(node.test, Const):
        return node.a if node.test.value else node.b
    kids = _children(node)
    if not kids or not all(isinstance(k, Const) for k in kids):
        return node
    try:
        v = _const_eval(node)
    except (ZeroDivisionError, OverflowError, ValueError) as e:
        raise ExpressionError(f"constant part {tr.seg(where)!r} cannot be evaluated: {e}") from None
    if isinstance(v, float) and not (math.isfinite(v) and abs(v) <= MAX_CONSTANT):
        raise ExpressionError(f"constant part {tr.seg(where)!r} is too large (limit {MAX_CONSTANT:g})")
    return Const(v)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.x,)
    if isinstance(node, (Arith, Compare)):
        return (node.a, node.b)
    if isinstance(node, Logic):
        return node.items
    if isinstance(node, Call):
        return node.args
    if isinstance(node, IfElse):
        return (node.test, node.a, node.b)
    return ()


def _const_eval(node: Node) -> float | bool:
    v = [k.value for k in _children(node)]
    if isinstance(node, Unary):
        return not v[0] if node.op == "not" else -v[0]
    if isinstance(node, Arith):
        a, b = v
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if node.op == "/":
            return a / b
        r = a**b
        if isinstance(r, complex):
            raise ValueError("negative number to a fractional power")
        return float(r)
    if isinstance(node, Compare):
        return {"<": v[0] < v[1], "<=": v[0] <= v[1], ">": v[0] > v[1], ">=": v[0] >= v[1]}[node.op]
    if isinstance(node, Call):
        return _call_const(node.fn, v)
    raise AssertionError(type(node))


def _call_const(fn: str, v: list[float]) -> float:
    if fn == "abs":
        return abs(v[0])
    if fn == "sqrt":
        return math.sqrt(v[0])
    if fn == "min":
        return min(v)
    if fn == "max":
        return max(v)
    if fn == "norm":
        return math.sqrt(sum(x * x for x in v))
    if fn == "clip":
        return min(max(v[0], v[1]), v[2])
    raise AssertionError(fn)


# -- printing ------------------------------------------------------------------------------------

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "**": 8, "atom": 9}


def to_source(node: Node) -> str:
    """The canonical text of a tree (fields by schema name); parses back to the same tree."""
    return _src(node)[0]


def _src(node: Node) -> tuple[str, int]:
    def wrap(child: Node, min_prec: int) -> str:
        s, p = _src(child)
        return f"({s})" if p < min_prec else s

    if isinstance(node, Const):
        return (repr(node.value), _PREC["atom"] if node.value >= 0 else _PREC["neg"])
    if isinstance(node, Field):
        return (node.name, _PREC["atom"])
    if isinstance(node, Unary) and node.op == "-":
        return ("-" + wrap(node.x, _PREC["neg"]), _PREC["neg"])
    if isinstance(node, Arith):
        p = _PREC[node.op]
        if node.op == "**":
            return (f"{wrap(node.a, p + 1)} ** {wrap(node.b, p)}", p)
        return (f"{wrap(node.a, p)} {node.op} {wrap(node.b, p + 1)}", p)
    if isinstance(node, Compare):
        p = _PREC["cmp"]
        return (f"{wrap(node.a, p + 1)} {node.op} {wrap(node.b, p + 1)}", p)
    if isinstance(node, Logic):
        p = _PREC[node.op]
        return (f" {node.op} ".join(wrap(i, p + 1) for i in node.items), p)
    if isinstance(node, Unary):
        return ("not " + wrap(node.x, _PREC["not"]), _PREC["not"])
    if isinstance(node, Call):
        return (f"{node.fn}({', '.join(_src(a)[0] for a in node.args)})", _PREC["atom"])
    if isinstance(node, IfElse):
        return (f"where({_src(node.test)[0]}, {_src(node.a)[0]}, {_src(node.b)[0]})", _PREC["atom"])
    raise AssertionError(type(node))
