"""Learned models of the environment (PROCO's dynamics ensemble)."""

from safemil.models.ensemble import (
    BatchedLinear,
    DynamicsEnsemble,
    EnsembleConfig,
    GaussianEnsemble,
    Transitions,
    gaussian_nll,
)

__all__ = ["BatchedLinear", "DynamicsEnsemble", "EnsembleConfig", "GaussianEnsemble", "Transitions", "gaussian_nll"]
