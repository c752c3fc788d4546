"""Where grid cells run: a local process pool (default) or Ray tasks (optional extra).

Both expose ``run(fn, items)``, a generator of ``(item, result_or_exception)`` in
completion order. The function must not raise for ordinary failures (see
`safemil.bench.worker.run_one`); an exception here means the worker itself
died (a crash, out of memory), which the grid records as that cell's failure.
Every worker uses one torch/BLAS thread: cells run in parallel, not threads.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from safemil.cpu_kernels import OPT_OUT, pinned_variables
from safemil.errors import ConfigError, SafemilError

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    name: str
    workers: int

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]: ...


def _init_worker() -> None:
    for v in THREAD_VARS:
        os.environ[v] = "1"
    import torch

    torch.set_num_threads(1)


class LocalExecutor:
    """A pool of ``workers`` spawned processes (default: one per core).

    If a worker process dies (a crash, the OOM killer) the whole pool breaks
    and every unfinished cell in it fails with it. Those cells are then run
    again, each alone in a fresh one-process pool, so only the cell that
    really kills its worker is reported as failed.
    """

    name = "local"

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.workers = workers or available_cores()

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        todo = list(items)
        if not todo:
            return
        suspects: list[Any] = []
        yield from self._pool(fn, todo, self.workers, suspects)
        for item in suspects:  # second chance, isolated
            yield from self._pool(fn, [item], 1, None)

    def _pool(self, fn, items: list, workers: int, suspects: list | None) -> Iterator[tuple[Any, Any]]:
        ctx = mp.get_context("spawn")  # no fork of a process that holds torch/OpenMP state
        pool = ProcessPoolExecutor(min(workers, len(items)), mp_context=ctx, initializer=_init_worker)
        restore = _exit_on_sigterm()
        try:
            futures = {pool.submit(fn, item): item for item in items}
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        res = f.result()
                    except BrokenProcessPool as e:
                        if suspects is not None:
                            suspects.append(futures[f])
                            continue
                        res = e
                    except Exception as e:  # noqa: BLE001 - the worker's own crash, reported per cell
                        res = e
                    yield futures[f], res
        except BaseException:  # Ctrl-C or the consumer gave up: stop the workers now, do not
            _terminate(pool)  # let them start queued cells (the runs are resumable anyway)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            restore()


def _exit_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM (kill, a scheduler's stop) raise, so the pool's workers are stopped with it.

    By default SIGTERM ends the process at once and the spawned workers go on running their queued
    cells, competing with whatever runs next. Returns what restores the previous handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # handlers can only be set from the main thread

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _terminate(pool: ProcessPoolExecutor) -> None:
    # The executor has no public way to stop running work; its worker processes are `_processes`.
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()


class RayExecutor:
    """The same cells as Ray tasks (1 CPU each) on a cluster (``address``) or a local Ray instance.

    With no address a private local instance with ``workers`` CPUs is started
    and stopped again; its workers import this process's code (its ``sys.path``
    is handed to them), so a local run uses exactly the code the driver uses.
    On a cluster, safemil must be installed on the nodes and the datasets
    readable at the same paths.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, max_retries: int = 1):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SafemilError("the Ray executor needs Ray: pip install 'safemil[ray]'") from None
        self.address = address
        self.workers = workers or available_cores()
        self.max_retries = max_retries

    def _init(self):
        import ray

        env = {v: "1" for v in THREAD_VARS}
        if self.address is None:
            paths = [p for p in sys.path if p and os.path.isdir(p)]
            env["PYTHONPATH"] = os.pathsep.join(paths)
            # this machine's kernel pins (`safemil.cpu_kernels`), set before a worker loads numpy or torch
            for k in ("SAFEMIL_DATA_DIR", "DSRL_DATASET_DIR", "MUJOCO_GL", OPT_OUT, *pinned_variables()):
                if k in os.environ:
                    env[k] = os.environ[k]
            ray.init(address="local", num_cpus=self.workers, include_dashboard=False,
                     log_to_driver=False, object_store_memory=128 * 1024**2,
                     runtime_env={"env_vars": env}, configure_logging=False)
        else:
            try:
                ray.init(address=self.address, log_to_driver=False, runtime_env={"env_vars": env},
                         configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                hint = "" if os.environ.get("RAY_AUTH_MODE") else \
                    " (if the cluster uses token authentication: export RAY_AUTH_MODE=token)"
                raise SafemilError(f"cannot connect to Ray at {self.address!r}: "
                                   f"{' '.join(str(e).split())}{hint}") from None

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        import ray

        todo = list(items)
        if not todo:
            return
        started = not ray.is_initialized()
        if started:
            self._init()
        try:
            task = ray.remote(num_cpus=1, max_retries=self.max_retries)(fn)
            refs = {task.remote(item): item for item in todo}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for r in done:
                    try:
                        yield refs[r], ray.get(r)
                    except Exception as e:  # noqa: BLE001 - a dead worker or a lost node
                        yield refs[r], e
        finally:
            if started:
                ray.shutdown()


def make_executor(kind: str, workers: int | None = None, address: str | None = None) -> Executor:
    if kind == "local":
        if address is not None:
            raise ConfigError("--ray-address needs --executor ray")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(address, workers)
    raise ConfigError(f"unknown executor {kind!r}; choose local or ray")
