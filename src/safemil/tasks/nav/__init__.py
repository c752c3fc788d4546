"""Safety-Gymnasium's navigation tasks (PointGoal1, PointButton1, PointCircle2) on the installed MuJoCo.

One job per module: ``config`` (what each task contains), ``layout`` (upstream's
placement rule and random stream), ``model`` (the MuJoCo model, built once per
task), ``lidar`` (pseudo-lidar), ``rules`` (reward, cost, goal and timers),
``env`` (the gymnasium env). This package file stays light: importing it does
not import MuJoCo; `NavEnv` lives in ``safemil.tasks.nav.env``.
"""

from safemil.tasks.nav.config import NAV_CONFIGS, NavTaskConfig, ObjectKind
from safemil.tasks.nav.schema import COST_RULES, schema_entries

__all__ = ["COST_RULES", "NAV_CONFIGS", "NavTaskConfig", "ObjectKind", "schema_entries"]
