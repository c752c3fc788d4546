"""Train a speed-conditioned behaviour policy with stable-baselines3 (optional extra `collect`).

Training runs in chunks; after each chunk the model (and SAC's replay buffer)
is checkpointed atomically with the cumulative step count and wall time, so a
stopped run continues where it left off. At the end the actor is exported to a
plain weight file and a tracking record is written beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safemil.collect.actor import (
    BlendedActor,
    SpeedActor,
    SwitchedActor,
    ThrottledActor,
    load_behaviour_policy,
    shipped_policy_path,
)
from safemil.collect.ars import LinearARS
from safemil.collect.command import CommandRange
from safemil.collect.speed_env import REWARDS, SpeedCommandEnv
from safemil.collect.tracking import format_table, tracking_table
from safemil.config import to_dict
from safemil.console import progress_bar
from safemil.errors import ConfigError, SafemilError
from safemil.tasks import get_task

ALGOS = ("ppo", "sac", "ars", "ars-linear")


@dataclass
class CollectTrainConfig:
    """Everything that defines one behaviour-policy training run."""

    task: str = "SwimmerVelocity"
    algo: str = "ppo"  # "ppo", "sac", "ars" (sb3-contrib) or "ars-linear" (ours: raw observations, `collect.ars`)
    steps: int = 1_000_000
    seed: int = 0
    net: tuple[int, ...] = (64, 64)
    gamma: float = 0.99
    learning_rate: float = 3e-4
    n_envs: int = 8  # parallel training envs (PPO wants several)
    batch_size: int = 256
    learning_starts: int = 5_000  # SAC only
    train_freq: int = 1  # SAC only
    gradient_steps: int = 1  # SAC only
    ppo_n_steps: int = 256  # PPO rollout length per env
    ars_n_delta: int = 8  # ARS: random directions per update
    ars_delta_std: float = 0.05  # ARS: exploration noise on the weights
    ars_n_top: int = 0  # ARS: best directions kept per update (0: all of them)
    command_low: float = 0.3
    command_high: float = 1.6
    command_mean_hold: float = 300.0
    ctrl_weight: float = 0.05
    velocity_ema: float = 1.0  # 1 = track the instantaneous speed; smaller = a moving average
    command_schedule: tuple[float, ...] = ()  # fixed per-episode command sequence (ARS); () = random
    reward: str = "tracking"  # "tracking" the command, the task's own reward ("task"), "penalized" or "hinge"
    cost_weight: float = 0.0  # "penalized": task reward - cost_weight x (1 per step over the threshold);
    # "hinge": task reward - cost_weight x max(0, v - command x threshold) / threshold
    init_actor: str = ""  # ars-linear: start from this linear actor file (e.g. a fast gait) instead of zeros
    chunk: int = 50_000  # steps between checkpoints
    threads: int = 1

    def validate(self) -> None:
        get_task(self.task)
        if self.algo not in ALGOS:
            raise ConfigError(f"algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.algo == "ars-linear" and self.net:
            raise ConfigError(f"algo 'ars-linear' trains a linear policy: set net=[] (got {list(self.net)})")
        if self.steps < 1 or self.chunk < 1:
            raise ConfigError("steps and chunk must be >= 1")
        if self.reward not in REWARDS:
            raise ConfigError(f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if not 0 <= self.ars_n_top <= self.ars_n_delta:
            raise ConfigError(f"need 0 <= ars_n_top <= ars_n_delta, got {self.ars_n_top}, {self.ars_n_delta}")
        if self.cost_weight < 0:
            raise ConfigError(f"cost_weight must be >= 0, got {self.cost_weight}")
        if self.cost_weight and self.reward not in ("penalized", "hinge"):
            raise ConfigError(f"cost_weight only applies to reward=penalized or hinge (reward is {self.reward!r})")
        if self.init_actor and self.algo != "ars-linear":
            raise ConfigError(f"init_actor only applies to algo=ars-linear (algo is {self.algo!r})")
        if not 0 < self.command_low < self.command_high:
            raise ConfigError(f"need 0 < command_low < command_high, got {self.command_low}, {self.command_high}")


# Per-task training settings used for the shipped policies (Swimmer needs a long horizon).
TASK_TRAIN_DEFAULTS: dict[str, dict] = {
    # Swimmer: PPO (1M steps) never left the spot; sb3-contrib's ARS learned a fast gait but, on a
    # cost-penalized reward, only a near-still one. This run (ARS on raw observations, the task
    # reward) learns the fast gait; the shipped actor's slower, smoother gaits are `reward=hinge`
    # runs started from it (`init_actor`; see policies/SwimmerVelocity.md for every command).
    # gamma, velocity_ema, ctrl_weight and n_envs do not act on this run (kept from earlier runs).
    "SwimmerVelocity": {
        "algo": "ars-linear", "steps": 640_000, "gamma": 0.9999, "velocity_ema": 0.01, "ctrl_weight": 0.01,
        "net": (), "n_envs": 1, "reward": "task", "learning_rate": 0.1, "ars_n_delta": 8, "ars_n_top": 4,
        "ars_delta_std": 0.1, "command_schedule": (1.0,), "chunk": 160_000,
    },
    "HopperVelocity": {"steps": 1_000_000},
    # HalfCheetah: PPO (1.2M steps) ran at ~1.5 m/s whatever the command and SAC (128x128,
    # 80k steps) had not started to move; ARS with a linear policy and a fixed command schedule
    # tracks the command (the shipped actor also maps commands 0.3-1.6 onto inputs 0.3-1.3).
    "HalfCheetahVelocity": {
        "algo": "ars", "steps": 2_520_000, "velocity_ema": 0.05, "ctrl_weight": 0.02, "net": (),
        "n_envs": 1, "learning_rate": 0.02, "ars_n_delta": 4, "ars_delta_std": 0.02,
        "command_schedule": (0.3, 1.6, 0.8, 1.2), "chunk": 24_000,
    },
    "Walker2dVelocity": {"steps": 1_200_000},
    # Ant: PPO (1.2M steps) and SAC (150k steps) on the tracking reward barely moved, whatever
    # the command; ARS (0.8M) did not walk. SAC on Ant's own reward learns to run; the shipped
    # actor is that run's 350k-step gait throttled by the command (`safemil collect throttle`).
    "AntVelocity": {"algo": "sac", "steps": 450_000, "net": (128, 128), "n_envs": 1, "reward": "task",
                    "chunk": 25_000},
}


def default_train_config(task: str, **overrides) -> CollectTrainConfig:
    """The training config used for ``task``'s shipped policy, with ``overrides`` applied."""
    name = get_task(task).name
    kw = {"task": name, **TASK_TRAIN_DEFAULTS.get(name, {})}
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return CollectTrainConfig(**kw)


def _algo_class(algo: str):
    from stable_baselines3 import PPO, SAC

    if algo == "ars":
        from sb3_contrib import ARS

        return ARS
    return SAC if algo == "sac" else PPO


def _require_sb3(algo: str = "ppo"):
    try:
        import stable_baselines3  # noqa: F401

        if algo == "ars":
            import sb3_contrib  # noqa: F401
    except ImportError:
        raise SafemilError(
            "retraining behaviour policies needs stable-baselines3: pip install 'safemil[collect]'"
        ) from None


def _speed_env(cfg: CollectTrainConfig) -> SpeedCommandEnv:
    """One training env with the run's commands and reward."""
    cr = CommandRange(cfg.command_low, cfg.command_high, cfg.command_mean_hold)
    return SpeedCommandEnv(cfg.task, cr, cfg.ctrl_weight, cfg.velocity_ema, cfg.command_schedule, cfg.reward,
                           cfg.cost_weight)


def _make_vec(cfg: CollectTrainConfig):
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def factory(i: int):
        def f():
            env = Monitor(_speed_env(cfg))
            env.reset(seed=cfg.seed * 1000 + i)
            return env
        return f

    return DummyVecEnv([factory(i) for i in range(cfg.n_envs)])


def _new_model(cfg: CollectTrainConfig, venv):
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.vec_env import VecNormalize

    if cfg.algo == "sac":
        return SAC(
            "MlpPolicy", venv, learning_rate=cfg.learning_rate, buffer_size=max(cfg.steps, 1000),
            learning_starts=cfg.learning_starts, batch_size=cfg.batch_size, gamma=cfg.gamma,
            train_freq=cfg.train_freq, gradient_steps=cfg.gradient_steps,
            policy_kwargs={"net_arch": list(cfg.net)}, seed=cfg.seed, device="cpu", verbose=0,
        ), venv
    if cfg.algo == "ars":
        from sb3_contrib import ARS

        venv = VecNormalize(venv, norm_obs=True, norm_reward=False, gamma=cfg.gamma)
        return ARS(
            "MlpPolicy", venv, n_delta=cfg.ars_n_delta, n_top=cfg.ars_n_top or None, delta_std=cfg.ars_delta_std,
            learning_rate=cfg.learning_rate, policy_kwargs={"net_arch": list(cfg.net)},
            seed=cfg.seed, device="cpu", verbose=0,
        ), venv
    venv = VecNormalize(venv, norm_obs=True, norm_reward=True, gamma=cfg.gamma)
    return PPO(
        "MlpPolicy", venv, learning_rate=cfg.learning_rate, n_steps=cfg.ppo_n_steps,
        batch_size=cfg.batch_size, gamma=cfg.gamma, seed=cfg.seed, device="cpu", verbose=0,
        policy_kwargs={"net_arch": {"pi": list(cfg.net), "vf": list(cfg.net)}},
    ), venv


def export_actor(model, venv, task: str) -> SpeedActor:
    """Copy the deterministic actor out of an SB3 SAC/PPO model into a `SpeedActor`."""
    import torch
    from stable_baselines3 import SAC

    spec = get_task(task)
    env_space = get_task(task).make_env().action_space
    low, high = env_space.low.astype(np.float32), env_space.high.astype(np.float32)
    layers = []
    if isinstance(model, SAC):
        mods = list(model.actor.latent_pi) + [model.actor.mu]
        activation, squash = "relu", "tanh"
        mean = np.zeros(spec.obs_dim + 1, np.float32)
        std = np.ones(spec.obs_dim + 1, np.float32)
        clip = 1e9
    else:
        if hasattr(model.policy, "mlp_extractor"):  # PPO
            mods = list(model.policy.mlp_extractor.policy_net) + [model.policy.action_net]
            activation, squash = "tanh", "clip"
        else:  # ARS MLP: ReLU layers, tanh-squashed output
            mods = list(model.policy.action_net)
            activation, squash = "relu", "tanh" if model.policy.squash_output else "clip"
        rms = venv.obs_rms
        mean = rms.mean.astype(np.float32)
        std = np.sqrt(rms.var + venv.epsilon).astype(np.float32)
        clip = float(venv.clip_obs)
    for m in mods:
        if isinstance(m, torch.nn.Linear):
            layers.append((m.weight.detach().cpu().numpy().T.copy(), m.bias.detach().cpu().numpy().copy()))
    return SpeedActor(layers, activation, squash, mean, std, clip, low, high, spec.name)


def train_behaviour(cfg: CollectTrainConfig, workdir: str | os.PathLike, progress: bool = True) -> dict:
    """Train (or resume) in ``workdir``; returns the state dict (steps, wall time)."""
    cfg.validate()
    spec = get_task(cfg.task)
    # read before anything is written, so a bad file leaves no workdir that blocks the corrected retry
    init = _linear_weights(cfg.init_actor, spec.name, (spec.act_dim, spec.obs_dim + 1)) if cfg.init_actor else None
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    state_path = workdir / "state.json"
    cfg_path = workdir / "config.json"
    if cfg_path.exists():
        # keys added to the config after a run started take their defaults
        old = {**to_dict(CollectTrainConfig()), **json.loads(cfg_path.read_text())}
        old["net"] = tuple(old["net"])
        old["command_schedule"] = tuple(old["command_schedule"])
        if {k: v for k, v in old.items() if k != "steps"} != {k: v for k, v in to_dict(cfg).items() if k != "steps"}:
            raise ConfigError(f"{workdir} holds a run with a different config; use another --workdir")
    cfg_path.write_text(json.dumps(to_dict(cfg), indent=2))
    state = json.loads(state_path.read_text()) if state_path.exists() else {"steps": 0, "wall_s": 0.0}
    if cfg.algo == "ars-linear":
        return _train_linear_ars(cfg, workdir, state, progress, init)
    _require_sb3(cfg.algo)
    import torch
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(cfg.threads)
    venv = _make_vec(cfg)
    ckpt = workdir / "model.zip"
    if ckpt.exists():
        cls = _algo_class(cfg.algo)
        if cfg.algo != "sac":
            venv = VecNormalize.load(str(workdir / "vecnormalize.pkl"), venv)
        model = cls.load(str(ckpt), env=venv, device="cpu")
        if cfg.algo == "sac" and (workdir / "replay.pkl").exists():
            model.load_replay_buffer(str(workdir / "replay.pkl"))
    else:
        model, venv = _new_model(cfg, venv)
    bar = progress_bar(progress, total=cfg.steps, initial=state["steps"], desc=f"train {cfg.task} ({cfg.algo})",
                       unit="step")
    while state["steps"] < cfg.steps:
        n = min(cfg.chunk, cfg.steps - state["steps"])
        t0 = time.perf_counter()
        model.learn(total_timesteps=n, reset_num_timesteps=False, progress_bar=False)
        state["wall_s"] += time.perf_counter() - t0
        state["steps"] = int(model.num_timesteps)
        ep = [e["r"] for e in model.ep_info_buffer] if model.ep_info_buffer else []
        state["recent_episode_reward"] = float(np.mean(ep)) if ep else None
        _save_checkpoint(model, venv, workdir, cfg.algo)
        # a snapshot of the actor per chunk: policies of different skill (and speed) for switching
        snaps = workdir / "snapshots"
        snaps.mkdir(exist_ok=True)
        export_actor(model, venv, cfg.task).save(snaps / f"actor-{state['steps']:08d}.npz")
        _atomic_write(state_path, json.dumps(state, indent=2))
        with open(workdir / "log.txt", "a") as f:
            f.write(json.dumps(state) + "\n")
        bar.update(n)
        bar.set_postfix(rew=state["recent_episode_reward"])
    bar.close()
    actor = export_actor(model, venv, cfg.task)
    actor.save(workdir / "actor.npz")
    venv.close()
    return state


def _train_linear_ars(cfg: CollectTrainConfig, workdir: Path, state: dict, progress: bool,
                      init: np.ndarray | None) -> dict:
    """`train_behaviour` for ``algo="ars-linear"``: numpy ARS, checkpointed after every ``chunk`` env steps."""
    envs = [_speed_env(cfg) for _ in range(2 * cfg.ars_n_delta)]
    search = LinearARS(envs, cfg.ars_n_delta, cfg.ars_n_top, cfg.ars_delta_std, cfg.learning_rate, cfg.seed)
    ckpt, state_path = workdir / "ars.npz", workdir / "state.json"
    if ckpt.exists():  # weights and search state in one file: one atomic replace saves both
        with np.load(ckpt, allow_pickle=False) as z:
            search.load_state(z["theta"], json.loads(str(z["search"])))
        state["steps"] = search.env_steps  # state.json is written after the checkpoint and may lag it
    elif init is not None:
        search.theta = init
    bar = progress_bar(progress, total=cfg.steps, initial=state["steps"], desc=f"train {cfg.task} (ars-linear)",
                       unit="step")
    snaps = workdir / "snapshots"
    snaps.mkdir(exist_ok=True)
    while state["steps"] < cfg.steps:
        target = min(cfg.steps, state["steps"] + cfg.chunk)
        t0 = time.perf_counter()
        recent = []
        while search.env_steps < target:
            recent.append(search.update())
        state["wall_s"] += time.perf_counter() - t0
        bar.update(search.env_steps - state["steps"])
        state["steps"] = search.env_steps
        state["recent_episode_reward"] = float(np.mean(recent))
        tmp = workdir / ".ars.tmp.npz"
        np.savez(tmp, theta=search.theta, search=np.array(json.dumps(search.state())))
        os.replace(tmp, ckpt)
        _atomic_write(state_path, json.dumps(state, indent=2))
        search.actor(cfg.task).save(snaps / f"actor-{state['steps']:08d}.npz")
        with open(workdir / "log.txt", "a") as f:
            f.write(json.dumps(state) + "\n")
        bar.set_postfix(rew=state["recent_episode_reward"])
    bar.close()
    search.actor(cfg.task).save(workdir / "actor.npz")
    for e in envs:
        e.close()
    return state


def _linear_weights(path: str, task: str, shape: tuple[int, int]) -> np.ndarray:
    """The (act, obs + 1) weights of a linear actor file with no normalisation (one ``ars-linear`` exports)."""
    actor = SpeedActor.load(path)
    plain = (isinstance(actor, SpeedActor) and len(actor.weights) == 1 and not actor.weights[0][1].any()
             and not actor.obs_mean.any() and (actor.obs_std == 1).all() and actor.task == task)
    if not plain or actor.weights[0][0].T.shape != shape:
        raise ConfigError(f"init_actor {path}: not a linear {task} actor exported by algo=ars-linear")
    return actor.weights[0][0].T.astype(np.float64)


def _train_command(cfg: dict, steps: int, workdir: Path) -> str:
    """The `safemil collect train` line that reproduces a run's config (non-default keys only)."""
    defaults = to_dict(default_train_config(cfg["task"]))
    sets = []
    for k, v in cfg.items():
        d = defaults.get(k)
        same = (list(v) == list(d)) if isinstance(v, (list, tuple)) and isinstance(d, (list, tuple)) else v == d
        if k not in ("task", "steps", "seed") and not same:
            sets.append(f"--set '{k}={json.dumps(v)}'")
    return " ".join([f"safemil collect train --task {cfg['task']} --steps {steps} --seed {cfg['seed']}",
                     f"--workdir {workdir}", *sets])


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _save_checkpoint(model, venv, workdir: Path, algo: str) -> None:
    tmp = workdir / ".ckpt-tmp"
    tmp.mkdir(exist_ok=True)
    model.save(str(tmp / "model.zip"))
    if algo == "sac":
        model.save_replay_buffer(str(tmp / "replay.pkl"))
    else:
        venv.save(str(tmp / "vecnormalize.pkl"))
    for f in tmp.iterdir():
        os.replace(f, workdir / f.name)
    shutil.rmtree(tmp, ignore_errors=True)


_ALGO_LABELS = {"ppo": "PPO (stable-baselines3)", "sac": "SAC (stable-baselines3)", "ars": "ARS (sb3-contrib)",
                "ars-linear": "ARS, linear on raw observations (safemil.collect.ars)"}


def _load_trained(wd: Path, snapshot: int | None) -> tuple[SpeedActor, dict]:
    """A workdir's final actor and state, or the actor snapshot taken at ``snapshot`` steps."""
    if snapshot is None:
        return SpeedActor.load(wd / "actor.npz"), json.loads((wd / "state.json").read_text())
    path = wd / "snapshots" / f"actor-{snapshot:08d}.npz"
    if not path.exists():
        have = sorted(p.stem.split("-")[1] for p in (wd / "snapshots").glob("actor-*.npz"))
        raise ConfigError(f"no snapshot at {snapshot} steps in {wd}; have: {', '.join(have) or 'none'}")
    log = [json.loads(line) for line in (wd / "log.txt").read_text().splitlines() if line.strip()]
    state = next((e for e in log if e["steps"] == snapshot), None)
    if state is None:
        raise ConfigError(f"{wd}/log.txt has no entry for step {snapshot}")
    return SpeedActor.load(path), state


def install_policy(task: str, workdir: str | os.PathLike | list, dest: str | os.PathLike | None = None,
                   command: str = "", episodes: int = 2,
                   command_map: tuple[float, float] | list | None = None,
                   bounds: list[float] | None = None, snapshots: list[int | None] | None = None,
                   anchors: list[float] | None = None) -> dict:
    """Copy a trained actor to ``dest`` (default: the shipped-policy folder) with its record.

    The record (``<task>.json`` and ``<task>.md``) holds the algorithm, steps,
    wall time, the config and the commanded-vs-achieved speed table.
    ``command_map=(offset, scale)`` makes the network see ``offset + scale * command``
    (a calibration chosen from a measured tracking table; recorded). Several
    workdirs with ``bounds`` build a `SwitchedActor`: part ``k`` serves the
    commands between ``bounds[k-1]`` and ``bounds[k]`` (one command map per part);
    with ``anchors`` instead (one per workdir) a `BlendedActor`: part ``k`` at
    command ``anchors[k]``, outputs interpolated between.
    """
    spec = get_task(task)
    workdirs = [Path(w) for w in (workdir if isinstance(workdir, list) else [workdir])]
    bounds, anchors = list(bounds or []), list(anchors or [])
    if bounds and anchors:
        raise ConfigError("give switch bounds or blend anchors, not both")
    if anchors and (len(anchors) != len(workdirs) or len(workdirs) < 2):
        raise ConfigError(f"a blended actor needs two or more workdirs and one anchor each; "
                          f"got {len(workdirs)} workdirs, {len(anchors)} anchors")
    if anchors and np.any(np.diff(anchors) <= 0):
        raise ConfigError(f"blend anchors must strictly increase, got {anchors}")
    if not anchors and len(workdirs) != len(bounds) + 1:
        raise ConfigError(f"{len(workdirs)} workdirs need {len(workdirs) - 1} switch bounds, got {len(bounds)}")
    maps = command_map if isinstance(command_map, list) else [command_map] * len(workdirs)
    if len(maps) != len(workdirs):
        raise ConfigError("give one command map per workdir")
    snaps = list(snapshots) if snapshots else [None] * len(workdirs)
    if len(snaps) != len(workdirs):
        raise ConfigError("give one snapshot (or None for the final actor) per workdir")
    parts, infos = [], []
    for wd, cmap, snap in zip(workdirs, maps, snaps, strict=True):
        actor, state = _load_trained(wd, snap)
        if cmap is not None:
            actor.command_offset, actor.command_scale = map(float, cmap)
        cfg = json.loads((wd / "config.json").read_text())
        parts.append(actor)
        infos.append({
            "algorithm": _ALGO_LABELS[cfg["algo"]],
            "steps": state["steps"], "wall_time_s": round(state["wall_s"], 1), "threads": cfg["threads"],
            "config": cfg, "command_map": {"offset": actor.command_offset, "scale": actor.command_scale},
            "train_command": _train_command(cfg, state["steps"], wd), "workdir": str(wd),
        })
    if anchors:
        final = BlendedActor(anchors, parts)
    else:
        final = parts[0] if len(parts) == 1 else SwitchedActor(bounds, parts)
    header = []
    if bounds:
        header = [f"A switched actor: part k serves commands between bounds {bounds} (x threshold)."]
    if anchors:
        header = [f"A blended actor: part k acts at command anchors {anchors} (x threshold); between two anchors "
                  "the parts' outputs are interpolated linearly, so speed varies with the command continuously."]
    return _write_policy(spec.name, final, infos, dest, command, episodes, header,
                         {"switch_bounds": bounds, "blend_anchors": anchors})


def throttle_policy(task: str, part: int, anchors: list[float], scales: list[float],
                    source: str | os.PathLike | None = None, dest: str | os.PathLike | None = None,
                    command: str = "", episodes: int = 2,
                    command_map: tuple[float, float] | None = None) -> dict:
    """Install part ``part`` of an installed policy as a `ThrottledActor`, its provenance carried over.

    ``source`` (default: the task's shipped policy) must have its record (``<task>.json``)
    beside it: the part's training run is read from there. ``command_map=(offset, scale)``
    fixes what the gait's own network sees (e.g. ``(1.6, 0)``: always the command it ran
    fastest at), so the throttle alone sets the speed.
    """
    spec = get_task(task)
    src = Path(source) if source is not None else shipped_policy_path(spec.name)
    base = load_behaviour_policy(spec.name, src)
    bases = getattr(base, "actors", [base])
    if not 0 <= part < len(bases):
        raise ConfigError(f"--part {part}: {src.name} has parts 0-{len(bases) - 1}")
    rec_path = src.with_suffix(".json")
    if not rec_path.exists():
        raise ConfigError(f"{src}: no record {rec_path.name} beside it to carry the part's training run over")
    src_record = json.loads(rec_path.read_text())
    src_parts = src_record.get("parts")
    if not isinstance(src_parts, list) or len(src_parts) != len(bases):
        raise ConfigError(f"{rec_path}: its 'parts' do not match the {len(bases)} part(s) of the weight file")
    gait = bases[part]
    if command_map is not None:
        gait.command_offset, gait.command_scale = map(float, command_map)
    final = ThrottledActor(list(anchors), list(scales), gait)
    info = {**src_parts[part], "command_map": {"offset": gait.command_offset, "scale": gait.command_scale}}
    header = [f"A throttled actor: part {part} of the policy recorded in `{src_record.get('command', '')}`, its "
              f"actions scaled toward the action box's centre by s(command), interpolated between "
              f"(command, s) = {list(zip(anchors, scales, strict=True))}: weaker torques slow the same gait "
              "continuously."]
    return _write_policy(spec.name, final, [info], dest, command, episodes, header,
                         {"throttle_anchors": list(anchors), "throttle_scales": list(scales)})


def _run_of(info: dict) -> str:
    """The training run a part came from: its workdir, or its train command in records written before parts named one."""
    return str(info.get("workdir") or info.get("train_command", ""))


def _write_policy(task: str, final: SpeedActor | SwitchedActor | BlendedActor | ThrottledActor, infos: list[dict],
                  dest: str | os.PathLike | None, command: str, episodes: int, header: list[str],
                  layout: dict) -> dict:
    """Measure ``final``'s tracking table and write its weight file and record (JSON and markdown)."""
    spec = get_task(task)
    dest = Path(dest) if dest is not None else shipped_policy_path(spec.name).parent
    dest.mkdir(parents=True, exist_ok=True)
    rows = tracking_table(final, spec.name, episodes=episodes)
    # snapshots of one run are one training cost: count each run's longest part once
    runs = {_run_of(i) for i in infos}
    record = {
        "task": spec.name,
        "algorithm": " + ".join(i["algorithm"] for i in infos),
        "steps": sum(max(i["steps"] for i in infos if _run_of(i) == r) for r in runs),
        "wall_time_s": round(sum(max(i["wall_time_s"] for i in infos if _run_of(i) == r) for r in runs), 1),
        "command": command,
        "cost_threshold": spec.cost_threshold,
        **layout,
        "parts": infos,
        "tracking": rows,
    }
    final.save(dest / f"{spec.name}.npz")
    _atomic_write(dest / f"{spec.name}.json", json.dumps(record, indent=2))
    md = [f"# Behaviour policy: {spec.name}", ""]
    if header:
        md += [*header, ""]
    for k, i in enumerate(infos):
        c = i["config"]
        label = f"part {k}: " if len(infos) > 1 else ""
        md += [
            f"- {label}{i['algorithm']}, {i['steps']} env steps, {i['wall_time_s'] / 60:.1f} min wall time "
            f"on {i['threads']} CPU thread(s); MLP {tuple(c['net'])}, gamma {c['gamma']}, "
            f"reward {c.get('reward', 'tracking')}, speed EMA {c.get('velocity_ema', 1.0)}, "
            f"command schedule {c.get('command_schedule') or 'random'}; "
            f"network sees {i['command_map']['offset']:g} + {i['command_map']['scale']:g} x command",
            f"  - trained with: `{i['train_command']}`",
        ]
    md += [
        f"- cost threshold {spec.cost_threshold} m/s",
        f"- made with: `{command}`",
        "",
        f"Commanded vs achieved speed ({episodes} episodes per command, constant command, "
        "speed averaged after step 100; cost = steps above the threshold per episode):",
        "",
        format_table(rows),
        "",
    ]
    _atomic_write(dest / f"{spec.name}.md", "\n".join(md))
    return record
