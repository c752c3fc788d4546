"""Named observation entries and cost-rule texts of the navigation tasks (for the task registry)."""

from __future__ import annotations

from safemil.tasks.nav.config import NAV_CONFIGS, NavTaskConfig

_SENSORS = [
    ("accelerometer", "robot-frame proper acceleration (reads +9.81 on z at rest)", "m/s^2"),
    ("velocimeter", "robot-frame linear velocity", "m/s"),
    ("gyro", "robot-frame angular velocity", "rad/s"),
    ("magnetometer", "robot-frame magnetic field (world field is (0, -0.5, 0))", "1"),
]

COST_RULES = {
    "PointGoal1": "1 when the robot centre is strictly within 0.2 m of a hazard centre",
    "PointButton1": ("1 when within 0.2 m of a hazard, touching a gremlin, or touching a wrong button "
                     "(wrong buttons are free for 10 steps after a success)"),
    "PointCircle2": "1 when |x| > 1.125 or |y| > 1.125 (robot position)",
}


def schema_entries(cfg: NavTaskConfig) -> list[tuple[str, str, str]]:
    """(name, meaning, unit) per observation entry, in observation order."""
    out = [(f"{s}_{ax}", f"{m}, {ax}", u) for s, m, u in _SENSORS for ax in "xyz"]
    for kind in cfg.lidar_kinds:
        what = kind.name.rstrip("s") if kind.count else kind.name
        for i in range(16):
            out.append((f"{kind.name}_lidar_{i}",
                        f"closeness max(0, 1 - distance / {cfg.lidar_range:g} m) of the nearest {what} at robot-frame "
                        f"angle {22.5 * i:g}-{22.5 * (i + 1):g} deg (aliased into neighbouring bins)", "1"))
    return out


assert all(len(schema_entries(c)) == c.obs_dim for c in NAV_CONFIGS.values())
