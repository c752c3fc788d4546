"""Offline datasets in the DSRL layout, splits into D_N / D_U, and samplers."""

from safemil.data.dataset import Dataset, LabelledView, LearnerView, TrajectoryIndex
from safemil.data.hdf5 import read_dsrl, write_dsrl
from safemil.data.locate import default_data_dir, default_dataset_path, resolve_dataset
from safemil.data.splits import Split, SplitConfig, make_split

__all__ = [
    "Dataset",
    "LabelledView",
    "LearnerView",
    "TrajectoryIndex",
    "read_dsrl",
    "write_dsrl",
    "default_data_dir",
    "default_dataset_path",
    "resolve_dataset",
    "Split",
    "SplitConfig",
    "make_split",
]
