"""The training runner: one code path for every registered algorithm.

``train`` resolves the dataset, builds the split, writes the resolved config,
steps the algorithm with a progress bar, logs metrics (JSON lines and
TensorBoard), checkpoints atomically every ``train.checkpoint_every`` steps
(model, optimiser and every RNG state), then scores the learned cost against
the hidden labels (evaluator side), evaluates the final policy online and
writes ``eval.json``. ``resume`` continues a killed run from its last
checkpoint; because checkpoints fall on log boundaries and carry all RNG
states, a resumed run ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from safemil.algos import AlgoSpec, LearnerData, OracleData, get_algo
from safemil.algos.offline import offline_data
from safemil.collect import find_dataset
from safemil.config import apply_overrides, from_dict, to_dict
from safemil.console import progress_bar
from safemil.data import SplitConfig, make_split, read_dsrl
from safemil.data.fingerprint import check_dataset_version, dataset_sha256
from safemil.data.safe_only import DataConfig, OfflineSelection, select_offline
from safemil.data.splits import Split
from safemil.diagnostics import clone_diagnostics, cost_diagnostics
from safemil.errors import ConfigError, SafemilError
from safemil.eval import evaluate
from safemil.policies import TorchPolicy, actor_from_state
from safemil.presets import get_preset
from safemil.proco.shield import shielded_from_state
from safemil.runs import NewRun, RunDir
from safemil.tasks import get_task

RUN_SECTIONS = ("split", "data", "train", "eval")


@dataclass
class TrainSettings:
    log_every: int = 100  # steps averaged into one metrics.jsonl / TensorBoard row
    checkpoint_every: int = 1000  # a multiple of log_every
    threads: int = 1  # torch intra-op threads (the machine is shared)
    progress: bool = True  # a progress bar, when stderr is a terminal

    def __post_init__(self):
        if self.threads < 1:
            raise ConfigError(f"train.threads must be >= 1, got {self.threads}")
        if self.log_every < 1 or self.checkpoint_every < 1:
            raise ConfigError("train.log_every and train.checkpoint_every must be >= 1")
        if self.checkpoint_every % self.log_every:
            raise ConfigError(
                f"train.checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"train.log_every ({self.log_every})"
            )


@dataclass
class EvalSettings:
    episodes: int = 20  # online evaluation episodes of the final policy
    num_envs: int = 8  # envs stepped in lock-step (the batch of one policy call; can change the last digits)
    deterministic: bool = True  # true: the policy's noise-free action; false: actions sampled from it
    seed_offset: int = 100_000  # evaluation env seeds = seed_offset + 1000 * run seed + episode

    def __post_init__(self):
        if self.episodes < 1 or self.num_envs < 1:
            raise ConfigError("eval.episodes and eval.num_envs must be >= 1")
        if self.seed_offset < 0:
            raise ConfigError(f"eval.seed_offset must be >= 0, got {self.seed_offset}")


@dataclass
class RunConfig:
    algo: str
    task: str
    dataset: str
    dataset_sha256: str = ""  # content hash of the dataset file ("" in runs made before it was recorded)
    seed: int = 0
    preset: str = ""  # the named preset applied before the overrides ("" in runs made before presets)
    split: SplitConfig = field(default_factory=SplitConfig)
    data: DataConfig = field(default_factory=DataConfig)  # split (D_N/D_U) or an offline safe-only view
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    config: dict = field(default_factory=dict)  # the algorithm's own config dataclass, as a dict

    def __post_init__(self):
        for name, seed in (("seed", self.seed), ("split.seed", self.split.seed)):
            if isinstance(seed, int) and seed < 0:  # numpy and gymnasium take only seeds >= 0
                raise ConfigError(f"{name} must be >= 0, got {seed}")


def split_overrides(items: list[str]) -> tuple[list[str], list[str]]:
    """(run overrides: ``split.*``, ``data.*``, ``train.*``, ``eval.*``; the algorithm's), in order."""
    run_ov, algo_ov = [], []
    for item in items:
        (run_ov if item.split("=", 1)[0].strip().split(".")[0] in RUN_SECTIONS else algo_ov).append(item)
    return run_ov, algo_ov


def make_run_config(algo: str, task: str, dataset: str | None = None, seed: int = 0,
                    overrides: list[str] | None = None, preset: str = "none") -> RunConfig:
    """Resolve names and defaults: the ``preset``'s overrides (`safemil.presets`), then ``overrides``;
    ``split.*``/``data.*``/``train.*``/``eval.*`` ones go to the run, the rest to the algorithm."""
    spec = get_algo(algo)
    task_spec = get_task(task)
    task_name = task_spec.name
    chosen = get_preset(preset)
    path = find_dataset(dataset if dataset is not None else task_name)
    run_ov, algo_ov = split_overrides([*chosen.overrides(spec.name, task_spec.kind, task_name), *(overrides or [])])
    algo_cfg = apply_overrides(spec.config_cls(), algo_ov)
    cfg = RunConfig(algo=spec.name, task=task_name, dataset=str(Path(path).resolve()),
                    dataset_sha256=dataset_sha256(path), seed=seed, preset=chosen.name,
                    split=SplitConfig(seed=seed), config=plain_lists(to_dict(algo_cfg)),
                    data=DataConfig(mode="safe-only" if spec.data == "offline" else "split"))
    return apply_overrides(cfg, run_ov)


def plain_lists(x: Any) -> Any:
    """Tuples as lists, so the config dict equals its own YAML round trip."""
    if isinstance(x, dict):
        return {k: plain_lists(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain_lists(v) for v in x]
    return x


def algo_config(cfg: RunConfig) -> Any:
    return from_dict(get_algo(cfg.algo).config_cls, dict(cfg.config))


def build_data(spec: AlgoSpec, split: Split | OfflineSelection, task: str) -> LearnerData:
    """The structural label gate: only oracle algorithms get an `OracleData` with labels."""
    task_spec = get_task(task)
    env = task_spec.make_env()
    low, high = env.action_space.low.copy(), env.action_space.high.copy()
    env.close()
    if isinstance(split, OfflineSelection):
        return offline_data(spec, split, task, low, high, task_spec.lidar_layout)
    common = dict(task=task, negative=split.negative, unlabeled=split.unlabeled,
                  act_low=low, act_high=high, cost_limit=split.config.cost_limit, lidar=task_spec.lidar_layout)
    if spec.oracle:
        return OracleData(**common, labelled_unlabeled=split.labelled("unlabeled"))
    return LearnerData(**common)


def train(cfg: RunConfig, out: str | Path, *, stop_at: int | None = None) -> dict | None:
    """Start a fresh run in ``out``. ``stop_at`` ends the process-level work abruptly at that step
    (no checkpoint, no eval), exactly as a kill would: used to test resumption."""
    out = Path(out)
    if (out / RunDir.CHECKPOINT).exists() or (out / RunDir.CONFIG).exists():
        raise SafemilError(f"{out} already holds a run; resume it with `safemil train --resume {out}` "
                           "or choose another --out")
    algo_config(cfg)  # validate config, data and split before writing anything
    split = _load_split(cfg, out)
    with NewRun(out) as new:  # a failure before the first step takes back what this call wrote
        new.run_dir.write_config(to_dict(cfg))
        return _execute(new.run_dir, cfg, stop_at=stop_at, split=split, on_first_step=new.started)


def load_run_config(run_dir: str | Path) -> tuple[RunDir, RunConfig]:
    rd = RunDir(run_dir, create=False)
    return rd, from_dict(RunConfig, rd.read_config(), where=f"{rd.path / RunDir.CONFIG}")


def resume(run_dir: str | Path, *, stop_at: int | None = None) -> dict | None:
    """Continue a run from its last checkpoint (or from scratch if it died before the first one)."""
    rd, cfg = load_run_config(run_dir)
    return _execute(rd, cfg, stop_at=stop_at)


def _load_split(cfg: RunConfig, run_dir: Path | None = None) -> Split | OfflineSelection:
    if cfg.dataset_sha256:  # a run must not continue on a dataset file that was replaced under it
        check_dataset_version(cfg.dataset, cfg.dataset_sha256, f"run {run_dir}" if run_dir else "this config")
    ds = read_dsrl(cfg.dataset, task=cfg.task)
    if cfg.data.mode != "split":
        return select_offline(ds, cfg.data, cfg.split.cost_limit)
    return make_split(ds, cfg.split)


def _execute(rd: RunDir, cfg: RunConfig, stop_at: int | None = None, split: Split | None = None,
             on_first_step: Callable[[], None] | None = None) -> dict | None:
    torch.set_num_threads(cfg.train.threads)
    t0 = time.perf_counter()
    rd.record_environment()
    spec = get_algo(cfg.algo)
    acfg = algo_config(cfg)
    split = split if split is not None else _load_split(cfg, rd.path)
    data = build_data(spec, split, cfg.task)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    algo = spec.factory(acfg, data, cfg.seed)
    ckpt = rd.load_checkpoint()
    start, wall_before = 0, 0.0
    if ckpt is not None:
        algo.load_state_dict(ckpt["algo"])
        torch.set_rng_state(ckpt["torch_rng"])
        start, wall_before = int(ckpt["step"]), float(ckpt.get("train_wall_s", 0.0))
    rd.truncate_metrics(start)
    total = algo.total_steps
    acc: dict[str, list[float]] = {}
    bar = progress_bar(cfg.train.progress, total=total, initial=start, desc=f"{cfg.algo} {cfg.task} s{cfg.seed}",
                       unit="step", dynamic_ncols=True)
    t_loop = time.perf_counter()
    try:
        for step in range(start, total):
            if stop_at is not None and step >= stop_at:
                return None
            for k, v in algo.train_step(step).items():
                acc.setdefault(k, []).append(float(v))
            if on_first_step is not None:
                on_first_step()
                on_first_step = None
            done = step + 1
            bar.update(1)
            if done % cfg.train.log_every == 0 or done == total:
                row = {k: float(np.mean(v)) for k, v in acc.items()}
                rd.log(done, row)
                bar.set_postfix({k: f"{v:.3g}" for k, v in list(row.items())[:3]})
                acc = {}
            if done % cfg.train.checkpoint_every == 0 or done == total:
                rd.save_checkpoint({
                    "step": done, "algo": algo.state_dict(), "torch_rng": torch.get_rng_state(),
                    "policy": algo.policy_state(), "config": to_dict(cfg),
                    "train_wall_s": wall_before + time.perf_counter() - t_loop,
                })
    finally:
        bar.close()
        rd.close()
    train_wall = wall_before + time.perf_counter() - t_loop
    diagnostics = dict(algo.summary())
    cost = algo.cost_model()
    if cost is not None and isinstance(split, Split):  # learned-cost scoring needs the D_N / D_U split
        diagnostics.update(cost_diagnostics_for(cost, split))
    shares = algo.clone_draw_shares()
    if shares is not None and isinstance(split, Split):
        diagnostics.update(clone_diagnostics(shares, split))
    t_eval = time.perf_counter()
    policy = algo.policy()
    metrics = run_eval(policy, cfg)
    metrics["eval_wall_s"] = time.perf_counter() - t_eval  # where a run's time goes: training vs evaluation
    if hasattr(policy, "report"):  # a safety filter says how often it acted
        diagnostics["shield"] = policy.report()
    metrics.update({"algo": cfg.algo, "seed": cfg.seed, "dataset": cfg.dataset,
                    "dataset_sha256": cfg.dataset_sha256, "train_steps": total, "split": split.summary(),
                    "diagnostics": diagnostics, "train_wall_s": train_wall,
                    "total_wall_s_this_session": time.perf_counter() - t0})
    rd.write_eval(metrics)
    return metrics


def cost_diagnostics_for(cost, split: Split) -> dict:
    return cost_diagnostics(cost, split)


def run_eval(policy, cfg: RunConfig, episodes: int | None = None, deterministic: bool | None = None) -> dict:
    """Evaluate with the run's eval settings; ``deterministic`` (if given) overrides ``eval.deterministic``."""
    e = cfg.eval
    det = e.deterministic if deterministic is None else deterministic
    return evaluate(policy, cfg.task, episodes=episodes or e.episodes,
                    seed=e.seed_offset + 1000 * cfg.seed, cost_limit=cfg.split.cost_limit,
                    num_envs=e.num_envs, deterministic=det, progress=cfg.train.progress)


def evaluate_run(run_dir: str | Path, episodes: int | None = None, deterministic: bool | None = None) -> dict:
    """Re-evaluate a run's latest checkpoint with the config saved beside it (no dataset needed).

    ``deterministic`` overrides the saved ``eval.deterministic`` (e.g. to compare the
    sampled policy with its noise-free action)."""
    rd, cfg = load_run_config(run_dir)
    ckpt = rd.load_checkpoint()
    if ckpt is None:
        raise SafemilError(f"{rd.path} has no {RunDir.CHECKPOINT} yet: nothing to evaluate")
    policy = policy_from_state(ckpt["policy"], seed=cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.train.threads)  # as the run evaluated: float sums, and so a filter's choices, depend on it
    try:
        m = run_eval(policy, cfg, episodes, deterministic)
    finally:
        torch.set_num_threads(threads)
    if hasattr(policy, "report"):
        m["shield"] = policy.report()
    m.update({"algo": cfg.algo, "seed": cfg.seed, "train_steps": int(ckpt["step"]), "run_dir": str(rd.path),
              "deterministic": cfg.eval.deterministic if deterministic is None else deterministic})
    return m


def policy_from_state(state: dict, seed: int):
    """The evaluator-facing policy a checkpoint's ``policy`` entry describes (a filtered one included)."""
    if state.get("kind") == "shielded":
        return shielded_from_state(state, policy_from_state(state["inner"], seed))
    return TorchPolicy(actor_from_state(state), seed=seed)


def config_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)
