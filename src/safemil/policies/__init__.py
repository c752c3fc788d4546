"""Policy learners: actor networks and a weighted behaviour-cloning trainer.

Cost sources decide *how much* each piece of D_U should be imitated; this
package turns those costs into weights and the weights into an actor.
"""

from safemil.policies.actors import (
    ACTOR_KINDS,
    Actor,
    ActorConfig,
    DeterministicActor,
    MixtureActor,
    TanhGaussianActor,
    TorchPolicy,
    actor_from_state,
    actor_state,
    make_actor,
)
from safemil.policies.bc import BCConfig, WeightedBC
from safemil.policies.weights import (
    WeightConfig,
    discounted_segment_sums,
    effective_sample_size,
    hard_weights,
    soft_weights,
)

__all__ = [
    "ACTOR_KINDS",
    "Actor",
    "ActorConfig",
    "DeterministicActor",
    "MixtureActor",
    "TanhGaussianActor",
    "TorchPolicy",
    "make_actor",
    "actor_from_state",
    "actor_state",
    "BCConfig",
    "WeightedBC",
    "WeightConfig",
    "discounted_segment_sums",
    "effective_sample_size",
    "hard_weights",
    "soft_weights",
]
