"""Build gymnasium MuJoCo envs from a model compiled once per process.

``gym.make("HalfCheetah-v4")`` parses and compiles the XML every time (about 2.5 ms,
more than half of building the env), and every evaluation builds a fresh env per
lock-step slot. `cached_creator` returns a drop-in entry point for `gym.make` that
builds the same env class from a *copy* of a model compiled once per process (plus
a fresh ``MjData``): each env still owns its model and data, so nothing one env does
(a changed ``model.opt``, say) reaches another, and a copy of a compiled model is
the compiled model, so observations, rewards and costs are bit-identical
(``tests/test_tasks.py`` checks it against a plainly built env).

Only envs that use `MujocoEnv`'s own ``_initialize_simulation`` are built this way;
any other entry point is returned unchanged.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
import types

import mujoco
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
from gymnasium.envs.registration import EnvCreator, load_env_creator

_models: dict[tuple[str, int, int], mujoco.MjModel] = {}
_lock = threading.Lock()


def compiled_model(path: str) -> mujoco.MjModel:
    """A private copy of the model compiled from the XML file ``path`` (compiled once per file version)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    with _lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = mujoco.MjModel.from_xml_path(path)
        return copy.copy(model)


def _initialize_from_cache(self: MujocoEnv) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """`MujocoEnv._initialize_simulation` with the XML compile replaced by `compiled_model`."""
    model = compiled_model(self.fullpath)
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
    return model, mujoco.MjData(model)


@functools.cache
def cached_creator(entry_point: str | EnvCreator) -> EnvCreator:
    """An env creator for `gym.make` that builds ``entry_point``'s env from a cached compiled model.

    The env is an ordinary instance of the registered class; only the model compile in
    its constructor is skipped.
    """
    cls = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    if not (isinstance(cls, type) and issubclass(cls, MujocoEnv)
            and cls._initialize_simulation is MujocoEnv._initialize_simulation):
        return cls

    def create(**kwargs) -> MujocoEnv:
        env = cls.__new__(cls)
        env._initialize_simulation = types.MethodType(_initialize_from_cache, env)  # seen by __init__ only
        try:
            env.__init__(**kwargs)
        finally:
            del env._initialize_simulation
        return env

    create.metadata = cls.metadata  # gym.make reads the render modes from the creator
    return create
