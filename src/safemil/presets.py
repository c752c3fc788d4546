"""Named presets: the settings behind every reported number, shipped with the package.

A preset gives each algorithm the overrides (``key=value``, as on the command line) of its
reported configuration. ``safemil train ALGO`` and ``safemil.train`` apply the ``default``
preset unless told otherwise (``--preset NAME``; ``none`` for the config dataclasses' own
defaults), and the named grids apply theirs, so a table row and a plain ``safemil train`` of
the same cell run the same configuration. User overrides come after the preset's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from safemil.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """``run`` applies to every algorithm, then ``algos[name]`` to that algorithm alone; on a task of a
    kind named in ``kinds`` (``"navigation"``), ``kinds[kind][name]`` replaces ``algos[name]``; on a task
    named in ``tasks``, ``tasks[task][name]`` comes after them."""

    name: str
    description: str
    run: tuple[str, ...] = ()
    algos: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kinds: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    tasks: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def overrides(self, algo: str, kind: str = "velocity", task: str | None = None) -> list[str]:
        per_algo = self.kinds.get(kind, {}).get(algo, self.algos.get(algo, ()))
        per_task = self.tasks.get(task, {}).get(algo, ())
        return [*self.run, *per_algo, *per_task]


# SafeMIL and its baselines (the `default` grid): every method the same number of policy (BC)
# updates, every method with a separate cost-learning phase the same number of cost updates
# before it (DWBC-NU updates its discriminator alongside each policy step, as the method does).
POLICY_STEPS = 4000
COST_STEPS = 1000
EVAL_EPISODES = 20  # noise-free episodes per run, in as many lock-step envs
PROCO_EVAL_EPISODES = 10  # the proco grid's, in 5 envs
# the proco-nav grid's, in 8 envs: a navigation episode's cost is a few hazard entries of ~17 steps each,
# so 10 episodes per seed left the PROCO-vs-base comparisons within noise (on PointGoal1, BCQ-Lag +
# PROCO's mean cost over 5 seeds was 1.96 on 10 episodes and 2.26 on 40 common ones, its base 2.37)
PROCO_NAV_EVAL_EPISODES = 40

_PAPER = {
    "bc-u": (f"steps={POLICY_STEPS}",),
    "bc-safe": (f"steps={POLICY_STEPS}",),
    "dwbc-nu": (f"steps={POLICY_STEPS}",),
    "trex-wbc": (f"policy_steps={POLICY_STEPS}", f"cost.steps={COST_STEPS}"),
    "safedice": (f"policy_steps={POLICY_STEPS}", f"classifier_steps={COST_STEPS}"),
    "safemil": (f"policy_steps={POLICY_STEPS}", f"mil.steps={COST_STEPS}"),
}

# The same on a navigation task (the `nav` grid), with a lidar encoder (a net shared by the 16 lidar
# bins) and lr 1e-3. PointGoal1, one field-law setting (the data's normalized cost 0.36): a plain MLP
# cloned it at cost 1.18-1.62 (lr 1e-4 or 1e-3), the encoder at lr 1e-4 at 1.34, at lr 1e-3 at 0.28-0.64.
_NAV_BC = ("bc.actor.lidar_encoder=[32,8]", "bc.lr=1e-3")
# Every learned cost reads the lidar through the same kind of encoder, so no method has an input
# the others lack. PointGoal1, 1000 MIL steps, seed 0: SafeMIL's per-step AUROC on D_U 0.54 -> 0.65
# (benchmarks/mil_cost_auroc.py); PointCircle2, whose cost is the robot's position: 0.90 either way.
_NAV_COST = {"trex-wbc": ("cost.lidar_encoder=[32,8]",), "safemil": ("mil.lidar_encoder=[32,8]",),
             "dwbc-nu": ("disc.lidar_encoder=[32,8]",), "safedice": ("dice.lidar_encoder=[32,8]",)}
_PAPER_NAV = {a: (*o, *_NAV_BC, *_NAV_COST.get(a, ())) for a, o in _PAPER.items()}
# SwimmerVelocity: a mixture actor evaluated with sampled actions. Swimmer's behaviour switches
# between gaits (with action noise) that its state barely tells apart, so a noise-free clone falls
# into the slowest gait's cycle: BC-Safe, 5 seeds, earned 0.61x the return of the safe trajectories
# it clones (deterministic MSE actor; the mixture's heaviest component 0.60x, 2 seeds); the sampled
# mixture 1.03x (0.349 vs 0.339), at normalized cost 0.81 (its data: 0.19).
_SWIMMER = {a: ("bc.actor.kind=mixture", "eval.deterministic=false") for a in _PAPER}
# HalfCheetahVelocity: a mixture actor, evaluated noise-free (its heaviest component's mean). Its data is
# one gait throttled by a per-episode command, so at one state the safe trajectories' actions differ by
# their scale; the deterministic actor's average of them lands in slower, costlier cycles. BC-Safe,
# seeds 0-2, normalized return (cost) against the safe trajectories' 0.524: deterministic 0.462 (0.71),
# the same with 20,000 updates 0.390 (0.32), the mixture 0.553 (0.59), the mixture sampled 0.497 (0.06).
_HALFCHEETAH = {a: ("bc.actor.kind=mixture",) for a in _PAPER}

# PROCO on exclusively-safe data (the `proco` grid). BC-Safe + PROCO learns from the layer's
# feasibility weights; BCQ-Lag + PROCO trains on the data's own costs and deploys behind the
# layer's safety filter (its dynamics model and knowledge cost, three steps ahead).
_PROCO_RUN = ("data.mode=safe-only", f"eval.episodes={PROCO_EVAL_EPISODES}", "eval.num_envs=5",
              "train.threads=1", "train.log_every=100", "train.checkpoint_every=500")
_LAYER = ("layer.model_steps=800", "layer.ensemble.members=5", "layer.ensemble.hidden=[128,128,128]",
          "layer.feasibility_steps=800", "layer.feasibility.hidden=[128,128]", "layer.rollout.n_starts=2000",
          "layer.knowledge.margin=0.1")
# BC-Safe, with and without PROCO, is the default grid's BC learner: the deterministic actor at lr 1e-4,
# 4000 steps (on Swimmer too, noise-free). On the safe-only data (5 seeds, normalized return of the clone /
# of its data) it beat the mixture at lr 3e-4 and 3000 steps that the proco grid ran before: Walker2d
# 0.431 vs 0.312 (data 0.578), Hopper 0.660 vs 0.619 (0.578). On HalfCheetahVelocity it is the mixture,
# as in the default grid: on the safe-only data (98 zero-cost trajectories, normalized return 0.452) the
# deterministic clone earned 0.581, 0.147, 0.210, 0.217 on seeds 0-3.
_PROCO_HALFCHEETAH = {a: ("bc.actor.kind=mixture",) for a in ("bc-safe", "bc-safe+proco")}
_PROCO = {
    "bc-safe": ("steps=4000",),
    "bc-safe+proco": ("steps=4000", *_LAYER),
    "bcq-lag": ("steps=6000", "hidden=[128,128]"),
    "bcq-lag+proco": ("base.steps=6000", "base.hidden=[128,128]", *_LAYER, "layer.rollout.cut_quantile=1.0",
                      "layer_costs=false", "layer.shield.horizon=3"),
}

# PROCO on the navigation tasks' exclusively-safe data (the `proco-nav` grid). The proco grid's
# budgets and structure; what differs (measured on the PointGoal1 safe-only data, seed 0):
# - knowledge margin 0.01, not 0.1: the nav rules threshold a lidar closeness (1 - distance / 3 m)
#   near 0.93, so 0.1 moves a hazard's edge from 0.2 m to 0.48 m and flags 31% (PointGoal1) and 66%
#   (PointButton1) of the safe-only states as unsafe; 0.01 is about 3 cm of clearance and flags
#   0.2% / 2.3% / 0.04% (PointGoal1 / PointButton1 / PointCircle2).
# - rollouts at the elite mean (rollout.sample=false): a draw from the model's Gaussian moves the
#   nearest-hazard lidar 19x a real step's change, so sampled rollouts "violate" from 0.24-0.44 m
#   away and the feasibility critic marked every real state infeasible (bc-safe+proco dropped all rows).
# - 1600 feasibility steps, not 800: at 800 the critic flags 0.04% of the real actions, at 1600 2.4%.
# - bcq-lag+proco: the base's critics learn PROCO's costs (layer_costs=true: feasibility relabels and the
#   costly counterfactual rows), no safety filter. 5 seeds, return / cost, the filter instead (data costs,
#   5 steps ahead, least-bad fallback) -> this: PointGoal1 0.511 / 4.01 -> 0.560 / 1.96, PointButton1
#   0.117 / 4.33 -> 0.155 / 3.46, PointCircle2 -0.375 / 8.03 -> 0.432 / 0.74 (the filter held its robot at
#   rest or outside the box; with shield.fallback=policy it did not, but still raised the cost over
#   BCQ-Lag's own 0.76, to 0.98-3.19 by horizon and grid). bc-safe+proco has no filter, as in the proco
#   grid: with it, BC-Safe's cost rose from 2.82 to 6.23 (PointGoal1 seed 0).
# - BC: the nav grid's (deterministic actor, lidar encoder, lr 1e-3; `_NAV_BC`): on seed 0 BC-Safe's
#   cost with the mixture / deterministic actor was 13.88 / 0.00 (PointCircle2) and 2.82 / 1.56
#   (PointGoal1, clearance-law data), and the encoder at lr 1e-3 clones the navigation data closer.
# Evaluation: PROCO_NAV_EVAL_EPISODES episodes of 1000 steps (PointCircle2: 500) in 8 lock-step envs.
_LAYER_NAV = ("layer.model_steps=800", "layer.ensemble.members=5", "layer.ensemble.hidden=[128,128,128]",
              "layer.feasibility_steps=1600", "layer.feasibility.hidden=[128,128]", "layer.rollout.n_starts=2000",
              "layer.rollout.sample=false", "layer.knowledge.margin=0.01")
_NAV_EVAL = (f"eval.episodes={PROCO_NAV_EVAL_EPISODES}", "eval.num_envs=8")
_PROCO_NAV = {
    "bc-safe": (*_NAV_EVAL, "steps=3000", *_NAV_BC),
    "bc-safe+proco": (*_NAV_EVAL, "steps=3000", *_NAV_BC, *_LAYER_NAV),
    "bcq-lag": (*_NAV_EVAL, *_PROCO["bcq-lag"]),
    "bcq-lag+proco": (*_NAV_EVAL, "base.steps=6000", "base.hidden=[128,128]", *_LAYER_NAV,
                      "layer.rollout.cut_quantile=1.0", "layer_costs=true"),
}

PRESETS: dict[str, Preset] = {
    "default": Preset(
        "default",
        "the reported configuration of every algorithm: the default grid's budget for SafeMIL and its "
        "baselines (the nav grid's: the same, BC through a lidar encoder at lr 1e-3), the proco grid's "
        "settings for the PROCO algorithms (the proco-nav grid's on a navigation task)",
        run=(f"eval.episodes={EVAL_EPISODES}", f"eval.num_envs={EVAL_EPISODES}", "train.log_every=50",
             "train.checkpoint_every=500"),
        algos={**_PAPER, **{a: (*_PROCO_RUN, *o) for a, o in _PROCO.items() if a != "bc-safe"}},
        kinds={"navigation": {**_PAPER_NAV,
                              **{a: (*_PROCO_RUN, *o) for a, o in _PROCO_NAV.items() if a != "bc-safe"}}},
        tasks={"SwimmerVelocity": _SWIMMER, "HalfCheetahVelocity": {**_PROCO_HALFCHEETAH, **_HALFCHEETAH}},
    ),
    "proco": Preset(
        "proco",
        "the proco grid: each offline safe RL base alone and with PROCO on exclusively-safe data (on a "
        "navigation task, the proco-nav grid's settings)",
        run=_PROCO_RUN,
        algos=_PROCO,
        kinds={"navigation": _PROCO_NAV},
        tasks={"HalfCheetahVelocity": _PROCO_HALFCHEETAH},
    ),
    "proco-nav": Preset(
        "proco-nav",
        "the proco-nav grid: the proco grid's bases alone and with PROCO on the navigation tasks' exclusively-safe "
        "data (knowledge margin 0.01, rollouts at the model's mean, BCQ-Lag's critics on PROCO's costs, "
        "the nav grid's BC actor, 40 evaluation episodes)",
        run=_PROCO_RUN,
        algos=_PROCO_NAV,
    ),
    "smoke": Preset(
        "smoke",
        "a one-minute check of the pipeline (not a result)",
        run=("eval.episodes=2", "train.log_every=10", "train.checkpoint_every=20"),
        algos={"bc-u": ("steps=40",), "safemil": ("policy_steps=40", "mil.steps=20")},
    ),
    "none": Preset("none", "the config dataclasses' own defaults, no preset"),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return PRESETS[name]
