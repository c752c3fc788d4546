"""What a benchmark is: a task x algorithm x seed grid, each cell a run with its own directory.

A grid is plain data (`GridSpec`), saved as ``DIR/grid.yaml`` so a benchmark
directory says how it was made. Overrides are ``key=value`` strings as for
``safemil train``; ``ALGO:key=value`` targets one algorithm only (algorithms
have different config keys, e.g. ``bc-u:steps=500`` vs ``safemil:mil.steps=500``).
Named grids (``default``, ``nav``, ``smoke``, ``proco``, ``proco-nav``) each run a named preset (`safemil.presets`),
which fixes the budget per method, so a grid run is comparable across machines and a cell is
reproduced by ``safemil train ALGO --preset NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from safemil.errors import ConfigError
from safemil.presets import get_preset

VELOCITY_TASKS = (
    "HalfCheetahVelocity",
    "HopperVelocity",
    "Walker2dVelocity",
    "SwimmerVelocity",
    "AntVelocity",
)
NAV_TASKS = ("PointGoal1", "PointButton1", "PointCircle2")  # the SafeMIL paper's navigation tasks
PAPER_ALGOS = ("bc-u", "bc-safe", "trex-wbc", "dwbc-nu", "safedice", "safemil")


@dataclass(frozen=True)
class RunSpec:
    """One cell of the grid: everything a worker needs to train (or resume) and evaluate it."""

    task: str
    algo: str
    seed: int
    out_dir: str
    overrides: tuple[str, ...] = ()  # after the preset's
    dataset: str | None = None  # None: the task's default dataset
    preset: str = "default"

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
    preset: str = "default"  # applied to every cell before ``overrides`` (safemil.presets)

    def __post_init__(self):
        if not self.tasks or not self.algos or not self.seeds:
            raise ConfigError("a grid needs at least one task, one algorithm and one seed")
        get_preset(self.preset)
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
                    out.append(RunSpec(t, a, int(s), str(root / t / a / f"seed{s}"), ov, datasets.get(t),
                                       self.preset))
        return out


    def narrow(self, tasks: list[str] | None = None, algos: list[str] | None = None,
               seeds: list[int] | None = None, extra: list[str] | None = None) -> GridSpec:
        """A sub-grid of this one; ``ALGO:`` overrides for algorithms left out are dropped with them."""
        algos = algos or self.algos
        keep = {a.strip().lower() for a in algos}
        ov = [o for o in self.overrides
              if ":" not in o.split("=", 1)[0] or o.split(":", 1)[0].strip().lower() in keep]
        return GridSpec(tasks or self.tasks, algos, seeds or self.seeds, [*ov, *(extra or [])],
                        dict(self.datasets), self.name, self.preset)


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
# Each named grid runs its preset (safemil.presets), so `safemil train ALGO --preset NAME` runs
# exactly what a cell of the grid ran.


DEFAULT_SEEDS = [0, 1, 2, 3, 4]  # the SafeMIL paper's count


def _default() -> GridSpec:
    return GridSpec(list(VELOCITY_TASKS), list(PAPER_ALGOS), list(DEFAULT_SEEDS), name="default", preset="default")


def _nav() -> GridSpec:
    return GridSpec(list(NAV_TASKS), list(PAPER_ALGOS), list(DEFAULT_SEEDS), name="nav", preset="default")


def _smoke() -> GridSpec:
    return GridSpec(["SwimmerVelocity"], ["bc-u", "safemil"], [0, 1], name="smoke", preset="smoke")


# The PROCO grid (docs/results.md, docs/proco.md): each offline safe RL base alone and with PROCO on
# exclusively-safe data, 5 seeds. About 95 minutes on 2 cores: 100 runs of 11,500 CPU seconds in all
# (BCQ-Lag about 160 s each, BC 30-50 s).
PROCO_ALGOS = ("bc-safe", "bc-safe+proco", "bcq-lag", "bcq-lag+proco")


def _proco() -> GridSpec:
    return GridSpec(list(VELOCITY_TASKS), list(PROCO_ALGOS), list(DEFAULT_SEEDS), name="proco", preset="proco")


# The PROCO grid on the navigation tasks (docs/proco.md): the same four algorithms on each nav task's
# exclusively-safe data, 5 seeds, preset proco-nav.
def _proco_nav() -> GridSpec:
    return GridSpec(list(NAV_TASKS), list(PROCO_ALGOS), list(DEFAULT_SEEDS), name="proco-nav", preset="proco-nav")


NAMED_GRIDS = {"default": _default, "nav": _nav, "smoke": _smoke, "proco": _proco, "proco-nav": _proco_nav}


def named_grid(name: str) -> GridSpec:
    if name not in NAMED_GRIDS:
        raise ConfigError(f"unknown grid {name!r}; available: {', '.join(sorted(NAMED_GRIDS))}")
    return NAMED_GRIDS[name]()
