"""The MuJoCo model of a navigation task: compiled once per task, then only moved.

Upstream writes a fresh XML and recompiles it on every reset (about a second).
Here every object of a task is in one compiled model from the start; a reset
sets body poses, free-joint poses and the gremlins' weld offsets in place, so
the physics equals a model compiled at that layout (the body order, and hence
the qpos/qvel order, is upstream's: agent, free objects, mocap bodies, fixed objects).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache

import mujoco
import numpy as np

from safemil.tasks.nav.config import NAV_CONFIGS, NavTaskConfig

AGENT_Z = 0.1
CIRCLE_CENTRE = "circle_centre"  # a site fixed at the world origin
AGENT_GEOMS = ("agent", "pointarrow")
_ROBOT = """
    <body name="agent" pos="0 0 0.1">
      <joint type="slide" axis="1 0 0" name="x" damping="0.01"/>
      <joint type="slide" axis="0 1 0" name="y" damping="0.01"/>
      <joint type="hinge" axis="0 0 1" name="z" damping="0.005"/>
      <geom name="agent" type="sphere" size=".1" friction="1 0.01 0.01"/>
      <geom name="pointarrow" pos="0.1 0 0" size="0.05 0.05 0.05" type="box" rgba="0.0039 0.1529 0.3961 1"/>
      <site name="agent" rgba="1 0 0 .1"/>
    </body>"""
_HEAD = """<mujoco model="{name}">
  <option timestep="0.002"/>
  <default>
    <geom condim="6" density="1" rgba="0.7412 0.0431 0.1843 1"/>
    <joint damping=".001"/>
    <motor ctrlrange="-1 1" ctrllimited="true" forcerange="-.05 .05" forcelimited="true"/>
    <velocity ctrlrange="-1 1" ctrllimited="true" forcerange="-.05 .05" forcelimited="true"/>
    <site size="0.032" type="sphere"/>
  </default>
  <worldbody>
    <light directional="true" dir="0 0 -1" pos="0 0 0.5" castshadow="false"/>
    <geom name="floor" size="3.5 3.5 0.1" type="plane" condim="6" rgba="1 1 1 1"/>
    <site name="circle_centre" pos="0 0 0" size="0.01"/>"""
# sensordata layout: the 12 observed values, then what the task rules and the lidar read, so one
# copy of sensordata per step gives everything (each is an exact copy of xpos / xmat / a velocity)
OBS_SENSORS = 12
AGENT_POS = 12  # framepos of the robot body (= xpos)
AGENT_XAXIS = 15  # its x axis in the world: xmat[0], xmat[3], xmat[6]
AGENT_YAXIS = 18  # its y axis in the world: xmat[1], xmat[4], xmat[7]
AGENT_VEL = 21  # world linear velocity of the robot's origin
OBJECTS = 24  # then framepos (= xpos) of every lidar object, 3 values each, in observation order
_SENSORS = """
  <sensor>
    <accelerometer site="agent" name="accelerometer"/>
    <velocimeter site="agent" name="velocimeter"/>
    <gyro site="agent" name="gyro"/>
    <magnetometer site="agent" name="magnetometer"/>
    <framepos objtype="xbody" objname="agent"/>
    <framexaxis objtype="xbody" objname="agent"/>
    <frameyaxis objtype="xbody" objname="agent"/>
    <framelinvel objtype="xbody" objname="agent"/>
    {objects}
  </sensor>"""
_TAIL = """
  <actuator>
    <motor gear="0.3 0 0 0 0 0" site="agent" name="x"/>
    <velocity gear="0.3" joint="z" name="z"/>
  </actuator>
</mujoco>"""

# fixed (static) geoms: (type, size, z of the body, contype/conaffinity 0 when it does not collide, rgba)
_COLOURS = {
    "goal": "0 1 0 0.25", "hazard": "0 0 1 0.25", "vase": "0 1 1 1", "button": "1 0.5 0 1",
    "gremlin": "0.5 0 1 1", "circle": "0 1 0 0.1", "sigwall": "1 1 0 0.1",
}


def _static_geom(cfg: NavTaskConfig, body: str, name: str) -> tuple[str, float]:
    """The geom element of one fixed object and its body height (upstream's sizes)."""
    rgba = _COLOURS[body]
    if body == "goal":
        s = cfg.goal_size
        return (f'<geom name="{name}" type="cylinder" size="{s} {s / 2}" contype="0" conaffinity="0" '
                f'rgba="{rgba}"/>', s / 2 + 1e-2)
    if body == "hazard":
        return (f'<geom name="{name}" type="cylinder" size="{cfg.hazard_size} 0.01" contype="0" conaffinity="0" '
                f'rgba="{rgba}"/>', 2e-2)
    if body == "button":
        return f'<geom name="{name}" type="sphere" size="0.1 0.1 0.1" rgba="{rgba}"/>', 0.1
    if body == "circle":
        return (f'<geom name="{name}" type="cylinder" size="1.5 0.01" contype="0" conaffinity="0" '
                f'rgba="{rgba}"/>', 1e-2)
    if body == "sigwall":
        return (f'<geom name="{name}" type="box" size="0.05 3.5 0.3" contype="0" conaffinity="0" '
                f'rgba="{rgba}"/>', 0.25)
    raise ValueError(body)


def build_xml(cfg: NavTaskConfig) -> str:
    """One XML holding the robot and every object of the task, all at placeholder poses."""
    bodies: list[str] = [_ROBOT]
    welds: list[str] = []
    for kind in cfg.kinds:  # free objects (vases, gremlin boxes) come right after the agent
        if kind.mobility == "free":
            for n in kind.names():
                bodies.append(f'<body name="{n}" pos="0 0 0.1"><freejoint name="{n}"/>'
                              f'<geom name="{n}" type="box" size="0.1 0.1 0.1" density="0.001" '
                              f'rgba="{_COLOURS[kind.body]}"/></body>')
        elif kind.mobility == "mocap":
            for n in kind.names():
                bodies.append(f'<body name="{n}obj" pos="0 0 0.1"><freejoint name="{n}obj"/>'
                              f'<geom name="{n}obj" type="box" size="0.1 0.1 0.1" density="0.001" '
                              f'rgba="{_COLOURS[kind.body]}"/></body>')
    for kind in cfg.kinds:
        if kind.mobility == "mocap":
            for n in kind.names():
                bodies.append(f'<body name="{n}mocap" mocap="true"><geom name="{n}mocap" type="box" '
                              f'size="0.1 0.1 0.1" pos="0 0 0.1" contype="0" conaffinity="0" '
                              f'rgba="0.05 0 0.1 0.1"/></body>')
                welds.append(f'<weld name="{n}mocap" body1="{n}mocap" body2="{n}obj" solref=".02 1.5"/>')
    for kind in cfg.kinds:
        if kind.mobility == "geom":
            for n in kind.names():
                geom, z = _static_geom(cfg, kind.body, n)
                bodies.append(f'<body name="{n}" pos="0 0 {z}">{geom}</body>')
    eq = f"\n  <equality>{''.join(welds)}</equality>" if welds else ""
    objects = "".join(f'<framepos objtype="{t}" objname="{n}"/>' for t, n in lidar_points(cfg))
    return (_HEAD.format(name=cfg.name) + "\n    " + "\n    ".join(bodies) + "\n  </worldbody>"
            + eq + _SENSORS.format(objects=objects) + _TAIL)


def lidar_points(cfg: NavTaskConfig) -> list[tuple[str, str]]:
    """(MuJoCo object type, name) of each point the lidar sees, in observation order.

    Bodies (gremlins: the welded boxes), except the circle: upstream's lidar sees the exact
    origin while the circle body sits where its layout draw put it (within 1e-9 of it).
    """
    return [("site", CIRCLE_CENTRE) if k.name == "circle" else ("xbody", n + ("obj" if k.mobility == "mocap" else ""))
            for k in cfg.lidar_kinds for n in k.names()]


@cache
def _compiled(task: str) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(build_xml(NAV_CONFIGS[task]))


def new_model(task: str) -> mujoco.MjModel:
    """A private copy of the task's compiled model (resets write body poses into it)."""
    return copy.deepcopy(_compiled(task))


@dataclass
class Handles:
    """Indices into the model that the env touches every step, looked up once."""

    agent_body: int
    agent_geoms: np.ndarray  # bool mask over geoms: part of the robot
    lidar_bodies: np.ndarray  # body ids of every lidar-observed object, kinds in observation order
    lidar_kind: np.ndarray  # kind index (0..K-1) of each entry of lidar_bodies
    kind_bodies: dict[str, np.ndarray]  # body ids per kind name (gremlins: the welded boxes)
    kind_geoms: dict[str, np.ndarray]  # geom ids per kind name
    free_qpos: dict[str, int]  # qpos address per free body name (vases, gremlin boxes)
    weld_eq: np.ndarray  # equality ids of the gremlin welds
    mocap_geoms: np.ndarray  # geom ids of the (visual) mocap boxes


def handles(model: mujoco.MjModel, cfg: NavTaskConfig) -> Handles:
    def body(n: str) -> int:
        return model.body(n).id

    kind_bodies: dict[str, np.ndarray] = {}
    kind_geoms: dict[str, np.ndarray] = {}
    free_qpos: dict[str, int] = {}
    for k in cfg.kinds:
        suffix = "obj" if k.mobility == "mocap" else ""
        names = [n + suffix for n in k.names()]
        kind_bodies[k.name] = np.array([body(n) for n in names], dtype=np.int64)
        kind_geoms[k.name] = np.array([model.geom(n).id for n in names], dtype=np.int64)
        if k.mobility in ("free", "mocap"):
            for n in names:
                free_qpos[n] = int(model.jnt_qposadr[model.joint(n).id])
    lidar = [k for k in cfg.kinds if k.lidar]
    lidar_bodies = np.concatenate([kind_bodies[k.name] for k in lidar])
    lidar_kind = np.concatenate([np.full(len(kind_bodies[k.name]), i) for i, k in enumerate(lidar)])
    agent_geoms = np.zeros(model.ngeom, dtype=bool)
    for g in AGENT_GEOMS:
        agent_geoms[model.geom(g).id] = True
    assert list(model.jnt_qposadr[:3]) == [0, 1, 2], "the robot's x, y, z joints come first"
    mocaps = [n for k in cfg.kinds if k.mobility == "mocap" for n in k.names()]
    return Handles(
        agent_body=body("agent"),
        agent_geoms=agent_geoms,
        lidar_bodies=lidar_bodies,
        lidar_kind=lidar_kind,
        kind_bodies=kind_bodies,
        kind_geoms=kind_geoms,
        free_qpos=free_qpos,
        weld_eq=np.array([model.equality(n + "mocap").id for n in mocaps], dtype=np.int64),
        mocap_geoms=np.array([model.geom(n + "mocap").id for n in mocaps], dtype=np.int64),
    )


def yaw_quat(theta: float) -> np.ndarray:
    """Quaternion of a rotation by ``theta`` about z (upstream's ``rot2quat``)."""
    return np.array([np.cos(theta / 2), 0.0, 0.0, np.sin(theta / 2)])
