"""The suite never touches the user's cache, data folders or home (see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs

from safemil.data.locate import default_data_dir, dsrl_data_dir
from tests.conftest import HERMETIC_VARS


def _under_test_root(path: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(os.environ["SAFEMIL_DATA_DIR"]).resolve().parent)


def test_every_data_and_cache_folder_is_a_fresh_temporary_one():
    for var in HERMETIC_VARS:
        assert _under_test_root(Path(os.environ[var])), var
    assert _under_test_root(default_data_dir())
    assert _under_test_root(dsrl_data_dir())
    assert _under_test_root(Path(platformdirs.user_cache_dir("safemil")))
    assert _under_test_root(Path.home())


def test_cli_subprocesses_see_the_same_empty_folders():
    r = subprocess.run([sys.executable, "-m", "safemil", "train", "bc-u", "--task", "SwimmerVelocity",
                        "--out", os.devnull + "/never"], capture_output=True, text=True)
    assert r.returncode == 2
    assert os.environ["SAFEMIL_DATA_DIR"] in r.stderr and "not found" in r.stderr, r.stderr
