"""Turn a checked expression tree into a vectorised cost function over numpy or torch batches.

The tree is compiled into nested Python closures (one per node), each taking the
observation batch and an array-library adapter, so one compiled cost serves
numpy arrays and torch tensors alike, with any leading batch shape
``(..., obs_dim)``. No source text is involved at this stage.

Options, both applied to comparisons in *decisive* positions (reachable from the
top through and / or / not and the branches of a conditional; the tests of a
conditional are left exact, since making them looser has no safe direction):

- ``margin`` (conservative): each comparison is moved by ``margin * |T|`` towards
  flagging, where ``T`` is its threshold side (the constant side, else the right
  side; ``|T| = 0`` counts as 1). ``x > 3.2096`` with margin 0.1 becomes
  ``x > 0.9 * 3.2096``; under ``not`` the shift goes the other way, so the cost
  only ever flags more states.
- ``softness`` (soft cost): a comparison becomes ``sigmoid(d / (softness * |T|))``
  where ``d`` is its signed distance to the boundary; and/or/not become min/max/1-x.
  The cost is then a smooth number in [0, 1] instead of 0 or 1.

A number-valued expression is the cost itself, clipped to [0, 1]; non-finite
values count as 1 (unknown is treated as unsafe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from safemil.costs.knowledge.errors import CostInputError, ExpressionError
from safemil.costs.knowledge.language import (
    BOOL,
    Arith,
    Call,
    Compare,
    Const,
    Field,
    IfElse,
    Logic,
    Node,
    Parsed,
    Unary,
)

Fn = Callable[[Any, Any], Any]


class _NumpyOps:
    def abs(self, a):
        return np.abs(a)

    def sqrt(self, a):
        return np.sqrt(a)

    def minimum(self, a, b):
        return np.minimum(a, b)

    def maximum(self, a, b):
        return np.maximum(a, b)

    def where(self, c, a, b):
        return np.where(c, a, b)

    def land(self, a, b):
        return np.logical_and(a, b)

    def lor(self, a, b):
        return np.logical_or(a, b)

    def lnot(self, a):
        return np.logical_not(a)

    def sigmoid(self, a):
        return 0.5 * (1.0 + np.tanh(0.5 * a))  # overflow-free logistic

    def finish(self, r, x, numeric: bool):
        r = np.asarray(r)
        if r.shape != x.shape[:-1]:
            r = np.broadcast_to(r, x.shape[:-1])
        r = r.astype(x.dtype)  # always a fresh, writable array
        if numeric:
            r = np.clip(np.nan_to_num(r, nan=1.0, posinf=1.0, neginf=0.0, copy=False), 0.0, 1.0, out=r)
        return r


class _TorchOps:
    def __init__(self, torch):
        self.t = torch

    def _pair(self, a, b):
        t = self.t
        if not isinstance(a, t.Tensor) and not isinstance(b, t.Tensor):
            a = t.as_tensor(a)
        if not isinstance(a, t.Tensor):
            a = t.as_tensor(a, dtype=b.dtype if b.dtype.is_floating_point else None, device=b.device)
        if not isinstance(b, t.Tensor):
            b = t.as_tensor(b, dtype=a.dtype if a.dtype.is_floating_point else None, device=a.device)
        if a.dtype != b.dtype and (a.dtype.is_floating_point or b.dtype.is_floating_point):
            dt = a.dtype if a.dtype.is_floating_point else b.dtype
            a, b = a.to(dt), b.to(dt)
        return a, b

    def abs(self, a):
        return self.t.abs(a)

    def sqrt(self, a):
        return self.t.sqrt(a)

    def minimum(self, a, b):
        return self.t.minimum(*self._pair(a, b))

    def maximum(self, a, b):
        return self.t.maximum(*self._pair(a, b))

    def where(self, c, a, b):
        a, b = self._pair(a, b)
        return self.t.where(c, a, b)

    def land(self, a, b):
        return self.t.logical_and(a, b)

    def lor(self, a, b):
        return self.t.logical_or(a, b)

    def lnot(self, a):
        return self.t.logical_not(a)

    def sigmoid(self, a):
        return self.t.sigmoid(a)

    def finish(self, r, x, numeric: bool):
        t = self.t
        r = t.as_tensor(r, device=x.device).to(x.dtype).expand(x.shape[:-1])
        if numeric:
            r = t.clamp(t.nan_to_num(r, nan=1.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        return r.clone()


_NUMPY = _NumpyOps()


class CompiledCost:
    """A vectorised cost function: observations ``(..., obs_dim)`` -> costs ``(...)`` in [0, 1]."""

    def __init__(self, parsed: Parsed, obs_dim: int, margin: float = 0.0, softness: float = 0.0):
        if not (isinstance(margin, (int, float)) and 0.0 <= margin < 1.0):
            raise ExpressionError(f"margin must be in [0, 1), got {margin!r}")
        if not (isinstance(softness, (int, float)) and 0.0 <= softness <= 10.0):
            raise ExpressionError(f"softness must be in [0, 10], got {softness!r}")
        self.parsed = parsed
        self.obs_dim = obs_dim
        self.margin = float(margin)
        self.softness = float(softness)
        self.sites = 0  # comparisons the margin / softness act on
        self._numeric = parsed.type != BOOL
        self._fn = self._build(parsed.root, +1 if not self._numeric else 0)
        if (margin > 0 or softness > 0) and self.sites == 0:
            raise ExpressionError(
                f"margin/softness have nothing to act on in {parsed.source!r}: it has no comparison "
                "that decides the cost (only comparisons outside the tests of conditionals count)"
            )
        self._torch_ops = None

    @property
    def soft(self) -> bool:
        return self.softness > 0

    def __call__(self, obs):
        """Costs for a batch; numpy in -> numpy out, torch in -> torch out (same dtype and device)."""
        if type(obs).__module__.startswith("torch"):
            return self._call_torch(obs)
        x = np.asarray(obs)
        if not np.issubdtype(x.dtype, np.floating):
            if not (np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
                raise CostInputError(f"observations must be numbers, got dtype {x.dtype}")
            x = x.astype(np.float64)
        self._check_shape(x.shape)
        with np.errstate(all="ignore"):
            return _NUMPY.finish(self._fn(x, _NUMPY), x, self._numeric)

    def _call_torch(self, obs):
        import torch

        if self._torch_ops is None:
            self._torch_ops = _TorchOps(torch)
        x = obs if obs.dtype.is_floating_point else obs.to(torch.get_default_dtype())
        self._check_shape(tuple(x.shape))
        return self._torch_ops.finish(self._fn(x, self._torch_ops), x, self._numeric)

    def _check_shape(self, shape: tuple) -> None:
        if len(shape) == 0 or shape[-1] != self.obs_dim:
            raise CostInputError(
                f"observations must have shape (..., {self.obs_dim}) for this task, got {tuple(shape)}"
            )

    # -- closure building ----------------------------------------------------------------------

    def _build(self, node: Node, pol: int) -> Fn:
        """pol: +1 / -1 where a comparison being true raises / lowers the cost; 0 elsewhere."""
        if isinstance(node, Const):
            v = node.value
            if isinstance(v, bool) and self.soft and pol != 0:
                v = 1.0 if v else 0.0
            return lambda x, o: v
        if isinstance(node, Field):
            i = node.index
            return lambda x, o: x[..., i]
        if isinstance(node, Unary) and node.op == "-":
            f = self._build(node.x, 0)
            return lambda x, o: -f(x, o)
        if isinstance(node, Arith):
            return self._arith(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Compare):
            return self._compare(node, pol)
        if isinstance(node, Logic):
            fs = [self._build(i, pol) for i in node.items]
            soft = self.soft and pol != 0
            if node.op == "and":
                return _reduce(fs, (lambda o: o.minimum) if soft else (lambda o: o.land))
            return _reduce(fs, (lambda o: o.maximum) if soft else (lambda o: o.lor))
        if isinstance(node, Unary):  # not
            f = self._build(node.x, -pol)
            if self.soft and pol != 0:
                return lambda x, o: 1.0 - f(x, o)
            return lambda x, o: o.lnot(f(x, o))
        if isinstance(node, IfElse):
            test = self._build(node.test, 0)
            bpol = pol if node.type == BOOL else 0
            a, b = self._build(node.a, bpol), self._build(node.b, bpol)
            return lambda x, o: o.where(test(x, o), a(x, o), b(x, o))
        raise AssertionError(type(node))

    def _arith(self, node: Arith) -> Fn:
        a, b = self._build(node.a, 0), self._build(node.b, 0)
        if node.op == "+":
            return lambda x, o: a(x, o) + b(x, o)
        if node.op == "-":
            return lambda x, o: a(x, o) - b(x, o)
        if node.op == "*":
            return lambda x, o: a(x, o) * b(x, o)
        if node.op == "/":
            return lambda x, o: a(x, o) / b(x, o)
        return lambda x, o: a(x, o) ** b(x, o)

    def _call(self, node: Call) -> Fn:
        fs = [self._build(a, 0) for a in node.args]
        fn = node.fn
        if fn == "abs":
            return lambda x, o: o.abs(fs[0](x, o))
        if fn == "sqrt":
            return lambda x, o: o.sqrt(fs[0](x, o))
        if fn == "min":
            return _reduce(fs, lambda o: o.minimum)
        if fn == "max":
            return _reduce(fs, lambda o: o.maximum)
        if fn == "norm":
            sq = [_square(f) for f in fs]
            total = _reduce(sq, lambda o: lambda p, q: p + q)
            return lambda x, o: o.sqrt(total(x, o))
        if fn == "clip":
            v, lo, hi = fs
            return lambda x, o: o.minimum(o.maximum(v(x, o), lo(x, o)), hi(x, o))
        raise AssertionError(fn)

    def _compare(self, node: Compare, pol: int) -> Fn:
        a, b = self._build(node.a, 0), self._build(node.b, 0)
        op = node.op
        shift = self.margin > 0 and pol != 0
        soft = self.soft and pol != 0
        if not shift and not soft:  # exact comparison, no arithmetic on the operands
            return {
                ">": lambda x, o: a(x, o) > b(x, o),
                ">=": lambda x, o: a(x, o) >= b(x, o),
                "<": lambda x, o: a(x, o) < b(x, o),
                "<=": lambda x, o: a(x, o) <= b(x, o),
            }[op]
        self.sites += 1
        # d > 0 (or >= 0) exactly when the comparison holds.
        big, small = (a, b) if op in (">", ">=") else (b, a)
        strict = op in (">", "<")
        thr_node = node.a if isinstance(node.a, Const) and not isinstance(node.b, Const) else node.b
        if isinstance(thr_node, Const):
            s = abs(float(thr_node.value)) or 1.0
            scale: Fn = lambda x, o: s  # noqa: E731
        else:
            t = self._build(thr_node, 0)

            def scale(x, o):
                m = o.abs(t(x, o))
                return o.where(m > 0, m, 1.0)

        m = self.margin * pol  # + towards flagging, - under negation
        if shift:
            def d(x, o):
                return big(x, o) - small(x, o) + m * scale(x, o)
        else:
            def d(x, o):
                return big(x, o) - small(x, o)

        if soft:
            k = self.softness
            return lambda x, o: o.sigmoid(d(x, o) / (k * scale(x, o)))
        if strict:
            return lambda x, o: d(x, o) > 0
        return lambda x, o: d(x, o) >= 0


def _square(f: Fn) -> Fn:
    return lambda x, o: f(x, o) * f(x, o)


def _reduce(fs: list[Fn], pick: Callable[[Any], Callable[[Any, Any], Any]]) -> Fn:
    if len(fs) == 1:
        return fs[0]

    def run(x, o):
        op = pick(o)
        acc = fs[0](x, o)
        for f in fs[1:]:
            acc = op(acc, f(x, o))
        return acc

    return run


def margin_threshold(threshold: float, margin: float) -> float:
    """Where ``x > threshold`` flags from under a margin (for reports): ``(1 - margin) * |t|`` below it."""
    return threshold - margin * (abs(threshold) or 1.0)


__all__ = ["CompiledCost", "margin_threshold"]
