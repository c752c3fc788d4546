"""Online evaluation: rollouts, DSRL-normalised metrics, CVaR and bootstrap CIs."""

from safemil.eval.evaluator import EpisodeResults, evaluate, rollout
from safemil.eval.metrics import (
    IMMOBILE_MEANING,
    IMMOBILE_SPEED_SHARE,
    bootstrap_ci,
    cvar,
    immobile_episodes,
    normalized_cost,
    normalized_return,
    summarize_episodes,
)
from safemil.eval.policies import Policy, RandomPolicy

__all__ = [
    "EpisodeResults",
    "evaluate",
    "rollout",
    "IMMOBILE_MEANING",
    "IMMOBILE_SPEED_SHARE",
    "bootstrap_ci",
    "cvar",
    "immobile_episodes",
    "normalized_cost",
    "normalized_return",
    "summarize_episodes",
    "Policy",
    "RandomPolicy",
]
