"""The main job: BC on D_U versus SafeMIL on the SwimmerVelocity default dataset, end to end.

Reuses the runner for both algorithms (so each is a normal, resumable run
directory), then prints one table and writes one plot. Budgets are modest so
the whole job fits in a few minutes on a 2-core CPU; a finished run is reused,
an interrupted one resumed.

Why the policies are evaluated by *sampling* their actions (``eval.deterministic=false``):
BC on D_U is meant to show what imitating the mixture does, and the mixture is
multimodal in a variable the observation lacks (the behaviour policy's speed
command). On Swimmer every episode starts at rest, where the data branches into
a still gait and a fast gait that each sustain themselves; the deterministic
action (the heaviest mixture component's mean) resolves that branch the same
way every time, towards the still gait, so deterministic BC-U is "accidentally
safe" while the very same learned policy, sampled, swims fast and unsafe like
most of D_U (measured in docs/safemil.md). The noise-free action of each
policy is still evaluated and reported beside it (``deterministic_eval``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safemil.collect import find_dataset, generate_to_file
from safemil.collect.fingerprints import check_fingerprint
from safemil.data import default_dataset_path
from safemil.errors import DatasetError
from safemil.eval import normalized_return
from safemil.plotting import pyplot, save_figure
from safemil.runner import evaluate_run, load_run_config, make_run_config, resume, train
from safemil.runs import RunDir

TASK = "SwimmerVelocity"

# (algorithm, overrides): the modest budgets of the quickstart, sampled actions (see the module docstring)
PLAN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bc-u", ("steps=5000", "eval.deterministic=false")),
    ("safemil", ("mil.steps=1500", "policy_steps=5000", "eval.deterministic=false")),
)
SUMMARY_KEYS = ("task", "algo", "episodes", "normalized_return", "normalized_cost", "normalized_cost_ci95",
                "cvar20_cost", "mean_return", "mean_cost", "episode_costs", "episode_returns", "deterministic")


def ensure_dataset(task: str = TASK, progress: bool = True) -> Path:
    """The task's default dataset: reused if present, else generated with the shipped behaviour policy."""
    try:
        return find_dataset(task)
    except DatasetError:
        pass
    if progress:
        print(f"generating the {task} default dataset (once) -> {default_dataset_path(task)}", flush=True)
    path = Path(generate_to_file(task, progress=progress))
    check = check_fingerprint(task, path)
    if progress or not check.matches:
        check.report()
    return path


def run_quickstart(out: str | Path = "runs/quickstart", seed: int = 0, episodes: int = 20,
                   dataset: str | None = None, progress: bool = True, task: str = TASK,
                   extra: dict[str, list[str]] | None = None) -> list[dict]:
    """Train (or reuse) BC-U and SafeMIL, evaluate both; returns their eval.json dicts.

    Each dict also holds ``deterministic_eval``: the same checkpoint evaluated with
    its noise-free action on the same episodes. ``extra`` adds overrides per
    algorithm name (after the quickstart budgets).
    """
    out = Path(out)
    path = Path(dataset) if dataset else ensure_dataset(task, progress)
    rows = []
    for algo, ov in PLAN:
        overrides = [*ov, f"eval.episodes={episodes}", f"train.progress={str(progress).lower()}",
                     *(extra or {}).get(algo, [])]
        cfg = make_run_config(algo, task, str(path), seed, overrides)
        run_dir = out / (f"{algo}-seed{seed}" if task == TASK else f"{cfg.task}-{algo}-seed{seed}")
        row = _train_or_reuse(cfg, run_dir)
        other = evaluate_run(run_dir, deterministic=not cfg.eval.deterministic)
        key = "deterministic_eval" if cfg.eval.deterministic is False else "sampled_eval"
        row[key] = {k: other[k] for k in SUMMARY_KEYS if k in other}
        rows.append(row)
    return rows


def _train_or_reuse(cfg, run_dir: Path) -> dict:
    if (run_dir / RunDir.CONFIG).exists():
        rd, saved = load_run_config(run_dir)
        if saved == cfg:
            done = rd.read_eval()
            if done is None:
                resume(run_dir)
                done = rd.read_eval()
            return done
        # The quickstart owns its run folders, but never deletes one: a run made with other
        # settings (another dataset, or defaults changed by an upgrade) is moved aside.
        aside = _free_name(run_dir)
        run_dir.rename(aside)
        print(f"{run_dir} was made with a different config; moved it to {aside} and training again", flush=True)
    train(cfg, run_dir)
    return RunDir(run_dir).read_eval()  # as written to disk, so fresh and reused runs look alike


def _free_name(run_dir: Path) -> Path:
    n = 1
    while (aside := run_dir.with_name(f"{run_dir.name}.old{n}")).exists():
        n += 1
    return aside


def plot_quickstart(rows: list[dict], path: str | Path) -> Path:
    """Bars of normalized return / cost / CVaR@20%, and per-episode return vs cost."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    metrics = [("normalized_return", "norm. return"), ("normalized_cost", "norm. cost"),
               ("cvar20_cost", "CVaR@20% cost")]
    x = np.arange(len(metrics))
    width = 0.8 / len(rows)
    for i, m in enumerate(rows):
        bars = a.bar(x + i * width, [m[k] for k, _ in metrics], width, label=m["algo"])
        a.bar_label(bars, fmt="%.2f", fontsize=8)
    a.axhline(1.0, color="k", lw=0.8, ls="--")
    a.set_xticks(x + width * (len(rows) - 1) / 2, [n for _, n in metrics])
    a.set_yscale("symlog", linthresh=1.0)  # costs of unsafe policies dwarf returns otherwise
    a.set_title(f"{rows[0]['task']}: cost limit {rows[0]['cost_limit']:g}")
    a.legend()
    for m in rows:
        b.scatter(m["episode_costs"], normalized_return(np.asarray(m["episode_returns"]), m["task"]),
                  s=14, alpha=0.7, label=m["algo"])
    b.axvline(rows[0]["cost_limit"], color="k", lw=0.8, ls="--")
    b.set_xlabel("episode cost")
    b.set_ylabel("normalized return")
    b.legend()
    fig.tight_layout()
    return save_figure(fig, path)
