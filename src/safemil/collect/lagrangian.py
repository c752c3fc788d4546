"""Train navigation behaviour the way DSRL did: PPO-Lagrangian with a scheduled cost limit.

DSRL's navigation data comes from Lagrangian agents whose cost limit moved during training
(PointGoal1 80 -> 5, PointButton1 150 -> 5, PointCircle2 5 -> 200), logged all along, so it
holds the early clumsy agents, the reckless fast ones and the cautious converged ones. This
trainer runs stable-baselines3's PPO (optional extra `collect`) on the penalised reward

    r'_t = (r_t - lambda c_t) / (1 + lambda)

and after every rollout takes one projected ascent step on the multiplier,

    lambda <- max(0, lambda + lambda_lr (C_mean - d_k) / max(d_k, 1)),

C_mean the mean episode cost of the rollout's episodes and d_k the limit, linear in training
steps from ``limit_start`` to ``limit_end`` (reached at ``schedule_steps``, by default the run's end). A rollout is one episode per env (``rollout``
defaults to the episode length), so the multiplier always sees whole episodes. Every
``snapshot_every`` rollouts the policy is saved as a numpy snapshot (`nav_agents.NavAgents`) and
the run is checkpointed. Each env's episode e starts from layout seed hash(seed, env, e), so a
checkpoint at a rollout boundary holds the whole state and a resumed run is bit-identical to an
uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from safemil.collect.nav_agents import META, NavAgents, shipped_agents_path
from safemil.config import to_dict
from safemil.console import progress_bar
from safemil.errors import ConfigError, SafemilError
from safemil.files import atomic_write_text
from safemil.tasks import get_task

# DSRL's cost-limit schedules for these tasks (NAVIGATION.md).
LIMIT_SCHEDULES: dict[str, tuple[float, float]] = {
    "PointGoal1": (80.0, 5.0),
    "PointButton1": (150.0, 5.0),
    "PointCircle2": (5.0, 200.0),
}


@dataclass
class LagrangianTrainConfig:
    """PPO on (r - lambda c) / (1 + lambda); lambda <- max(0, lambda + lambda_lr (C_mean - d) / max(d, 1))
    after each rollout, d scheduled linearly from limit_start to limit_end over the run."""

    task: str = "PointGoal1"
    steps: int = 3_000_000  # env steps in all (rounded up to whole rollouts)
    seed: int = 0
    limit_start: float = 80.0  # the cost limit d at the start of training ...
    limit_end: float = 5.0  # ... and from schedule_steps on
    schedule_steps: int = 0  # env steps over which the limit moves from start to end (0: the whole run)
    lambda_lr: float = 0.05  # multiplier step per unit of relative constraint violation (0: a fixed penalty)
    lambda_init: float = 0.0  # the multiplier at the start
    n_envs: int = 8
    rollout: int = 0  # steps per env per PPO update; 0: the episode length (one whole episode per env)
    batch_size: int = 500
    epochs: int = 10  # PPO passes over each rollout
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0  # entropy bonus (keeps the policy's std from collapsing before the limit tightens)
    net: tuple[int, ...] = (64, 64)  # tanh hidden layers of the policy and of the value net
    snapshot_every: int = 8  # rollouts between saved snapshots (and checkpoints)
    max_steps: int | None = None  # episode length cap (default: the task's; tests use short episodes)
    threads: int = 1

    def episode_steps(self) -> int:
        return self.max_steps or get_task(self.task).max_episode_steps

    def rollout_steps(self) -> int:
        return self.rollout or self.episode_steps()

    def validate(self) -> None:
        spec = get_task(self.task)
        if spec.kind != "navigation":
            raise ConfigError(f"the Lagrangian trainer is for navigation tasks; {spec.name} is a {spec.kind} task")
        ep = self.episode_steps()
        if self.max_steps is not None and not 1 <= self.max_steps <= spec.max_episode_steps:
            raise ConfigError(f"need 1 <= max_steps <= {spec.max_episode_steps}, got {self.max_steps}")
        if self.rollout_steps() % ep:
            raise ConfigError(f"rollout ({self.rollout_steps()}) must be a multiple of the episode length ({ep}), "
                              "so every rollout ends with whole episodes")
        if self.schedule_steps < 0:
            raise ConfigError(f"schedule_steps must be >= 0, got {self.schedule_steps}")
        for key in ("steps", "n_envs", "batch_size", "epochs", "snapshot_every", "threads"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if (self.n_envs * self.rollout_steps()) % self.batch_size:
            raise ConfigError(f"batch_size ({self.batch_size}) must divide n_envs x rollout "
                              f"({self.n_envs * self.rollout_steps()})")
        if min(self.limit_start, self.limit_end, self.lambda_lr, self.lambda_init, self.ent_coef) < 0:
            raise ConfigError("cost limits, lambda_lr, lambda_init and ent_coef must be >= 0")
        if not (0 < self.gamma <= 1 and 0 <= self.gae_lambda <= 1 and self.learning_rate > 0 and self.clip_range > 0):
            raise ConfigError("need 0 < gamma <= 1, 0 <= gae_lambda <= 1, learning_rate > 0, clip_range > 0")
        if not self.net:
            raise ConfigError("net needs at least one hidden layer")

    def limit_at(self, steps: int) -> float:
        """The scheduled cost limit after ``steps`` env steps."""
        frac = min(1.0, steps / (self.schedule_steps or self.steps))
        return self.limit_start + (self.limit_end - self.limit_start) * frac


def default_lagrangian_config(task: str, **overrides) -> LagrangianTrainConfig:
    """``task``'s training config: DSRL's limit schedule for it, with ``overrides`` applied."""
    name = get_task(task).name
    start, end = LIMIT_SCHEDULES.get(name, (LagrangianTrainConfig.limit_start, LagrangianTrainConfig.limit_end))
    kw = {"task": name, "limit_start": start, "limit_end": end}
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return LagrangianTrainConfig(**kw)


class CostPenalty(gym.Wrapper):
    """Pays (r - lambda c) / (1 + lambda), keeps each finished episode's true return and cost, and
    seeds episode e of env ``index`` from (seed, index, e) whatever seed the caller passes."""

    def __init__(self, env: gym.Env, seed: int, index: int, multiplier: list[float]):
        super().__init__(env)
        self.seed_, self.index, self.multiplier = seed, index, multiplier
        self.episode = -1  # the episode now running
        self.ret = self.cost = 0.0
        self.finished: list[tuple[float, float]] = []

    def episode_seed(self, episode: int) -> int:
        return int(np.random.SeedSequence([self.seed_, self.index, episode]).generate_state(1)[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.episode += 1
        self.ret = self.cost = 0.0
        return self.env.reset(seed=self.episode_seed(self.episode), options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        cost = float(info["cost"])
        self.ret += float(reward)
        self.cost += cost
        if terminated or truncated:
            self.finished.append((self.ret, self.cost))
        lam = self.multiplier[0]
        return obs, (reward - lam * cost) / (1.0 + lam), terminated, truncated, info


def _require_sb3() -> None:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise SafemilError(
            "training navigation behaviour needs stable-baselines3: pip install 'safemil[collect]'") from None


def _envs(cfg: LagrangianTrainConfig, multiplier: list[float]):
    from stable_baselines3.common.vec_env import DummyVecEnv

    spec = get_task(cfg.task)
    wrappers: list[CostPenalty] = []

    def factory(i: int):
        def make():
            env = spec.make_env()
            if cfg.max_steps is not None:
                env = gym.wrappers.TimeLimit(env, cfg.max_steps)
            wrappers.append(CostPenalty(env, cfg.seed, i, multiplier))
            return wrappers[-1]
        return make

    venv = DummyVecEnv([factory(i) for i in range(cfg.n_envs)])
    return venv, wrappers


def snapshot(model, venv, task: str, meta: dict[str, float]) -> NavAgents:
    """The policy of an SB3 PPO model and its VecNormalize statistics as a one-snapshot `NavAgents`."""
    import torch

    mods = list(model.policy.mlp_extractor.policy_net) + [model.policy.action_net]
    layers = [(m.weight.detach().cpu().numpy().T[None].copy(), m.bias.detach().cpu().numpy()[None].copy())
              for m in mods if isinstance(m, torch.nn.Linear)]
    rms = venv.obs_rms
    return NavAgents(task, layers, model.policy.log_std.detach().cpu().numpy()[None],
                     rms.mean[None], np.sqrt(rms.var + venv.epsilon)[None], float(venv.clip_obs),
                     {k: [meta[k]] for k in META})


def train_lagrangian(cfg: LagrangianTrainConfig, workdir: str | os.PathLike, progress: bool = True) -> dict:
    """Train (or resume) in ``workdir``; returns the run's state (steps, wall time, multiplier)."""
    cfg.validate()
    _require_sb3()
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecNormalize

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path, state_path = workdir / "config.json", workdir / "state.json"
    if cfg_path.exists():
        old = {**to_dict(LagrangianTrainConfig()), **json.loads(cfg_path.read_text())}
        old["net"] = tuple(old["net"])
        if {k: v for k, v in old.items() if k != "steps"} != {k: v for k, v in to_dict(cfg).items() if k != "steps"}:
            raise ConfigError(f"{workdir} holds a run with a different config; use another --workdir")
        if old["steps"] != cfg.steps and state_path.exists():
            raise ConfigError(f"{workdir} holds a run of {old['steps']} steps: the limit schedule is spread over "
                              "the run's length, so it cannot be lengthened; use another --workdir")
    atomic_write_text(cfg_path, json.dumps(to_dict(cfg), indent=2))
    torch.set_num_threads(cfg.threads)
    multiplier = [cfg.lambda_init]
    raw, wrappers = _envs(cfg, multiplier)
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state is None:
        state = {"steps": 0, "wall_s": 0.0, "multiplier": cfg.lambda_init, "episode": 0, "checkpoint": None}
        venv = VecNormalize(raw, norm_obs=True, norm_reward=True, gamma=cfg.gamma)
        model = PPO("MlpPolicy", venv, learning_rate=cfg.learning_rate, n_steps=cfg.rollout_steps(),
                    batch_size=cfg.batch_size, n_epochs=cfg.epochs, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda,
                    clip_range=cfg.clip_range, ent_coef=cfg.ent_coef, seed=cfg.seed, device="cpu", verbose=0,
                    policy_kwargs={"net_arch": {"pi": list(cfg.net), "vf": list(cfg.net)}})
    else:
        ckpt = workdir / state["checkpoint"]
        venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), raw)
        model = PPO.load(str(ckpt / "model.zip"), env=venv, device="cpu")
        rng = torch.load(ckpt / "rng.pt", weights_only=False)
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        multiplier[0] = state["multiplier"]
        for w in wrappers:  # every env is at the start of episode state["episode"]
            w.episode = state["episode"] - 1
        model._last_obs = venv.normalize_obs(raw.reset())
        model._last_episode_starts = np.ones(cfg.n_envs, dtype=bool)
        _drop_log_after(workdir / "log.txt", state["steps"])  # lines of a chunk that did not commit

    per_rollout = cfg.n_envs * cfg.rollout_steps()
    log: list[dict] = []

    class Multiplier(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            done = [e for w in wrappers for e in w.finished]
            for w in wrappers:
                w.finished.clear()
            ret, cost = float(np.mean([e[0] for e in done])), float(np.mean([e[1] for e in done]))
            limit = cfg.limit_at(self.num_timesteps)
            multiplier[0] = max(0.0, multiplier[0] + cfg.lambda_lr * (cost - limit) / max(limit, 1.0))
            log.append({"steps": int(self.num_timesteps), "episode_return": ret, "episode_cost": cost,
                        "cost_limit": limit, "multiplier": multiplier[0]})

    total = -(-cfg.steps // per_rollout) * per_rollout
    bar = progress_bar(progress, total=total, initial=state["steps"], desc=f"train {cfg.task} (ppo-lagrangian)",
                       unit="step")
    snaps = workdir / "snapshots"
    snaps.mkdir(exist_ok=True)
    while state["steps"] < total:
        n = min(cfg.snapshot_every * per_rollout, total - state["steps"])
        t0 = time.perf_counter()
        log.clear()
        model.learn(total_timesteps=n, reset_num_timesteps=False, callback=Multiplier(), progress_bar=False)
        state["wall_s"] += time.perf_counter() - t0
        state["steps"] = int(model.num_timesteps)
        state["multiplier"] = multiplier[0]
        state["episode"] = wrappers[0].episode
        recent = {"steps": state["steps"], "cost_limit": log[-1]["cost_limit"], "multiplier": multiplier[0],
                  "episode_return": float(np.mean([e["episode_return"] for e in log])),
                  "episode_cost": float(np.mean([e["episode_cost"] for e in log]))}
        snapshot(model, venv, cfg.task, recent).save(snaps / f"agent-{state['steps']:09d}.npz")
        state["checkpoint"] = _checkpoint(model, venv, workdir, state["steps"])
        with open(workdir / "log.txt", "a") as f:  # one line per rollout, appended before the state commits
            f.writelines(json.dumps(e) + "\n" for e in log)
        previous = json.loads(state_path.read_text()).get("checkpoint") if state_path.exists() else None
        atomic_write_text(state_path, json.dumps(state, indent=2))
        if previous and previous != state["checkpoint"]:
            shutil.rmtree(workdir / previous, ignore_errors=True)
        bar.update(n)
        bar.set_postfix(ret=f"{recent['episode_return']:.1f}", cost=f"{recent['episode_cost']:.0f}",
                        lam=f"{multiplier[0]:.2f}")
    bar.close()
    venv.close()
    return state


def _drop_log_after(path: Path, steps: int) -> None:
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        atomic_write_text(path, "".join(line + "\n" for line in lines if json.loads(line)["steps"] <= steps))


def _checkpoint(model, venv, workdir: Path, steps: int) -> str:
    """Write the model, normaliser and RNG states into a new folder; state.json names it once complete."""
    import torch

    name = f"checkpoint-{steps:09d}"
    tmp = workdir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(str(tmp / "model.zip"))
    venv.save(str(tmp / "vecnormalize.pkl"))
    torch.save({"torch": torch.get_rng_state(), "numpy": np.random.get_state()}, tmp / "rng.pt")
    shutil.rmtree(workdir / name, ignore_errors=True)
    os.replace(tmp, workdir / name)
    return name


def collect_snapshots(workdir: str | os.PathLike, every: int = 1) -> NavAgents:
    """A run's snapshots in training order, every ``every``-th one counting back from the last."""
    paths = sorted(Path(workdir).glob("snapshots/agent-*.npz"))
    if not paths:
        raise ConfigError(f"{workdir} has no snapshots; train first (safemil collect train --task ...)")
    if every < 1:
        raise ConfigError(f"every must be >= 1, got {every}")
    return NavAgents.concat([NavAgents.load(p) for p in paths[::-1][::every][::-1]])


def install_agents(task: str, workdir: str | os.PathLike, dest: str | os.PathLike | None = None, every: int = 1,
                   command: str = "") -> dict:
    """Pack a run's snapshots into ``dest/<task>.npz`` (default: the shipped file) with a record
    (``<task>.json``): the training config, the command and each snapshot's training facts."""
    name = get_task(task).name
    wd = Path(workdir)
    cfg = json.loads((wd / "config.json").read_text()) if (wd / "config.json").exists() else None
    if cfg is None or cfg.get("task") != name:
        raise ConfigError(f"{wd} is not a {name} training run (no config.json for that task)")
    agents = collect_snapshots(wd, every)
    out = Path(dest) if dest is not None else shipped_agents_path(name).parent
    out.mkdir(parents=True, exist_ok=True)
    if not (wd / "state.json").exists():
        raise ConfigError(f"{wd} has no finished training chunk (no state.json); rerun the training command")
    state = json.loads((wd / "state.json").read_text())
    record = {"task": name, "trainer": "PPO-Lagrangian (stable-baselines3 PPO, safemil.collect.lagrangian)",
              "command": command, "config": cfg, "steps": state["steps"], "wall_s": round(state["wall_s"], 1),
              "snapshots": [{k: round(float(agents.meta[k][i]), 4) for k in META} for i in range(len(agents))]}
    agents.save(out / f"{name}.npz")
    atomic_write_text(out / f"{name}.json", json.dumps(record, indent=1))
    return record
