"""The shared optimisers and clipping are faster variants that must not change a single bit."""

from __future__ import annotations

import torch

from safemil.networks import mlp
from safemil.optim import adam, adamw, clip_gradients


def _train(make_opt, clip: float | None, steps: int = 40) -> tuple[torch.Tensor, list[float]]:
    torch.manual_seed(0)
    net = mlp([5, 32, 32, 3])
    opt = make_opt(net.parameters())
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(1))
    norms = []
    for i in range(steps):
        loss = ((net(x) - i) ** 2).mean()  # a growing target: gradients both under and over the limit
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            norms.append(float(make_opt.clip(net.parameters(), clip)))
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()]), norms


class _Make:
    def __init__(self, fn, clip):
        self.fn, self.clip = fn, clip

    def __call__(self, params):
        return self.fn(params)


def test_foreach_adamw_and_clipping_are_bit_identical_to_torch_defaults():
    ours = _Make(lambda p: adamw(p, 1e-2, 0.01), clip_gradients)
    ref = _Make(lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.01),
                lambda p, m: torch.nn.utils.clip_grad_norm_(p, m))
    p_ours, n_ours = _train(ours, clip=5.0)
    p_ref, n_ref = _train(ref, clip=5.0)
    assert min(n_ref) < 5.0 < max(n_ref)  # both branches of the clip ran
    assert torch.equal(p_ours, p_ref) and n_ours == n_ref


def test_foreach_adam_is_bit_identical_to_torch_default():
    p_ours, _ = _train(_Make(lambda p: adam(p, 1e-2), None), clip=None)
    p_ref, _ = _train(_Make(lambda p: torch.optim.Adam(p, lr=1e-2), None), clip=None)
    assert torch.equal(p_ours, p_ref)


def test_clip_of_zero_measures_the_norm_without_clipping():
    net = mlp([3, 4, 1])
    net(torch.ones(2, 3)).sum().mul(1e3).backward()
    before = [p.grad.clone() for p in net.parameters()]
    norm = clip_gradients(net.parameters(), 0.0)
    expected = torch.linalg.vector_norm(torch.stack([g.norm() for g in before]))
    assert torch.allclose(norm, expected) and float(norm) > 1.0
    assert all(torch.equal(g, p.grad) for g, p in zip(before, net.parameters(), strict=True))
