"""Behaviour-policy actors as plain weight files, run with numpy.

Generating data needs only numpy and the simulator: the trainer exports an
actor to ``<task>.npz`` (layer weights, activation, observation normalisation,
action bounds) and `SpeedActor` evaluates it. For the small batches the
generator steps, a numpy MLP is faster than a torch call.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from safemil.collect.command import augment
from safemil.errors import SafemilError
from safemil.tasks import get_task

_ACTS = {"relu": lambda x: np.maximum(x, 0.0, out=x), "tanh": lambda x: np.tanh(x, out=x)}


class PolicyFileError(SafemilError):
    """A behaviour-policy weight file is missing or malformed."""


def read_arrays(path: Path, error: type[SafemilError], what: str) -> dict[str, np.ndarray]:
    """Every array of an npz file (no pickles), or ``error`` with one line saying why not."""
    if not path.exists():
        raise error(f"{what} not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, KeyError, ValueError) as e:
        raise error(f"{path}: not a {what} ({e})") from None


class SpeedActor:
    """Deterministic speed-conditioned actor: ``act(obs, ratio)`` -> actions in the env box."""

    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]], activation: str, squash: str,
                 obs_mean: np.ndarray, obs_std: np.ndarray, obs_clip: float,
                 low: np.ndarray, high: np.ndarray, task: str,
                 command_offset: float = 0.0, command_scale: float = 1.0):
        if activation not in _ACTS:
            raise PolicyFileError(f"unknown activation {activation!r} in policy for {task}")
        if squash not in ("tanh", "clip"):
            raise PolicyFileError(f"unknown output squash {squash!r} in policy for {task}")
        self.weights = [(w.astype(np.float32), b.astype(np.float32)) for w, b in weights]
        self.activation = activation
        self.squash = squash
        self.obs_mean = obs_mean.astype(np.float32)
        self.obs_std = obs_std.astype(np.float32)
        self.obs_clip = float(obs_clip)
        self.low = low.astype(np.float32)
        self.high = high.astype(np.float32)
        self.task = task
        # The network sees ``command_offset + command_scale * ratio``: a measured calibration
        # for a network that learned its command input with the opposite sign (see the record).
        self.command_offset = float(command_offset)
        self.command_scale = float(command_scale)
        self.in_dim = self.weights[0][0].shape[0]
        self.act_dim = self.weights[-1][0].shape[1]

    def raw(self, obs_aug: np.ndarray) -> np.ndarray:
        """Pre-squash output for augmented observations (obs + command ratio)."""
        x = (np.asarray(obs_aug, dtype=np.float32) - self.obs_mean) / self.obs_std
        np.clip(x, -self.obs_clip, self.obs_clip, out=x)
        act = _ACTS[self.activation]
        for w, b in self.weights[:-1]:
            x = act(x @ w + b)
        w, b = self.weights[-1]
        return x @ w + b

    def squash_out(self, u: np.ndarray) -> np.ndarray:
        """Map a pre-squash output (possibly with noise added) into the action box."""
        if self.squash == "tanh":
            return self.low + 0.5 * (np.tanh(u) + 1.0) * (self.high - self.low)
        return np.clip(u, self.low, self.high)

    def act(self, obs: np.ndarray, ratio: np.ndarray | float, deterministic: bool = True) -> np.ndarray:
        ratio = self.command_offset + self.command_scale * np.asarray(ratio, dtype=np.float32)
        return self.squash_out(self.raw(augment(obs, ratio)))

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
        np.savez(tmp, **_actor_arrays(self))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SpeedActor | SwitchedActor | BlendedActor | ThrottledActor:
        """Read a weight file: one network, a switched or blended set (``part<k>_`` keys), or a throttled one."""
        path = Path(path)
        arrays = read_arrays(path, PolicyFileError, "behaviour-policy weight file")
        if "switch_bounds" in arrays:
            bounds = [float(b) for b in arrays["switch_bounds"]]
            return SwitchedActor(bounds, _parts_from_arrays(arrays, len(bounds) + 1, path))
        if "blend_anchors" in arrays:
            anchors = [float(b) for b in arrays["blend_anchors"]]
            return BlendedActor(anchors, _parts_from_arrays(arrays, len(anchors), path))
        if "throttle_anchors" in arrays:
            if "throttle_scales" not in arrays:
                raise PolicyFileError(f"{path}: a throttled actor needs throttle_scales beside throttle_anchors")
            return ThrottledActor([float(c) for c in arrays["throttle_anchors"]],
                                  [float(s) for s in arrays["throttle_scales"]], _parts_from_arrays(arrays, 1, path)[0])
        return _actor_from_arrays(arrays, path)


def _parts_from_arrays(arrays: dict[str, np.ndarray], n: int, path: Path) -> list[SpeedActor]:
    return [_actor_from_arrays({k[len(f"part{i}_"):]: v for k, v in arrays.items() if k.startswith(f"part{i}_")},
                               path) for i in range(n)]


def _save_parts(path: str | os.PathLike, header: dict[str, np.ndarray], actors: list[SpeedActor]) -> Path:
    path = Path(path)
    arrays: dict[str, np.ndarray] = dict(header)
    for k, a in enumerate(actors):
        arrays.update({f"part{k}_{name}": v for name, v in _actor_arrays(a).items()})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def _check_parts(actors: list[SpeedActor], kind: str) -> None:
    first = actors[0]
    for a in actors[1:]:
        if (a.task, a.in_dim, a.act_dim) != (first.task, first.in_dim, first.act_dim):
            raise PolicyFileError(f"all parts of a {kind} actor must belong to the same task")


def _actor_arrays(a: SpeedActor) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(a.weights):
        arrays[f"w{i}"] = w
        arrays[f"b{i}"] = b
    arrays.update(obs_mean=a.obs_mean, obs_std=a.obs_std, low=a.low, high=a.high)
    arrays["obs_clip"] = np.float32(a.obs_clip)
    arrays["command_map"] = np.array([a.command_offset, a.command_scale], np.float64)
    arrays["activation"] = np.array(a.activation)
    arrays["squash"] = np.array(a.squash)
    arrays["task"] = np.array(a.task)
    return arrays


def _actor_from_arrays(z: dict[str, np.ndarray], path: Path) -> SpeedActor:
    try:
        n = sum(1 for k in z if k.startswith("w") and k[1:].isdigit())
        weights = [(z[f"w{i}"], z[f"b{i}"]) for i in range(n)]
        cmap = z.get("command_map", np.array([0.0, 1.0]))
        actor = SpeedActor(weights, str(z["activation"]), str(z["squash"]), z["obs_mean"], z["obs_std"],
                           float(z["obs_clip"]), z["low"], z["high"], str(z["task"]),
                           float(cmap[0]), float(cmap[1]))
    except (KeyError, ValueError) as e:
        raise PolicyFileError(f"{path}: not a behaviour-policy weight file (missing or bad {e})") from None
    if not weights:
        raise PolicyFileError(f"{path}: no layers")
    spec = get_task(actor.task)
    if actor.in_dim != spec.obs_dim + 1 or actor.act_dim != spec.act_dim:
        raise PolicyFileError(
            f"{path}: network maps {actor.in_dim} -> {actor.act_dim} but task {spec.name} "
            f"needs {spec.obs_dim + 1} -> {spec.act_dim}"
        )
    return actor


def shipped_policy_path(task: str) -> Path:
    """The committed weight file of a task's behaviour policy (package data)."""
    name = get_task(task).name
    return Path(str(resources.files("safemil.collect").joinpath("policies", f"{name}.npz")))


def load_behaviour_policy(task: str, path: str | os.PathLike | None = None
                          ) -> SpeedActor | SwitchedActor | BlendedActor | ThrottledActor:
    """The shipped behaviour policy of ``task`` (or the file at ``path``)."""
    spec = get_task(task)
    if spec.kind != "velocity":
        raise PolicyFileError(
            f"{spec.name} is a {spec.kind} task: its behaviour is learned agents (safemil.collect.nav_agents) "
            "or a scripted controller, not a speed policy")
    p = Path(path) if path is not None else shipped_policy_path(task)
    if path is None and not p.exists():
        raise PolicyFileError(
            f"no shipped behaviour policy for {get_task(task).name} ({p}); train one with: "
            f"safemil collect train --task {get_task(task).name}"
        )
    actor = SpeedActor.load(p)
    if actor.task != get_task(task).name:
        raise PolicyFileError(f"{p} is a policy for {actor.task}, not {get_task(task).name}")
    return actor


class SwitchedActor:
    """A speed-conditioned actor made of actors that each cover an interval of commands.

    Command ratios below ``bounds[0]`` go to ``actors[0]``, between ``bounds[0]`` and
    ``bounds[1]`` to ``actors[1]``, and so on. Used where one trained network does not
    cover the whole command range well (see the task's policy record).
    """

    def __init__(self, bounds: list[float], actors: list[SpeedActor]):
        if len(actors) != len(bounds) + 1 or not actors:
            raise PolicyFileError("a switched actor needs len(actors) == len(bounds) + 1")
        if list(bounds) != sorted(bounds):
            raise PolicyFileError(f"switch bounds must increase, got {bounds}")
        self.bounds = np.asarray(bounds, dtype=np.float64)
        self.actors = actors
        first = actors[0]
        self.task, self.low, self.high = first.task, first.low, first.high
        self.in_dim, self.act_dim = first.in_dim, first.act_dim
        _check_parts(actors, "switched")

    def act(self, obs: np.ndarray, ratio: np.ndarray | float, deterministic: bool = True) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        ratio = np.broadcast_to(np.asarray(ratio, dtype=np.float32), (len(obs),))
        part = np.searchsorted(self.bounds, ratio, side="right")
        out = np.empty((len(obs), self.act_dim), dtype=np.float32)
        for k in np.unique(part):
            rows = part == k
            out[rows] = self.actors[k].act(obs[rows], ratio[rows])
        return out

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        return _save_parts(path, {"switch_bounds": self.bounds}, self.actors)


class BlendedActor:
    """One continuous family of gaits: actors anchored at increasing commands, outputs interpolated between.

    A command between ``anchors[k]`` and ``anchors[k+1]`` gets
    ``squash((1 - t) u_k + t u_{k+1})`` with ``t`` its linear position between the two
    anchors and ``u_k`` part ``k``'s pre-squash output; commands outside the anchors get
    the nearest end part. For linear parts (``ars-linear``) this is the linear policy with
    interpolated weights. Why: a switched ladder of separately trained gaits is a mixture
    of discrete behaviours whose command a clone cannot see; interpolating makes speed vary
    with the command continuously. (No shipped policy uses it: on Swimmer it did not make
    the data easier to clone.)
    """

    def __init__(self, anchors: list[float], actors: list[SpeedActor]):
        if len(actors) != len(anchors) or len(actors) < 2:
            raise PolicyFileError("a blended actor needs two or more parts and one anchor per part")
        if np.any(np.diff(anchors) <= 0):
            raise PolicyFileError(f"blend anchors must strictly increase, got {anchors}")
        first = actors[0]
        _check_parts(actors, "blended")
        for a in actors[1:]:
            if a.squash != first.squash or not (np.array_equal(a.low, first.low) and np.array_equal(a.high, first.high)):
                raise PolicyFileError("all parts of a blended actor must share their output squash and action bounds")
        self.anchors = np.asarray(anchors, dtype=np.float64)
        self.actors = actors
        self.task, self.low, self.high = first.task, first.low, first.high
        self.in_dim, self.act_dim = first.in_dim, first.act_dim

    def act(self, obs: np.ndarray, ratio: np.ndarray | float, deterministic: bool = True) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        ratio = np.broadcast_to(np.asarray(ratio, dtype=np.float32), (len(obs),))
        r = np.clip(ratio.astype(np.float64), self.anchors[0], self.anchors[-1])
        left = np.clip(np.searchsorted(self.anchors, r, side="right") - 1, 0, len(self.anchors) - 2)
        t = ((r - self.anchors[left]) / (self.anchors[left + 1] - self.anchors[left])).astype(np.float32)
        u = np.zeros((len(obs), self.act_dim), dtype=np.float32)
        for k in np.unique(np.concatenate([left, left + 1])):
            w = np.where(left == k, 1.0 - t, 0.0) + np.where(left + 1 == k, t, 0.0)
            rows = w > 0
            if rows.any():
                a = self.actors[k]
                cmd = a.command_offset + a.command_scale * ratio[rows]
                u[rows] += w[rows, None] * a.raw(augment(obs[rows], cmd))
        return self.actors[0].squash_out(u).astype(np.float32)

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        return _save_parts(path, {"blend_anchors": self.anchors}, self.actors)


class ThrottledActor:
    """One gait whose actions are scaled toward the action box's centre by a factor set by the command.

    A command ``c`` gets ``centre + s(c) (a - centre)``, with ``a`` the gait's action and
    ``s`` interpolated linearly between ``(anchors[k], scales[k])`` (the end scales outside
    them), ``0 < s <= 1``. Why: a gait learned on the task reward runs at one speed; weaker
    torques slow the same gait continuously, from standing to running, so the data's speed
    spans a continuum without a separately trained gait per speed (Ant's policy record).
    """

    def __init__(self, anchors: list[float], scales: list[float], actor: SpeedActor):
        if len(anchors) != len(scales) or not anchors:
            raise PolicyFileError("a throttled actor needs one scale per command anchor, and at least one")
        if np.any(np.diff(anchors) <= 0):
            raise PolicyFileError(f"throttle anchors must strictly increase, got {anchors}")
        if not all(0.0 < s <= 1.0 for s in scales):
            raise PolicyFileError(f"throttle scales must lie in (0, 1], got {scales}")
        self.anchors = np.asarray(anchors, dtype=np.float64)
        self.scales = np.asarray(scales, dtype=np.float64)
        self.actors = [actor]
        self.task, self.low, self.high = actor.task, actor.low, actor.high
        self.in_dim, self.act_dim = actor.in_dim, actor.act_dim

    def scale(self, ratio: np.ndarray | float) -> np.ndarray:
        """The action scale at each command ratio."""
        return np.interp(np.asarray(ratio, dtype=np.float64), self.anchors, self.scales)

    def act(self, obs: np.ndarray, ratio: np.ndarray | float, deterministic: bool = True) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        ratio = np.broadcast_to(np.asarray(ratio, dtype=np.float32), (len(obs),))
        centre = 0.5 * (self.low + self.high)
        s = self.scale(ratio).astype(np.float32)[:, None]
        return (centre + s * (self.actors[0].act(obs, ratio) - centre)).astype(np.float32)

    def save(self, path: str | os.PathLike, meta: dict | None = None) -> Path:
        return _save_parts(path, {"throttle_anchors": self.anchors, "throttle_scales": self.scales}, self.actors)
