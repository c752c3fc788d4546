"""Learned navigation behaviour as a plain weight file: snapshots of one Lagrangian training run.

DSRL logged its agents' trajectories all through a training run whose cost limit was
scheduled, so its data holds every risk appetite the run passed through. The trainer
(`collect.lagrangian`) saves the Gaussian policy every few updates; a file of those snapshots
is what the generator rolls out. Each snapshot is an MLP (tanh hidden layers) on normalised,
clipped observations giving the action mean, plus the per-dimension log std it sampled with.
Numpy runs it, so generating data needs neither torch nor stable-baselines3.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from safemil.collect.actor import read_arrays
from safemil.errors import SafemilError

# Per-snapshot training facts kept beside the weights (read by the record and the docs).
META = ("steps", "cost_limit", "multiplier", "episode_return", "episode_cost")


class AgentFileError(SafemilError):
    """A navigation agent file is missing or malformed."""


class NavAgents:
    """K snapshots of one architecture: ``mean_action(obs, which)`` runs row i through snapshot which[i]."""

    def __init__(self, task: str, weights: list[tuple[np.ndarray, np.ndarray]], log_std: np.ndarray,
                 obs_mean: np.ndarray, obs_std: np.ndarray, obs_clip: float, meta: dict[str, np.ndarray]):
        self.task = task
        # weights[i] = (W (K, in, out), b (K, out)): layer i of every snapshot, stacked
        self.weights = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in weights]
        self.log_std = np.asarray(log_std, np.float32)
        self.obs_mean = np.asarray(obs_mean, np.float32)
        self.obs_std = np.asarray(obs_std, np.float32)
        self.obs_clip = float(obs_clip)
        self.meta = {k: np.asarray(meta[k], np.float64) for k in META}
        k = len(self.log_std)
        shapes_ok = all(w.ndim == 3 and w.shape[0] == k and b.shape == (k, w.shape[2]) for w, b in self.weights)
        if not (self.weights and shapes_ok and self.obs_mean.shape == self.obs_std.shape == (k, self.obs_dim)
                and self.log_std.shape == (k, self.act_dim) and all(len(v) == k for v in self.meta.values())):
            raise AgentFileError(f"navigation agents for {task}: inconsistent array shapes")

    @property
    def obs_dim(self) -> int:
        return self.weights[0][0].shape[1]

    @property
    def act_dim(self) -> int:
        return self.weights[-1][0].shape[2]

    def __len__(self) -> int:
        return len(self.log_std)

    def mean_action(self, obs: np.ndarray, which: np.ndarray) -> np.ndarray:
        """The Gaussian mean (before clipping to the action box) of snapshot ``which[i]`` at ``obs[i]``.
        Each row is computed on its own, so a row's action does not depend on the batch."""
        which = np.asarray(which, dtype=np.int64)
        x = (np.asarray(obs, np.float32) - self.obs_mean[which]) / self.obs_std[which]
        x = np.clip(x, -self.obs_clip, self.obs_clip)[:, None, :]
        for i, (w, b) in enumerate(self.weights):
            x = x @ w[which] + b[which][:, None, :]
            if i < len(self.weights) - 1:
                x = np.tanh(x)
        return x[:, 0, :]

    def std(self, which: np.ndarray) -> np.ndarray:
        """The action noise std each row's snapshot sampled with, (rows, act_dim)."""
        return np.exp(self.log_std[np.asarray(which, dtype=np.int64)])

    def select(self, which: list[int] | np.ndarray) -> NavAgents:
        """The snapshots ``which``, in that order."""
        idx = np.asarray(which, dtype=np.int64)
        return NavAgents(self.task, [(w[idx], b[idx]) for w, b in self.weights], self.log_std[idx],
                         self.obs_mean[idx], self.obs_std[idx], self.obs_clip, {k: v[idx] for k, v in self.meta.items()})

    @classmethod
    def concat(cls, parts: list[NavAgents]) -> NavAgents:
        """One file's worth of snapshots from several (same task and architecture)."""
        if not parts:
            raise AgentFileError("no snapshots to join")
        first = parts[0]
        if any(p.task != first.task or [w.shape[1:] for w, _ in p.weights] != [w.shape[1:] for w, _ in first.weights]
               for p in parts):
            raise AgentFileError("snapshots to join differ in task or network shape")
        weights = [(np.concatenate([p.weights[i][0] for p in parts]), np.concatenate([p.weights[i][1] for p in parts]))
                   for i in range(len(first.weights))]
        return cls(first.task, weights, np.concatenate([p.log_std for p in parts]),
                   np.concatenate([p.obs_mean for p in parts]), np.concatenate([p.obs_std for p in parts]),
                   first.obs_clip, {k: np.concatenate([p.meta[k] for p in parts]) for k in META})

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (compressed npz, no pickles)."""
        path = Path(path)
        arrays = {"task": np.array(self.task), "obs_clip": np.array(self.obs_clip), "log_std": self.log_std,
                  "obs_mean": self.obs_mean, "obs_std": self.obs_std, "layers": np.array(len(self.weights))}
        for i, (w, b) in enumerate(self.weights):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        arrays.update({f"meta_{k}": v for k, v in self.meta.items()})
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> NavAgents:
        path = Path(path)
        a = read_arrays(path, AgentFileError, "navigation agent file")
        try:
            weights = [(a[f"w{i}"], a[f"b{i}"]) for i in range(int(a["layers"]))]
            return cls(str(a["task"]), weights, a["log_std"], a["obs_mean"], a["obs_std"], float(a["obs_clip"]),
                       {k: a[f"meta_{k}"] for k in META})
        except (OSError, KeyError, ValueError) as e:
            raise AgentFileError(f"{path}: not a navigation agent file ({e})") from None


def shipped_agents_path(task: str) -> Path:
    """The committed agent file of navigation task ``task`` (by our task name; package data)."""
    return Path(str(resources.files("safemil.collect").joinpath("policies", f"{task}.npz")))


def load_nav_agents(task: str, path: str | os.PathLike | None = None) -> NavAgents:
    """The shipped agents of ``task`` (or the file at ``path``), checked to be that task's."""
    if path is None and not shipped_agents_path(task).exists():
        raise AgentFileError(f"no agents are shipped for {task}: train and install them with `safemil collect train "
                             f"--task {task} --install`, or pass a file (--set agents_file=PATH)")
    agents = NavAgents.load(path or shipped_agents_path(task))
    if agents.task != task:
        raise AgentFileError(f"{path or shipped_agents_path(task)} holds agents for {agents.task}, not {task}")
    return agents
