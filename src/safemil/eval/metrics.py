"""DSRL normalised scores, CVaR of cost, and bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np

from safemil.tasks import get_task


def normalized_return(returns: np.ndarray | float, task: str) -> np.ndarray | float:
    return get_task(task).reference.normalize_return(returns)


def normalized_cost(costs: np.ndarray | float, cost_limit: float) -> np.ndarray | float:
    eps = 1.0 if cost_limit == 0 else 0.0
    return (np.asarray(costs) + eps) / (cost_limit + eps)


def cvar(values: np.ndarray, p: float) -> float:
    """Mean of the worst (largest) ``p`` fraction of values; at least one value is used."""
    if not 0 < p <= 1:
        raise ValueError(f"CVaR level must be in (0, 1], got {p}")
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    if len(v) == 0:
        raise ValueError("CVaR of an empty sample")
    k = max(1, int(np.ceil(p * len(v) - 1e-9)))
    return float(v[:k].mean())


def bootstrap_ci(
    values: np.ndarray, stat=np.mean, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` (vectorised over resamples)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        raise ValueError("bootstrap of an empty sample")
    if len(v) == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_boot, len(v)))
    if stat is np.mean:
        stats = v[idx].mean(axis=1)
    else:
        stats = np.array([stat(v[i]) for i in idx])
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


CVAR_LEVELS = (0.1, 0.2, 0.5)


# An episode whose mean speed (the velocity its task's cost reads) stays under this share of the
# cost threshold barely moved: "safe but immobile", a low cost from not moving. A fifth: a swimmer
# with zero torques drifts at up to 0.125x its threshold on its reset velocity, a standing walker
# at 0x, and the slowest behaviour in the default datasets runs at about 0.2-0.35x.
IMMOBILE_SPEED_SHARE = 0.2
IMMOBILE_MEANING = f"mean speed under {IMMOBILE_SPEED_SHARE:g}x the cost threshold"  # for messages


def immobile_episodes(mean_speeds: np.ndarray, cost_threshold: float) -> np.ndarray:
    """Which episodes barely moved (or went backwards): mean speed < IMMOBILE_SPEED_SHARE x the threshold."""
    return np.asarray(mean_speeds, dtype=np.float64) < IMMOBILE_SPEED_SHARE * cost_threshold


def summarize_episodes(
    returns: np.ndarray, costs: np.ndarray, lengths: np.ndarray, task: str, cost_limit: float, seed: int = 0
) -> dict:
    """The metrics every run reports. CVaR entries are normalised (divided by the cost limit)."""
    returns = np.asarray(returns, dtype=np.float64)
    costs = np.asarray(costs, dtype=np.float64)
    nr = normalized_return(returns, task)
    nc = normalized_cost(costs, cost_limit)
    out = {
        "task": get_task(task).name,
        "episodes": int(len(returns)),
        "cost_limit": float(cost_limit),
        "mean_return": float(returns.mean()),
        "mean_cost": float(costs.mean()),
        "mean_length": float(np.mean(lengths)),
        "normalized_return": float(nr.mean()),
        "normalized_cost": float(nc.mean()),
        "normalized_return_ci95": bootstrap_ci(nr, seed=seed),
        "normalized_cost_ci95": bootstrap_ci(nc, seed=seed),
    }
    for p in CVAR_LEVELS:
        out[f"cvar{int(round(p * 100))}_cost"] = float(normalized_cost(cvar(costs, p), cost_limit))
    return out
