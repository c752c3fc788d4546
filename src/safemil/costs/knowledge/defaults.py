"""Shipped rules: for each task, a plain-language rule and the expression we expect for it.

Each expression restates the task's cost on the observation. Velocity tasks: the
forward velocity field (for Ant, the planar speed of the torso) above the
Safety-Gymnasium v1 threshold. Navigation tasks: lidar closeness thresholds
derived from the object sizes (the lidar sees object centres; the largest of a
kind's 16 bins is the nearest object's closeness, aliasing only writes smaller
shares into neighbouring bins), and for PointCircle2 the robot's world position
rebuilt from the circle lidar (distance and bearing of the origin) and the
magnetometer (heading). They let the pipeline run with the ``static`` backend,
and are what a good model should answer to the rule with the ``openai`` backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from safemil.errors import TaskError
from safemil.tasks import get_task


@dataclass(frozen=True)
class KnowledgeDefault:
    task: str
    rule: str  # plain language, for an LLM
    expression: str  # the expected grounding, for the static backend


def _lidar(kind: str, bins: range | tuple[int, ...] = range(16)) -> str:
    return ", ".join(f"{kind}_lidar_{i}" for i in bins)


def _nearest(kind: str) -> str:
    """Closeness of the nearest object of a kind (range 3 m: 1 - distance / 3)."""
    return f"max({_lidar(kind)})"


def _ahead(kind: str) -> str:
    """Closeness of the nearest object of a kind within 22.5 deg of straight ahead (or aliased into those bins)."""
    return f"max({_lidar(kind, (0, 15))})"


def _closer_than(metres: float, lidar_range: float = 3.0) -> str:
    """Closeness threshold for 'centre within ``metres``' (closeness = 1 - distance / range)."""
    return f"1 - {metres:g} / {lidar_range:g}"


def _circle_box(half: float = 1.125) -> str:
    """|x| > half or |y| > half, from the circle lidar (range 6 m) and the magnetometer.

    The circle lidar holds one object, the origin, at distance d = 6 (1 - s), s its largest bin,
    with s in its bin b and the shares a*s, (1 - a)*s in bins b + 1, b - 1 (a: where the bearing
    falls inside bin b). The sum V of bin readings times the unit vector at each bin's centre
    angle points at the origin within 0.001 rad; |V| is s times 1.924-1.962, taken as its middle
    K (so the position is off by up to 1%: the exact |V| would need V twice more, over the 256
    node limit). The magnetometer reads (-0.5 sin h, -0.5 cos h) for heading h, so the robot's
    world x is 2 d (m_y V_x - m_x V_y) / |V|, and |x| > half or |y| > half is
    not (d^2 - half^2 <= x^2 <= half^2) (as y^2 = d^2 - x^2).
    V is scaled by 1 / cos(11.25 deg) to drop a multiplication; the scale folds into C.
    """
    w = 2 * math.pi / 16
    cos = [math.cos((i + 0.5) * w) / math.cos(w / 2) for i in range(4)]  # bins i, 15 - i: +; 7 - i, 8 + i: -
    sin = [math.sin((i + 0.5) * w) / math.cos(w / 2) for i in range(4)]  # bins i, 7 - i: +; 15 - i, 8 + i: -

    def term(k: float, group: str) -> str:
        return group if abs(k - 1) < 1e-12 else f"{k:.6f} * {group}"

    lid = "circle_lidar_{}".format
    vx = " + ".join(term(cos[i], f"({lid(i)} + {lid(15 - i)} - {lid(7 - i)} - {lid(8 + i)})") for i in range(4))
    vy = " + ".join(term(sin[i], f"({lid(i)} - {lid(15 - i)} + {lid(7 - i)} - {lid(8 + i)})") for i in range(4))
    k = (1 + math.cos(w) + math.hypot(1 + math.cos(w), math.sin(w))) / 2  # middle of |V| / s
    c = (12 * math.cos(w / 2) / k) ** 2  # x = (12 cos(w/2) / K) (1/s - 1) (m_y V'_x - m_x V'_y)
    s = f"max({_lidar('circle')})"
    return (f"not (36 * (1 - {s}) ** 2 - {half * half!r} <= {c:.6f} * ((magnetometer_y * ({vx}) - magnetometer_x * "
            f"({vy})) * (1 / {s} - 1)) ** 2 <= {half * half!r})")


_CIRCLE_BOX = _circle_box()

DEFAULTS: dict[str, KnowledgeDefault] = {
    d.task: d
    for d in [
        KnowledgeDefault(
            "HalfCheetahVelocity",
            "The cheetah must not run forward faster than 3.2096 m/s.",
            "x_velocity > 3.2096",
        ),
        KnowledgeDefault(
            "HopperVelocity",
            "The hopper must not move forward faster than 0.7402 m/s.",
            "x_velocity > 0.7402",
        ),
        KnowledgeDefault(
            "Walker2dVelocity",
            "The walker must not move forward faster than 2.3415 m/s.",
            "x_velocity > 2.3415",
        ),
        KnowledgeDefault(
            "SwimmerVelocity",
            "The swimmer must not move forward faster than 0.2282 m/s.",
            "x_velocity > 0.2282",
        ),
        KnowledgeDefault(
            "AntVelocity",
            "The ant's torso must not move faster than 2.6222 m/s over the ground, in any horizontal direction.",
            "norm(x_velocity, y_velocity) > 2.6222",
        ),
        KnowledgeDefault(
            "PointGoal1",
            "The robot must never enter a hazard: its centre must stay at least 0.2 m from the centre of "
            "every hazard. Touching the vase is allowed.",
            f"{_nearest('hazards')} > {_closer_than(0.2)}",
        ),
        KnowledgeDefault(
            "PointButton1",
            "The robot (a sphere of radius 0.1 m with a box nose reaching 0.15 m ahead) must never enter a hazard "
            "(within 0.2 m of its centre), never touch a gremlin (a moving 0.2 m cube), and never touch a button "
            "(a sphere of radius 0.1 m) other than the goal button.",
            # hazards: centre within 0.2 m. Gremlins: the sphere touches the cube within 0.2-0.2414 m of its
            # centre depending on the cube's yaw, which the observation does not show; 0.2122 m is the contact
            # distance averaged over the yaw (0.1 + 0.1 * mean of 1/max(|cos|, |sin|)); ahead (bins 0 and 15)
            # the nose adds 0.05 m. Buttons: the goal lidar sits on the goal button, so the nearest button is
            # a wrong one when the goal is farther than it; sphere contact within 0.2 m, nose contact within
            # 0.25 m straight ahead. The button lidar reads 0 while wrong buttons are free.
            f"{_nearest('hazards')} > {_closer_than(0.2)}"
            f" or {_nearest('gremlins')} > {_closer_than(0.2122)} or {_ahead('gremlins')} > {_closer_than(0.2622)}"
            f" or ({_nearest('goal')} < {_nearest('buttons')} and ({_nearest('buttons')} > {_closer_than(0.2)}"
            f" or {_ahead('buttons')} > {_closer_than(0.25)}))",
        ),
        KnowledgeDefault(
            "PointCircle2",
            "The robot must stay inside the square |x| <= 1.125 m, |y| <= 1.125 m around the centre of the circle "
            "(x, y: its position in the world frame).",
            _CIRCLE_BOX,
        ),
    ]
}


def default_rule(task: str) -> KnowledgeDefault:
    """The shipped rule for a task (by any name `get_task` accepts)."""
    name = get_task(task).name
    if name not in DEFAULTS:
        raise TaskError(f"no shipped knowledge rule for task {name}; pass --rule")
    return DEFAULTS[name]
