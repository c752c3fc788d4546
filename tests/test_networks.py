"""Scoring a whole dataset in chunks: the same numbers as one pass, in one output tensor."""

from __future__ import annotations

import numpy as np
import torch

from safemil.costs.nets import CostNet
from safemil.networks import map_rows, mlp


def test_map_rows_gives_every_row_the_numbers_of_one_large_pass():
    torch.manual_seed(0)
    net = mlp([23, 256, 256, 1])  # a cost net's shape
    x = torch.randn(9000, 23)
    for n in (1, 3, 63, 64, 2047, 2048, 2049, 2050, 2083, 2111, 4096 + 7, 6000, 9000):  # tails below/above 64
        with torch.no_grad():
            one_pass = net(x[:n])  # how fewer than 65,536 rows were scored before
        assert torch.equal(map_rows(net, x[:n]), one_pass), n
    assert map_rows(net, x[:0]).shape == (0, 1)


def test_normaliser_from_column_blocks_equals_the_joined_matrix():
    rng = np.random.default_rng(0)
    obs, act = rng.normal(3.0, 2.0, (500, 4)).astype(np.float32), rng.uniform(-1, 1, (500, 2)).astype(np.float32)
    act[:, 1] = 0.5  # a constant column passes through unscaled
    a, b = CostNet(4, 2, (8,)), CostNet(4, 2, (8,))
    a.fit_normalizer(np.concatenate([obs, act], 1))
    b.fit_normalizer(obs, act)
    assert torch.equal(a.in_mean, b.in_mean) and torch.equal(a.in_std, b.in_std)
    assert float(b.in_std[-1]) == 1.0
    expected = np.concatenate([obs, act], 1).astype(np.float64).std(0)[0]
    assert np.isclose(float(b.in_std[0]), expected)


def test_score_rows_passes_never_end_on_a_sliver():
    from safemil.diagnostics import score_rows

    class Recorder:
        def __init__(self):
            self.sizes = []

        def cost(self, obs, act):
            self.sizes.append(len(obs))
            return obs[:, 0]

    obs = np.arange(2 * 2048 + 5, dtype=np.float32)[:, None]
    rec = Recorder()
    out = score_rows(rec, obs, np.zeros((len(obs), 1), np.float32))
    assert rec.sizes == [2048, 2048 + 5] and np.array_equal(out, obs[:, 0])
    assert len(score_rows(rec, obs[:0], obs[:0])) == 0
