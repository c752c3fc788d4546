"""Named algorithms, found by name by the CLI and the benchmark runner.

Each module registers one `AlgoSpec` (name, ONE config dataclass, factory,
oracle flag). Importing this package registers them all.
"""

from safemil.algos import bc_safe, bc_u, bcq_lag, proco, safemil  # noqa: F401,E402  (registration side effects)
from safemil.algos.base import (
    Algorithm,
    AlgoSpec,
    LearnerData,
    OracleData,
    get_algo,
    list_algos,
    register,
)

__all__ = ["AlgoSpec", "Algorithm", "LearnerData", "OracleData", "get_algo", "list_algos", "register"]
