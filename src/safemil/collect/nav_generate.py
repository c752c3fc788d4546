"""Navigation-task datasets: learned Lagrangian agents, or a scripted controller with a per-episode risk appetite.

DSRL logged Lagrangian agents while their cost limit was scheduled, so its data spans
cautious to reckless behaviour. ``controller=agents`` does the same from the snapshots of such
a training run (`collect.lagrangian`): each episode rolls out one snapshot, drawn uniformly,
sampling its actions from the snapshot's Gaussian as the training run did. The scripted laws
instead draw, per episode, how much clearance the controller keeps around hazards (Circle: the
radius it circles at), a cruise speed and an action-noise level. Either way, each episode's
draws come from its own seeded generator and the rollouts are then thinned on the
(cost, return) grid like the velocity tasks' (`keep_on_grid`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from safemil.collect.episodes import Episode, collect_episodes, validate_rollout_counts
from safemil.collect.nav_agents import NavAgents, load_nav_agents
from safemil.collect.nav_controller import LAWS, nav_controller
from safemil.errors import ConfigError, TaskError
from safemil.tasks import TaskSpec

# Bumped whenever the episodes a plan draws change (the controller's behaviour, or the env's
# random stream: 2 = a seeded reset no longer carries the last episode's owed frameskip draws
# into its next goal draw), so a cached dataset made by another version is recognised
# (`stale_default_dataset`).
CONTROLLER_VERSION = 2

CONTROLLERS = ("agents", *LAWS)
# Keys that only the scripted laws read.
SCRIPTED_KEYS = ("risk_low", "risk_high", "risk_power", "speed_low", "speed_high", "noise_low", "noise_high")

# One episode's plan: (risk value, cruise speed, action noise of shape (limit, 2)).
Plan = tuple[float, float, np.ndarray]
# One learned-agent episode's plan: (snapshot index, action noise of shape (limit, act_dim)).
AgentPlan = tuple[int, np.ndarray]


@dataclass
class NavGenerateConfig:
    """How navigation episodes are drawn (each value uniform in its [low, high] per episode)."""

    episodes: int = 1000  # trajectories kept
    oversample: float = 2.0  # roll out round(oversample x episodes), keep `episodes` by the grid filter (1: all)
    cost_bins: int = 20  # the thinning grid: bins of log(1 + episode cost) ...
    return_bins: int = 20  # ... and of episode return
    seed: int = 0
    num_envs: int = 16
    # agents: snapshots of a PPO-Lagrangian run (`agents_file`, default the task's shipped one); the
    # risk, speed and noise ranges below do not apply. Scripted laws (`safemil.collect.nav_controller`),
    # Goal1 and Button1: field (a smooth potential field, which BC clones closer) or clearance (steers
    # along the free bearing nearest the goal); Circle2: clearance.
    controller: str = "clearance"
    agents_file: str = ""  # controller=agents: a `NavAgents` file ("" = the task's shipped agents)
    # clearance: the margin (m) kept beyond each object's contact distance; negative cuts through
    # hazard edges, -0.2 or less ignores them. field: the repulsion gain (0 ignores hazards).
    # Circle2: the radius (m) circled at.
    risk_low: float = -0.2
    risk_high: float = 0.2
    # risk = risk_low + (risk_high - risk_low) * u ** risk_power, u uniform: 1 draws risk uniformly;
    # above 1 more episodes sit near risk_low (the risky end of a gain or a margin; Circle2's small
    # radii are its cautious end), e.g. to place agents more evenly in cost, which falls steeply with
    # the first units of gain and flattens after.
    risk_power: float = 1.0
    speed_low: float = 0.4  # cruise speed, m/s
    speed_high: float = 1.6
    noise_low: float = 0.0  # action-noise std
    noise_high: float = 0.3
    max_steps: int | None = None  # episode length cap (default: the task's)

    @property
    def rollouts(self) -> int:
        """Episodes rolled out before the grid filter keeps ``episodes`` of them."""
        return max(self.episodes, round(self.oversample * self.episodes))

    def validate(self) -> None:
        validate_rollout_counts(self)
        if self.controller not in CONTROLLERS:
            raise ConfigError(f"unknown controller {self.controller!r}; choose one of {', '.join(CONTROLLERS)}")
        if self.agents_file and self.controller != "agents":
            raise ConfigError(f"agents_file only applies to controller=agents (controller is {self.controller!r})")
        if self.controller == "agents":
            plain = NavGenerateConfig()
            scripted = [k for k in SCRIPTED_KEYS if getattr(self, k) != getattr(plain, k)]
            if scripted:
                raise ConfigError(f"controller=agents rolls out learned snapshots: {', '.join(scripted)} only "
                                  "apply to the scripted controllers")
        if self.controller == "field" and self.risk_low < 0:
            raise ConfigError(f"controller=field: risk is a repulsion gain, need risk_low >= 0, got {self.risk_low}")
        for what in ("risk", "speed", "noise"):
            low, high = getattr(self, f"{what}_low"), getattr(self, f"{what}_high")
            if not low <= high:
                raise ConfigError(f"need {what}_low <= {what}_high, got {low}, {high}")
        if not self.risk_power > 0:
            raise ConfigError(f"need risk_power > 0, got {self.risk_power}")
        if self.speed_low <= 0 or self.noise_low < 0:
            raise ConfigError(f"need speed_low > 0 and noise_low >= 0, got {self.speed_low}, {self.noise_low}")


# Per task: the episode count and the default control law; per (task, law): the ranges drawn from.
# Goal1, Button1 use the field law: its expected cost falls as a continuum with the gain (Goal1,
# 20 layouts per setting: gain 0 -> mean cost 52-72, 1 -> 22-54, 2 -> 8-43, 4 -> 0.3-23 over speeds
# 0.6-2.0), so gain 0-4 spans DSRL's Goal1 limit schedule (80 -> 5) from hazard-blind to cautious
# without a gap. At gain 4 fast runs are still not reliably safe (12 layouts, noise-free: 3-31 per
# episode at 0.6-2.0 m/s; gain 8: 1-11), so Goal1 draws gains up to 8: reliably cautious runs, like
# DSRL's converged experts at its last limit (5). Button1's gremlins need more gain for the same
# cost, hence 0-6 and slower runs.
# The clearance law's ranges are those of the datasets made before the field law (a margin of
# -0.2 or less ignores hazards; Button1's gremlins leave no free path above ~0.1). Circle2: radii up
# to 1.5 (the rewarded one, far outside the walls' square) and no crawling (DSRL's Circle2 returns
# start at 20).
NAV_TASK_DEFAULTS: dict[str, dict] = {
    "PointGoal1": {"controller": "field"},
    "PointButton1": {"controller": "field"},
    "PointCircle2": {"episodes": 500, "controller": "clearance"},
}
NAV_LAW_RANGES: dict[tuple[str, str], dict] = {
    ("PointGoal1", "field"): {"risk_low": 0.0, "risk_high": 8.0, "speed_low": 0.6, "speed_high": 2.0,
                              "noise_high": 0.5},
    ("PointButton1", "field"): {"risk_low": 0.0, "risk_high": 6.0, "speed_low": 0.6, "speed_high": 1.8},
    ("PointGoal1", "clearance"): {"risk_low": -0.4, "speed_high": 2.0, "noise_high": 0.5},
    ("PointButton1", "clearance"): {"risk_low": -0.2, "risk_high": 0.12, "speed_low": 0.6, "speed_high": 1.8},
    ("PointCircle2", "clearance"): {"risk_low": 0.6, "risk_high": 1.5, "speed_low": 0.9, "speed_high": 2.0},
}


def nav_episode_plan(cfg: NavGenerateConfig, episode: int, limit: int) -> Plan:
    """Episode ``episode``'s risk value, cruise speed and action noise (limit, 2)."""
    rng = np.random.default_rng([cfg.seed, episode])
    risk = cfg.risk_low + (cfg.risk_high - cfg.risk_low) * rng.random() ** cfg.risk_power
    speed = rng.uniform(cfg.speed_low, cfg.speed_high)
    sigma = rng.uniform(cfg.noise_low, cfg.noise_high)
    return float(risk), float(speed), sigma * rng.standard_normal((limit, 2))


def roll_plans(spec: TaskSpec, law: str, plan: Callable[[int, int], Plan], episodes: int, seed: int,
               num_envs: int, max_steps: int | None = None, progress: bool = True) -> list[Episode]:
    """``episodes`` episodes of the task's controller under ``law``, episode i following ``plan(i, limit)``
    on layout ``seed + i``, in episode order."""
    try:
        controller = nav_controller(spec.name, law)
    except TaskError as e:
        raise ConfigError(str(e)) from None
    limit = max_steps or spec.max_episode_steps
    n = max(1, min(num_envs, episodes))
    risk, speed = np.zeros(n), np.zeros(n)
    noise = np.zeros((n, limit, 2))

    def begin(slot: int, episode: int) -> None:
        risk[slot], speed[slot], noise[slot] = plan(episode, limit)

    def act(slots: np.ndarray, t: np.ndarray, obs: np.ndarray) -> np.ndarray:
        acts = controller.act(obs, risk[slots], speed[slots]) + noise[slots, t]
        return np.clip(acts, -1.0, 1.0).astype(np.float32)

    return collect_episodes(spec, episodes, seed, num_envs, max_steps, begin, act, progress)


def agent_episode_plan(cfg: NavGenerateConfig, agents: NavAgents, episode: int, limit: int) -> AgentPlan:
    """Episode ``episode``'s snapshot (uniform over the run) and its action noise (limit, act_dim),
    drawn from the snapshot's own Gaussian."""
    rng = np.random.default_rng([cfg.seed, episode])
    which = int(rng.integers(len(agents)))
    return which, agents.std([which])[0] * rng.standard_normal((limit, agents.act_dim))


def roll_agents(spec: TaskSpec, agents: NavAgents, plan: Callable[[int, int], AgentPlan], episodes: int, seed: int,
                num_envs: int, max_steps: int | None = None, progress: bool = True) -> list[Episode]:
    """``episodes`` episodes of ``agents``, episode i following ``plan(i, limit)`` (snapshot, action noise)
    on layout ``seed + i``, in episode order."""
    if agents.task != spec.name or agents.obs_dim != spec.obs_dim or agents.act_dim != spec.act_dim:
        raise ConfigError(f"the agents ({agents.task}, obs {agents.obs_dim}, act {agents.act_dim}) do not fit "
                          f"{spec.name} (obs {spec.obs_dim}, act {spec.act_dim})")
    limit = max_steps or spec.max_episode_steps
    n = max(1, min(num_envs, episodes))
    which = np.zeros(n, dtype=np.int64)
    noise = np.zeros((n, limit, agents.act_dim))

    def begin(slot: int, episode: int) -> None:
        which[slot], noise[slot] = plan(episode, limit)

    def act(slots: np.ndarray, t: np.ndarray, obs: np.ndarray) -> np.ndarray:
        acts = agents.mean_action(obs, which[slots]) + noise[slots, t]
        return np.clip(acts, -1.0, 1.0).astype(np.float32)

    return collect_episodes(spec, episodes, seed, num_envs, max_steps, begin, act, progress)


def collect_nav_episodes(spec: TaskSpec, cfg: NavGenerateConfig, progress: bool = True) -> list[Episode]:
    """``cfg.rollouts`` episodes of the task's behaviour, in episode order."""
    if cfg.controller == "agents":
        agents = load_nav_agents(spec.name, cfg.agents_file or None)
        return roll_agents(spec, agents, lambda episode, limit: agent_episode_plan(cfg, agents, episode, limit),
                           cfg.rollouts, cfg.seed, cfg.num_envs, cfg.max_steps, progress)
    return roll_plans(spec, cfg.controller, lambda episode, limit: nav_episode_plan(cfg, episode, limit),
                      cfg.rollouts, cfg.seed, cfg.num_envs, cfg.max_steps, progress)


def nav_default_config(task: str, **overrides) -> NavGenerateConfig:
    """The default generation config of navigation task ``task`` with ``overrides`` applied; the
    ranges are those of the control law in effect (``controller=clearance`` on Goal1 gives the
    clearance law's ranges, not the field law's)."""
    if task not in NAV_TASK_DEFAULTS:
        raise ConfigError(f"no generation defaults for {task!r}")
    given = {k: v for k, v in overrides.items() if v is not None}
    kw = dict(NAV_TASK_DEFAULTS[task])
    kw.update(NAV_LAW_RANGES.get((task, given.get("controller", kw["controller"])), {}))
    kw.update(given)
    return NavGenerateConfig(**kw)
