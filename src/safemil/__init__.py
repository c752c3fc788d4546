"""safemil: learn safe control policies offline from weak safety signals.

The Python API (each function is the matching `safemil` command):

    import safemil

    data = safemil.load_dataset("SwimmerVelocity")   # a task's default dataset, a path, or a DSRL file name
    run = safemil.train("safemil", "SwimmerVelocity", out="runs/demo",
                        overrides=["policy_steps=2000", "mil.steps=500", "eval.episodes=10"])
    print(run.metrics["normalized_return"], run.metrics["normalized_cost"])
    safemil.evaluate(run.run_dir, episodes=20)

`safemil.tasks()` and `safemil.algorithms()` list what is registered; the modules below
(`safemil.data`, `safemil.costs`, `safemil.policies`, `safemil.algos`, ...) are the parts.
"""

__version__ = "0.1.0"

import warnings  # noqa: E402

from safemil.cpu_kernels import loaded_too_early, pin_kernels  # noqa: E402

# Before anything imports numpy or torch: the same seed gives the same numbers on any x86-64 CPU.
_too_early = loaded_too_early(pin_kernels())
if _too_early:
    warnings.warn(f"{' and '.join(_too_early)} was imported before safemil, so its AVX2 kernels could not be pinned: "
                  "on an AVX-512 CPU, datasets and runs may differ from the recorded ones (import safemil first, "
                  "or see docs/reproducibility.md)", stacklevel=2)

from safemil.api import Run, algorithms, evaluate, load_dataset, resume, tasks, train  # noqa: E402

__all__ = ["__version__", "Run", "algorithms", "evaluate", "load_dataset", "resume", "tasks", "train"]
