"""What a benchmark is: a task x algorithm x seed grid, each cell a run with its own directory.

A grid is plain data (`GridSpec`), saved as ``DIR/grid.yaml`` so a benchmark
directory says how it was made. Overrides are ``key=value`` strings as for
``safemil train``; ``ALGO:key=value`` targets one algorithm only (algorithms
have different config keys, e.g. ``bc-u:steps=500`` vs ``safemil:mil.steps=500``).
Named grids (``default``, ``smoke``, ``proco``) fix the budget per method so a grid run
is comparable across machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from safemil.errors import ConfigError

VELOCITY_TASKS = (
    "HalfCheetahVelocity",
    "HopperVelocity",
    "Walker2dVelocity",
    "SwimmerVelocity",
    "AntVelocity",
)
PAPER_ALGOS = ("bc-u", "bc-safe", "trex-wbc", "dwbc-nu", "safedice", "safemil")


@dataclass(frozen=True)
class RunSpec:
    """One cell of the grid: everything a worker needs to train (or resume) and evaluate it."""

    task: str
    algo: str
    seed: int
    out_dir: str
    overrides: tuple[str, ...] = ()
    dataset: str | None = None  # None: the task's default dataset

    @property
    def label(self) -> str:
        return f"{self.task}/{self.algo}/seed{self.seed}"


@dataclass
class GridSpec:
    tasks: list[str]
    algos: list[str]
    seeds: list[int]
    overrides: list[str] = field(default_factory=list)  # "key=value" or "ALGO:key=value"
    datasets: dict[str, str] = field(default_factory=dict)  # task -> dataset path/name
    name: str = "custom"

    def __post_init__(self):
        if not self.tasks or not self.algos or not self.seeds:
            raise ConfigError("a grid needs at least one task, one algorithm and one seed")
        for item in self.overrides:
            _split_override(item)

    def runs(self, root: str | Path) -> list[RunSpec]:
        """The grid's cells in a fixed order (task, algo, seed), each under ``root/<task>/<algo>/seed<k>``."""
        from safemil.algos import get_algo
        from safemil.tasks import get_task

        tasks = [get_task(t).name for t in self.tasks]
        algos = [get_algo(a).name for a in self.algos]
        for item in self.overrides:
            target, _ = _split_override(item)
            if target is not None:
                get_algo(target)  # an override for an unknown algorithm is a typo: say so
        datasets = {get_task(t).name: d for t, d in self.datasets.items()}
        root = Path(root)
        out = []
        for t in tasks:
            for a in algos:
                ov = tuple(kv for target, kv in map(_split_override, self.overrides) if target in (None, a))
                for s in self.seeds:
                    out.append(RunSpec(t, a, int(s), str(root / t / a / f"seed{s}"), ov, datasets.get(t)))
        return out


    def narrow(self, tasks: list[str] | None = None, algos: list[str] | None = None,
               seeds: list[int] | None = None, extra: list[str] | None = None) -> GridSpec:
        """A sub-grid of this one; ``ALGO:`` overrides for algorithms left out are dropped with them."""
        algos = algos or self.algos
        keep = {a.strip().lower() for a in algos}
        ov = [o for o in self.overrides
              if ":" not in o.split("=", 1)[0] or o.split(":", 1)[0].strip().lower() in keep]
        return GridSpec(tasks or self.tasks, algos, seeds or self.seeds, [*ov, *(extra or [])],
                        dict(self.datasets), self.name)


def _split_override(item: str) -> tuple[str | None, str]:
    """``"bc-u:steps=5"`` -> ``("bc-u", "steps=5")``; ``"train.log_every=5"`` -> ``(None, ...)``."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value or ALGO:key=value")
    key, value = item.split("=", 1)
    if ":" in key:
        algo, key = key.split(":", 1)
        if not algo.strip() or not key.strip():
            raise ConfigError(f"override {item!r}: expected ALGO:key=value")
        from safemil.algos import get_algo

        return get_algo(algo).name, f"{key.strip()}={value}"
    return None, item


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> seeds 0, 1, 2; ``"0,4,7"`` -> exactly those seeds; ``"5,"`` -> seed 5 alone."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(n))
    except ValueError:
        hint = f" (for seed {text.strip()} alone write {text.strip()},)" if text.strip().isdigit() else ""
        raise ConfigError(
            f"--seeds expects a count N >= 1 or a list like 0,1,2; got {text!r}{hint}"
        ) from None
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ConfigError(f"--seeds: seeds must be distinct and >= 0, got {text!r}")
    return seeds


# -- named grids ---------------------------------------------------------------------------
# Budget of the default grid: 90 runs in about 40 minutes on 2 dedicated cores (goal: <= 60). Every method
# gets the same number of policy (BC) updates; methods with a separate cost-learning phase get the same
# number of cost updates before it (dwbc-nu updates its discriminator alongside every policy step, as the
# method does). Sized from CPU time per step measured on the 2-core machine (one thread; see
# docs/results.md, "Budget of the default grid"): BC 3 ms, T-REX cost 16-22, DWBC-NU 11-13,
# SafeDICE classifier 14-15 / value+policy 22-23, SafeMIL MIL 31-39; evaluation 1-3 s per run.
POLICY_STEPS = 4000
COST_STEPS = 1000
EVAL_EPISODES = 10


def default_budget(policy_steps: int = POLICY_STEPS, cost_steps: int = COST_STEPS,
                   episodes: int = EVAL_EPISODES) -> list[str]:
    """Overrides giving every paper method the same policy and cost-learning budget."""
    return [
        f"eval.episodes={episodes}", f"eval.num_envs={episodes}", "train.log_every=50", "train.checkpoint_every=500",
        f"bc-u:steps={policy_steps}",
        f"bc-safe:steps={policy_steps}",
        f"dwbc-nu:steps={policy_steps}",
        f"trex-wbc:policy_steps={policy_steps}", f"trex-wbc:cost.steps={cost_steps}",
        f"safedice:policy_steps={policy_steps}", f"safedice:classifier_steps={cost_steps}",
        f"safemil:policy_steps={policy_steps}", f"safemil:mil.steps={cost_steps}",
    ]


def _default() -> GridSpec:
    return GridSpec(list(VELOCITY_TASKS), list(PAPER_ALGOS), [0, 1, 2], default_budget(), name="default")


def _smoke() -> GridSpec:
    return GridSpec(["SwimmerVelocity"], ["bc-u", "safemil"], [0, 1],
                    ["eval.episodes=2", "train.log_every=10", "train.checkpoint_every=20",
                     "bc-u:steps=40", "safemil:policy_steps=40", "safemil:mil.steps=20"], name="smoke")


# The PROCO grid (docs/results.md, docs/proco.md): each offline safe RL base alone and with PROCO on
# exclusively-safe data, 10 seeds. BC-Safe+PROCO learns from the layer's feasibility weights; BCQ-Lag+PROCO
# trains on the data's own costs and deploys behind the layer's safety filter (its model and knowledge cost).
# About 100 minutes on 2 cores: 200 runs of 11,762 run-seconds in all (BCQ-Lag 70-125 s each, BC 10-30 s).
PROCO_ALGOS = ("bc-safe", "bc-safe+proco", "bcq-lag", "bcq-lag+proco")


def proco_budget() -> list[str]:
    layer = ["layer.model_steps=800", "layer.ensemble.members=5", "layer.ensemble.hidden=[128,128,128]",
             "layer.feasibility_steps=800", "layer.feasibility.hidden=[128,128]", "layer.rollout.n_starts=2000",
             "layer.knowledge.margin=0.1"]
    return [
        "data.mode=safe-only", f"eval.episodes={EVAL_EPISODES}", "eval.num_envs=5", "train.threads=1",
        "train.log_every=100", "train.checkpoint_every=500",
        "bc-safe:steps=3000", "bc-safe+proco:steps=3000", *(f"bc-safe+proco:{o}" for o in layer),
        "bcq-lag:steps=6000", "bcq-lag:hidden=[128,128]", "bcq-lag+proco:base.steps=6000",
        "bcq-lag+proco:base.hidden=[128,128]", *(f"bcq-lag+proco:{o}" for o in layer),
        "bcq-lag+proco:layer.rollout.cut_quantile=1.0", "bcq-lag+proco:layer_costs=false",
        "bcq-lag+proco:layer.shield.horizon=3",
    ]


def _proco() -> GridSpec:
    return GridSpec(list(VELOCITY_TASKS), list(PROCO_ALGOS), list(range(10)), proco_budget(), name="proco")


NAMED_GRIDS = {"default": _default, "smoke": _smoke, "proco": _proco}


def named_grid(name: str) -> GridSpec:
    if name not in NAMED_GRIDS:
        raise ConfigError(f"unknown grid {name!r}; available: {', '.join(sorted(NAMED_GRIDS))}")
    return NAMED_GRIDS[name]()
