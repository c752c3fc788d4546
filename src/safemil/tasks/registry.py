"""Named tasks with everything downstream code needs to know about them."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import gymnasium as gym

from safemil.errors import TaskError
from safemil.tasks.nav import COST_RULES, NAV_CONFIGS, schema_entries
from safemil.tasks.reference import DsrlReference, dsrl_references
from safemil.tasks.velocity import VelocityCost


@dataclass(frozen=True)
class ObsField:
    """One named entry of the observation vector (used by knowledge-grounded costs)."""

    name: str
    index: int
    meaning: str
    unit: str


VELOCITY_ONLY = ("cost_threshold", "velocity_fields", "planar_speed", "gym_kwargs")


class NotAVelocityTask(TaskError, AttributeError):
    """A velocity-task attribute asked of another kind of task (``hasattr`` reads it as absent)."""


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What every task has: dimensions, episode length, observation schema, env factory, DSRL id.

    ``kind`` says which rules it follows ("velocity" or "navigation"); velocity-only
    attributes (``cost_threshold``, ``velocity_fields``) asked of another kind raise a
    `TaskError` that names the task, so code written for velocity tasks fails in one line.
    """

    kind: ClassVar[str] = "task"
    name: str
    gym_id: str
    obs_dim: int
    act_dim: int
    max_episode_steps: int
    schema: tuple[ObsField, ...]
    dsrl_env_id: str = ""

    def __getattr__(self, attr: str):
        if attr in VELOCITY_ONLY:
            raise NotAVelocityTask(
                f"{self.name} is a {self.kind} task: {attr} exists for velocity tasks only "
                f"(this command or function supports the velocity tasks only)")
        raise AttributeError(attr)

    @property
    def reference(self) -> DsrlReference:
        return dsrl_references()[self.name]

    def field(self, name: str) -> ObsField:
        for f in self.schema:
            if f.name == name:
                return f
        raise TaskError(f"task {self.name} has no observation field {name!r}")

    @property
    def lidar_layout(self) -> tuple[int, int, int] | None:
        """(first index, object kinds, bins per kind) of the lidar in the observation; None: no lidar."""
        return None

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        raise NotImplementedError

    def summary(self) -> dict:
        ref = self.reference
        return {
            "name": self.name,
            "kind": self.kind,
            "gym_id": self.gym_id,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "cost_threshold": None,
            "max_episode_steps": self.max_episode_steps,
            "dsrl_env_id": self.dsrl_env_id,
            "dsrl_max_episode_reward": ref.max_episode_reward,
            "dsrl_min_episode_reward": ref.min_episode_reward,
            "dsrl_max_episode_cost": ref.max_episode_cost,
        }


@dataclass(frozen=True, kw_only=True)
class VelocityTaskSpec(TaskSpec):
    """A gymnasium MuJoCo v4 locomotion env with Safety-Gymnasium v1's velocity cost."""

    kind: ClassVar[str] = "velocity"
    cost_threshold: float  # velocity above which a step costs 1
    velocity_fields: tuple[str, ...]  # schema names whose (norm of) value the cost rule tests
    gym_kwargs: dict = field(default_factory=dict)
    planar_speed: bool = False

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """A fresh env with the velocity cost in ``info['cost']`` and a 1000-step limit.

        It is exactly ``gym.make(gym_id)``'s env, built from a model compiled once per
        process (`safemil.tasks.compiled`): the XML compile was most of the cost of an
        env, and every evaluation builds one per lock-step slot.
        """
        # imported here: it imports MuJoCo, which only building an env needs
        from safemil.tasks.compiled import cached_creator

        registered = gym.spec(self.gym_id)
        with warnings.catch_warnings(), _quiet_mujoco_deprecations():
            warnings.simplefilter("ignore")  # gymnasium warns that v4 is superseded by v5
            env = gym.make(
                dataclasses.replace(registered, entry_point=cached_creator(registered.entry_point)),
                max_episode_steps=self.max_episode_steps,
                render_mode=render_mode,
                disable_env_checker=True,
                **self.gym_kwargs,
            )
        # The spec names the registered entry point, as plain gym.make's does (it can be remade from it).
        env.unwrapped.spec = dataclasses.replace(env.unwrapped.spec, entry_point=registered.entry_point)
        return VelocityCost(env, self.cost_threshold, planar=self.planar_speed)

    def summary(self) -> dict:
        return {**super().summary(), "cost_threshold": self.cost_threshold}


@dataclass(frozen=True, kw_only=True)
class NavTaskSpec(TaskSpec):
    """A Safety-Gymnasium navigation task rebuilt in `safemil.tasks.nav` (0/1 step cost from its rules)."""

    kind: ClassVar[str] = "navigation"
    cost_rule: str

    @property
    def lidar_layout(self) -> tuple[int, int, int] | None:
        cfg = NAV_CONFIGS[self.name]
        return cfg.lidar_layout if cfg.lidar_kinds else None

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """A fresh env; the step cost is ``info['cost']``, the episode is truncated at its length."""
        # imported here: it imports MuJoCo, which only building an env needs
        from safemil.tasks.nav.env import NavEnv

        return NavEnv(self.name, render_mode=render_mode)

    def summary(self) -> dict:
        return {**super().summary(), "cost_rule": self.cost_rule}


@contextlib.contextmanager
def _quiet_mujoco_deprecations():
    """Drop MuJoCo's compiler deprecation notices while gymnasium loads its own XML.

    gymnasium's half_cheetah.xml still uses ``settotalmass``; MuJoCo 3.3+ prints a
    deprecation line for it on every env built (eleven per HalfCheetah evaluation).
    Any other MuJoCo warning is printed as MuJoCo itself would.
    """
    import mujoco

    def forward(msg: str) -> None:
        if "deprecated" not in msg:
            print(f"WARNING: {msg}", file=sys.stderr)

    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(forward)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def _schema(pos: list[tuple[str, str, str]], vel: list[tuple[str, str, str]]) -> tuple[ObsField, ...]:
    entries = pos + vel
    return tuple(ObsField(n, i, m, u) for i, (n, m, u) in enumerate(entries))


def _joints(names: list[str], kind: str) -> list[tuple[str, str, str]]:
    if kind == "angle":
        return [(f"{n}_angle", f"{n.replace('_', ' ')} joint angle", "rad") for n in names]
    return [(f"{n}_angular_velocity", f"{n.replace('_', ' ')} joint angular velocity", "rad/s") for n in names]


_ROOT_Z = ("z_position", "torso height", "m")
_ROOT_ANGLE = ("torso_angle", "torso pitch angle", "rad")
_VX = ("x_velocity", "forward (x) velocity of the torso", "m/s")
_VZ = ("z_velocity", "vertical velocity of the torso", "m/s")
_WY = ("torso_angular_velocity", "torso pitch angular velocity", "rad/s")

_CHEETAH_J = ["back_thigh", "back_shin", "back_foot", "front_thigh", "front_shin", "front_foot"]
_WALKER_J = ["right_thigh", "right_leg", "right_foot", "left_thigh", "left_leg", "left_foot"]
_HOPPER_J = ["thigh", "leg", "foot"]
_ANT_J = ["hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3", "hip_4", "ankle_4"]

TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        VelocityTaskSpec(
            name="HalfCheetahVelocity",
            gym_id="HalfCheetah-v4",
            obs_dim=17,
            act_dim=6,
            cost_threshold=3.2096,
            max_episode_steps=1000,
            schema=_schema(
                [_ROOT_Z, _ROOT_ANGLE] + _joints(_CHEETAH_J, "angle"),
                [_VX, _VZ, _WY] + _joints(_CHEETAH_J, "vel"),
            ),
            velocity_fields=("x_velocity",),
            dsrl_env_id="OfflineHalfCheetahVelocityGymnasium-v1",
        ),
        VelocityTaskSpec(
            name="HopperVelocity",
            gym_id="Hopper-v4",
            obs_dim=11,
            act_dim=3,
            cost_threshold=0.7402,
            max_episode_steps=1000,
            schema=_schema(
                [_ROOT_Z, _ROOT_ANGLE] + _joints(_HOPPER_J, "angle"),
                [_VX, _VZ, _WY] + _joints(_HOPPER_J, "vel"),
            ),
            velocity_fields=("x_velocity",),
            dsrl_env_id="OfflineHopperVelocityGymnasium-v1",
        ),
        VelocityTaskSpec(
            name="Walker2dVelocity",
            gym_id="Walker2d-v4",
            obs_dim=17,
            act_dim=6,
            cost_threshold=2.3415,
            max_episode_steps=1000,
            schema=_schema(
                [_ROOT_Z, _ROOT_ANGLE] + _joints(_WALKER_J, "angle"),
                [_VX, _VZ, _WY] + _joints(_WALKER_J, "vel"),
            ),
            velocity_fields=("x_velocity",),
            dsrl_env_id="OfflineWalker2dVelocityGymnasium-v1",
        ),
        VelocityTaskSpec(
            name="SwimmerVelocity",
            gym_id="Swimmer-v4",
            obs_dim=8,
            act_dim=2,
            cost_threshold=0.2282,
            max_episode_steps=1000,
            schema=_schema(
                [("tip_angle", "angle of the front tip", "rad")]
                + _joints(["rotor_1", "rotor_2"], "angle"),
                [
                    _VX,
                    ("y_velocity", "sideways (y) velocity of the front tip", "m/s"),
                    ("tip_angular_velocity", "angular velocity of the front tip", "rad/s"),
                ]
                + _joints(["rotor_1", "rotor_2"], "vel"),
            ),
            velocity_fields=("x_velocity",),
            dsrl_env_id="OfflineSwimmerVelocityGymnasium-v1",
        ),
        VelocityTaskSpec(
            name="AntVelocity",
            gym_id="Ant-v4",
            obs_dim=27,
            act_dim=8,
            cost_threshold=2.6222,
            max_episode_steps=1000,
            schema=_schema(
                [
                    _ROOT_Z,
                    ("torso_quat_w", "torso orientation quaternion w", "1"),
                    ("torso_quat_x", "torso orientation quaternion x", "1"),
                    ("torso_quat_y", "torso orientation quaternion y", "1"),
                    ("torso_quat_z", "torso orientation quaternion z", "1"),
                ]
                + _joints(_ANT_J, "angle"),
                [
                    _VX,
                    ("y_velocity", "sideways (y) velocity of the torso", "m/s"),
                    _VZ,
                    ("torso_angular_velocity_x", "torso roll rate", "rad/s"),
                    ("torso_angular_velocity_y", "torso pitch rate", "rad/s"),
                    ("torso_angular_velocity_z", "torso yaw rate", "rad/s"),
                ]
                + _joints(_ANT_J, "vel"),
            ),
            velocity_fields=("x_velocity", "y_velocity"),
            gym_kwargs={"use_contact_forces": False},
            planar_speed=True,
            dsrl_env_id="OfflineAntVelocityGymnasium-v1",
        ),
    ]
}


NAV_GYM_PREFIX = "safemil/Safety"


def _nav_spec(name: str) -> NavTaskSpec:
    cfg = NAV_CONFIGS[name]
    entries = schema_entries(cfg)
    return NavTaskSpec(
        name=name,
        gym_id=f"{NAV_GYM_PREFIX}{name}-v0",
        obs_dim=cfg.obs_dim,
        act_dim=2,
        max_episode_steps=cfg.episode_steps,
        schema=tuple(ObsField(n, i, m, u) for i, (n, m, u) in enumerate(entries)),
        dsrl_env_id=f"Offline{name}Gymnasium-v0",
        cost_rule=COST_RULES[name],
    )


TASKS.update({name: _nav_spec(name) for name in NAV_CONFIGS})
for _name, _t in TASKS.items():  # gym.make(spec.gym_id) works for the navigation tasks too
    if _t.kind == "navigation" and _t.gym_id not in gym.registry:
        gym.register(_t.gym_id, entry_point="safemil.tasks.nav.env:NavEnv", kwargs={"task": _name},
                     disable_env_checker=True)

KINDS = ("velocity", "navigation", "all")


def list_tasks(kind: str = "velocity") -> list[TaskSpec]:
    """Tasks of one kind, or ``"all"``.

    Velocity by default: the trained behaviour policies, the ``default`` grid and the
    default datasets page are the velocity tasks'; the navigation tasks have their own
    (scripted controllers, the ``nav`` grid, ``docs/datasets-navigation.md``).
    """
    if kind not in KINDS:
        raise TaskError(f"unknown task kind {kind!r}; known: {', '.join(KINDS)}")
    return [t for t in TASKS.values() if kind in ("all", t.kind)]


def get_task(name: str) -> TaskSpec:
    """Look a task up by our name, DSRL env id, or Safety-Gymnasium id (case-insensitive)."""
    key = name.strip()
    lowered = {k.lower(): v for k, v in TASKS.items()}
    for t in TASKS.values():
        lowered.setdefault(t.dsrl_env_id.lower(), t)
        lowered.setdefault(t.dsrl_env_id.lower().removeprefix("offline"), t)
        lowered.setdefault("safety" + t.dsrl_env_id.lower().removeprefix("offline"), t)
    if key.lower() in lowered:
        return lowered[key.lower()]
    raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")


# Consistency check at import: the schema must cover the observation exactly.
for _t in TASKS.values():
    assert len(_t.schema) == _t.obs_dim, _t.name
