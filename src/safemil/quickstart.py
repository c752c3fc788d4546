"""The main job: BC on D_U, BC-Safe (the oracle) and SafeMIL on the quickstart task, end to end.

Each run is seed 0 of the named grid ``default`` (the preset ``default``, the configuration
`docs/results.md` reports), so the quickstart's table is one row of the benchmark's. The
runner makes each a normal, resumable run directory; a finished run is reused, an interrupted
one resumed. BC on D_U shows what imitating the risky mixture does; BC-Safe clones only the
trajectories within the limit, which it reads from the labels SafeMIL never sees: the return a
safe policy can reach on this data.
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
from safemil.presets import EVAL_EPISODES
from safemil.runner import load_run_config, make_run_config, resume, train
from safemil.runs import RunDir

TASK = "HalfCheetahVelocity"
ALGOS = ("bc-u", "bc-safe", "safemil")


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


def run_quickstart(out: str | Path = "runs/quickstart", seed: int = 0, episodes: int = EVAL_EPISODES,
                   dataset: str | None = None, progress: bool = True, task: str = TASK,
                   extra: dict[str, list[str]] | None = None) -> list[dict]:
    """Train (or reuse) and evaluate each of ``ALGOS`` with the default preset; their eval.json dicts.

    ``episodes`` evaluation episodes in as many lock-step envs (the preset's 20 by default).
    ``extra`` adds overrides per algorithm name, after the preset's.
    """
    out = Path(out)
    path = Path(dataset) if dataset else ensure_dataset(task, progress)
    rows = []
    for algo in ALGOS:
        overrides = [f"eval.episodes={episodes}", f"eval.num_envs={episodes}",
                     f"train.progress={str(progress).lower()}", *(extra or {}).get(algo, [])]
        cfg = make_run_config(algo, task, str(path), seed, overrides, preset="default")
        run_dir = out / (f"{algo}-seed{seed}" if task == TASK else f"{cfg.task}-{algo}-seed{seed}")
        rows.append(_train_or_reuse(cfg, run_dir))
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
