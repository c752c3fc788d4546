"""What each navigation task contains, as plain data (the facts of Safety-Gymnasium's level files).

Kept apart from the physics so the layout sampler, the model builder and the
observation code all read one description and cannot disagree on object order.
"""

from __future__ import annotations

from dataclasses import dataclass

from safemil.tasks.nav.lidar import NUM_BINS as LIDAR_BINS

SENSOR_DIM = 12  # accelerometer, velocimeter, gyro, magnetometer (x, y, z each), before the lidar

# placement area (xmin, ymin, xmax, ymax) of the Goal1 / Button1 tasks
EXTENTS_LEVEL1 = (-1.5, -1.5, 1.5, 1.5)


@dataclass(frozen=True)
class ObjectKind:
    """One kind of object; ``count`` 0 means a single object named ``name`` (goal, circle)."""

    name: str  # lidar / info name: "goal", "hazards", "vases", "buttons", "gremlins", "circle", "sigwalls"
    body: str  # body-name stem: "goal", "hazard", "vase", ...
    count: int  # 0: a unique object (no index in its body name)
    keepout: float
    mobility: str  # "geom" (fixed), "free" (free joint) or "mocap" (welded to a mocap body)
    lidar: bool = True
    fixed_xy: tuple[tuple[float, float], ...] = ()  # explicit locations (Circle: circle, walls)

    def names(self) -> list[str]:
        """Layout names in placement order (``hazard0`` .. ``hazard7``, or ``goal``)."""
        if self.count == 0:
            return [self.body]
        return [f"{self.body}{i}" for i in range(self.count)]


@dataclass(frozen=True)
class NavTaskConfig:
    name: str
    kinds: tuple[ObjectKind, ...]  # in upstream's obstacle order: fixed geoms, free geoms, mocaps
    extents: tuple[float, float, float, float]
    agent_placement: tuple[float, float, float, float] | None  # None: the whole extents
    agent_keepout: float
    lidar_range: float
    episode_steps: int
    goal_mode: str  # "goal" (reach a placed goal), "button" (press the goal button), "circle"
    hazard_size: float = 0.2
    goal_size: float = 0.3  # radius of the goal cylinder (and, for "goal", the reach distance)
    gremlin_travel: float = 0.35
    boundary: float = 1.125  # Circle: |x| or |y| above it costs

    def kind(self, name: str) -> ObjectKind:
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(k.name == name for k in self.kinds)

    @property
    def lidar_kinds(self) -> tuple[ObjectKind, ...]:
        return tuple(k for k in self.kinds if k.lidar)

    @property
    def obs_dim(self) -> int:
        return SENSOR_DIM + LIDAR_BINS * len(self.lidar_kinds)

    @property
    def lidar_layout(self) -> tuple[int, int, int]:
        """(first index, kinds, bins): after the 12 sensor values, one block of 16 bins per lidar kind."""
        return SENSOR_DIM, len(self.lidar_kinds), LIDAR_BINS


_WALLS = ObjectKind(
    "sigwalls", "sigwall", 4, 0.0, "geom", lidar=False,
    fixed_xy=((1.125, 0.0), (-1.125, 0.0), (0.0, 1.125), (0.0, -1.125)),
)

NAV_CONFIGS: dict[str, NavTaskConfig] = {
    c.name: c
    for c in [
        NavTaskConfig(
            name="PointGoal1",
            kinds=(
                ObjectKind("goal", "goal", 0, 0.305, "geom"),
                ObjectKind("hazards", "hazard", 8, 0.18, "geom"),
                ObjectKind("vases", "vase", 1, 0.15, "free"),
            ),
            extents=EXTENTS_LEVEL1,
            agent_placement=None,
            agent_keepout=0.4,
            lidar_range=3.0,
            episode_steps=1000,
            goal_mode="goal",
        ),
        NavTaskConfig(
            name="PointButton1",
            kinds=(
                ObjectKind("buttons", "button", 4, 0.2, "geom"),
                ObjectKind("goal", "goal", 0, 0.4, "geom"),
                ObjectKind("hazards", "hazard", 4, 0.18, "geom"),
                ObjectKind("gremlins", "gremlin", 4, 0.4, "mocap"),
            ),
            extents=EXTENTS_LEVEL1,
            agent_placement=None,
            agent_keepout=0.4,
            lidar_range=3.0,
            episode_steps=1000,
            goal_mode="button",
            goal_size=0.2,
        ),
        NavTaskConfig(
            name="PointCircle2",
            kinds=(
                ObjectKind("circle", "circle", 0, 0.0, "geom", fixed_xy=((0.0, 0.0),)),
                _WALLS,
            ),
            extents=(-2.0, -2.0, 2.0, 2.0),  # unused: every Circle object has a fixed location
            agent_placement=(-0.8, -0.8, 0.8, 0.8),
            agent_keepout=0.0,
            lidar_range=6.0,
            episode_steps=500,
            goal_mode="circle",
        ),
    ]
}
