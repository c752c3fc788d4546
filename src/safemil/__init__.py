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

from safemil.api import Run, algorithms, evaluate, load_dataset, resume, tasks, train  # noqa: E402

__all__ = ["__version__", "Run", "algorithms", "evaluate", "load_dataset", "resume", "tasks", "train"]
