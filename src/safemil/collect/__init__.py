"""Behaviour policies (speed-conditioned, shipped as plain weight files) and dataset generation."""

from safemil.collect.actor import SpeedActor, load_behaviour_policy, shipped_policy_path
from safemil.collect.command import CommandRange
from safemil.collect.generate import (
    GenerateConfig,
    default_config,
    find_dataset,
    generate_dataset,
    generate_to_file,
)

__all__ = [
    "CommandRange",
    "GenerateConfig",
    "SpeedActor",
    "default_config",
    "find_dataset",
    "generate_dataset",
    "generate_to_file",
    "load_behaviour_policy",
    "shipped_policy_path",
]
