"""Named tasks with everything downstream code needs to know about them."""

from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass, field

import gymnasium as gym

from safemil.errors import TaskError
from safemil.tasks.reference import DsrlReference, dsrl_references
from safemil.tasks.velocity import VelocityCost


@dataclass(frozen=True)
class ObsField:
    """One named entry of the observation vector (used by knowledge-grounded costs)."""

    name: str
    index: int
    meaning: str
    unit: str


@dataclass(frozen=True)
class TaskSpec:
    name: str
    gym_id: str
    obs_dim: int
    act_dim: int
    cost_threshold: float  # velocity above which a step costs 1
    max_episode_steps: int
    schema: tuple[ObsField, ...]
    velocity_fields: tuple[str, ...]  # schema names whose (norm of) value the cost rule tests
    gym_kwargs: dict = field(default_factory=dict)
    planar_speed: bool = False
    dsrl_env_id: str = ""

    @property
    def reference(self) -> DsrlReference:
        return dsrl_references()[self.name]

    def field(self, name: str) -> ObsField:
        for f in self.schema:
            if f.name == name:
                return f
        raise TaskError(f"task {self.name} has no observation field {name!r}")

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """A fresh env with the velocity cost in ``info['cost']`` and a 1000-step limit."""
        with warnings.catch_warnings(), _quiet_mujoco_deprecations():
            warnings.simplefilter("ignore")  # gymnasium warns that v4 is superseded by v5
            env = gym.make(
                self.gym_id,
                max_episode_steps=self.max_episode_steps,
                render_mode=render_mode,
                disable_env_checker=True,
                **self.gym_kwargs,
            )
        return VelocityCost(env, self.cost_threshold, planar=self.planar_speed)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "gym_id": self.gym_id,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "cost_threshold": self.cost_threshold,
            "max_episode_steps": self.max_episode_steps,
            "dsrl_env_id": self.dsrl_env_id,
        }


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
        TaskSpec(
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
        TaskSpec(
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
        TaskSpec(
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
        TaskSpec(
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
        TaskSpec(
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


def list_tasks() -> list[TaskSpec]:
    return list(TASKS.values())


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
