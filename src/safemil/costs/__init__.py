"""Cost sources: each learns (or is given) a per-(s, a) cost from weak signals, with one interface."""

from safemil.costs.base import CostModel

__all__ = ["CostModel"]
