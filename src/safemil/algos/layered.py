"""A base learner behind the PROCO data layer: layer steps first, then the base's steps.

The runner sees one algorithm with ``layer.total_steps + base_steps`` steps.
When the layer is done, ``prepare`` turns what it learned into the base's
inputs (weights, an augmented buffer); prepare is deterministic, so a run
resumed past that point simply prepares again.
"""

from __future__ import annotations

from typing import Any

from safemil.algos.base import AlgorithmBase
from safemil.errors import SafemilError
from safemil.proco.layer import ProcoLayer


class Layered(AlgorithmBase):
    def __init__(self, layer: ProcoLayer, learner: Any, base_steps: int):
        self.layer, self.learner = layer, learner  # the base's learner: its policy is the one deployed
        self.n_layer = layer.total_steps
        self.total_steps = self.n_layer + base_steps
        self._prepared = False

    # what subclasses define
    def layer_extra(self, step: int) -> dict[str, float]:
        """Extra work during the layer's feasibility phase (e.g. a reward critic)."""
        return {}

    def prepare(self) -> None: ...

    def base_step(self, step: int) -> dict[str, float]:
        raise NotImplementedError

    def base_state(self) -> dict:
        raise NotImplementedError

    def load_base_state(self, state: dict) -> None:
        raise NotImplementedError

    # the runner's interface
    def train_step(self, step: int) -> dict[str, float]:
        if step < self.n_layer:
            m = self.layer.step(step)
            if step >= self.layer.config.model_steps:
                m.update(self.layer_extra(step))
            return m
        if not self._prepared:
            self.prepare()
            self._prepared = True
        return self.base_step(step - self.n_layer)

    def cost_model(self):
        return None

    def policy(self):
        """The base's policy, behind the layer's safety filter when ``layer.shield`` is on."""
        p = self.learner.policy()
        return self.layer.shielded(p) if self.layer.config.shield.on else p

    def policy_state(self) -> dict:
        s = self.learner.policy_state()
        return self.layer.shield_state(s) if self.layer.config.shield.on else s

    def summary(self) -> dict:
        return {"proco": self.layer.summary()}

    def state_dict(self) -> dict:
        return {"layer": self.layer.state_dict(), "base": self.base_state(), "layer_steps": self.n_layer}

    def load_state_dict(self, state: dict) -> None:
        n = state.get("layer_steps", self.n_layer)  # checkpoints from before it was stored: trusted
        if n != self.n_layer:
            raise SafemilError(f"this checkpoint's PROCO layer ran {n} steps, this configuration's runs "
                               f"{self.n_layer}: its step count would mean something else; start a fresh run")
        self.layer.load_state_dict(state["layer"])
        self.load_base_state(state["base"])
        self._prepared = False
