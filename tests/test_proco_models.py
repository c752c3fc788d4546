"""Dynamics ensemble: fits a known linear system; batched members equal separate evaluation."""

import numpy as np
import torch

from safemil.models import DynamicsEnsemble, EnsembleConfig, Transitions


def _linear_system(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    a = np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.95]])
    b = np.array([[0.5, 0.0], [0.0, 0.3], [0.2, 0.2]])
    s = rng.normal(size=(n, 3)).astype(np.float32)
    u = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    s2 = (s @ a.T + u @ b.T).astype(np.float32)
    r = (s[:, 0] - 0.5 * u[:, 1]).astype(np.float32)
    return Transitions(s, u, s2, r), a, b


def test_ensemble_fits_linear_system():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data, a, b = _linear_system()
    cfg = EnsembleConfig(members=3, elites=2, hidden=(64, 64), lr=3e-3, batch_size=128)
    model = DynamicsEnsemble(data, cfg, seed=0)
    before = model.validate()["model_holdout_mse"]
    for _ in range(600):
        model.train_step()
    after = model.validate()["model_holdout_mse"]
    assert after < 0.02 < before
    rng = np.random.default_rng(1)
    s = torch.tensor(rng.normal(size=(200, 3)) * 0.8, dtype=torch.float32)
    u = torch.tensor(rng.uniform(-1, 1, size=(200, 2)), dtype=torch.float32)
    pred = model.predict(s, u, sample=False)
    truth = s.numpy() @ a.T + u.numpy() @ b.T
    assert np.abs(pred["next_obs"].numpy() - truth).mean() < 0.1
    assert np.abs(pred["reward"].numpy() - (s[:, 0] - 0.5 * u[:, 1]).numpy()).mean() < 0.1
    assert len(model.elites) == 2 and np.all(np.diff(model.elites) > 0)
    # far outside the data the members disagree more than on it
    far = model.predict(s * 20, u, sample=False)["disagreement"].mean()
    assert far > 2 * pred["disagreement"].mean()


def test_batched_members_are_independent_networks():
    data, _, _ = _linear_system(200)
    model = DynamicsEnsemble(data, EnsembleConfig(members=4, elites=4, hidden=(16,)), seed=3)
    x = torch.randn(4, 5, 5)
    mean, _ = model.net(x)
    for m in range(4):  # member m alone, by plain matrix products
        h = torch.nn.functional.silu(x[m] @ model.net.layers[0].weight[m] + model.net.layers[0].bias[m])
        out = h @ model.net.head.weight[m] + model.net.head.bias[m]
        assert torch.allclose(mean[m], out[:, : mean.shape[-1]], atol=1e-5)


def test_ensemble_resume_is_exact():
    data, _, _ = _linear_system(300)
    cfg = EnsembleConfig(members=2, elites=1, hidden=(16,), batch_size=32)
    m1 = DynamicsEnsemble(data, cfg, seed=1)
    for _ in range(5):
        m1.train_step()
    state = m1.state_dict()
    m2 = DynamicsEnsemble(data, cfg, seed=1)
    m2.load_state_dict(state)
    a, b = m1.train_step(), m2.train_step()
    assert a == b


def test_a_subset_of_members_runs_alone():
    """The safety filter runs only the elites: their outputs equal those rows of the whole ensemble's."""
    data, _, _ = _linear_system(200)
    model = DynamicsEnsemble(data, EnsembleConfig(members=4, elites=2, hidden=(16, 16)), seed=3)
    x = torch.randn(4, 5, 5)
    mean, logvar = model.net(x)
    idx = torch.tensor([1, 3])
    sub_mean, sub_logvar = model.net(x[idx], idx)
    assert torch.allclose(sub_mean, mean[idx], atol=1e-6) and torch.allclose(sub_logvar, logvar[idx], atol=1e-6)
