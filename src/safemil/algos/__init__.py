"""Named algorithms, found by name by the CLI and the benchmark runner.

Each module registers one `AlgoSpec` (name, ONE config dataclass, factory,
oracle flag). Importing this package registers them all.
"""

from safemil.algos import (  # noqa: F401,E402  (registration side effects)
    bc_safe,
    bc_u,
    bcq_lag,
    dwbc_nu,
    proco,
    safedice,
    safemil,
    trex_wbc,
)
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
