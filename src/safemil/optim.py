"""Optimisers and gradient clipping, built one way for every learner.

Both are the cheap-but-identical variants: Adam/AdamW with ``foreach=True`` run
one multi-tensor kernel per update stage instead of a Python loop over
parameters (bit-identical to the default loop on CPU, measured by
``tests/test_optim.py``), and clipping multiplies the gradients only when their
norm is over the limit (``clip_grad_norm_`` always multiplies, by 1.0 when under
it, which changes nothing but costs a pass over every gradient).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def adamw(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)


def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, foreach=True)


def clip_gradients(params: Iterable[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale the gradients down to L2 norm ``max_norm`` if they exceed it (0 or inf: never); returns the norm.

    Same result as ``torch.nn.utils.clip_grad_norm_`` bit for bit: it scales by
    ``max_norm / (norm + 1e-6)`` clamped to 1, and a scale of exactly 1 is skipped here.
    """
    params = [p for p in params if p.grad is not None]
    grads = [p.grad for p in params]
    norm = torch.nn.utils.get_total_norm(grads, foreach=True)
    if max_norm and not math.isinf(max_norm):
        if not bool(max_norm / (norm + 1e-6) >= 1.0):  # over the limit (or a nan norm, spread as upstream does)
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm, foreach=True)
    return norm
