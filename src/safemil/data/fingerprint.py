"""Content identity of a dataset file: its sha256, so results from two versions never mix.

A dataset file can be replaced in place (a new behaviour policy, the same
name). Runs record the hash of the file they trained on; the runner and the
benchmark grid compare it with the file's current hash before resuming,
skipping or reporting. Hashing a 100 MB file takes a fraction of a second,
and the result is memoised per (path, mtime, size) in this process, so a grid
worker hashes each file once, not once per run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from safemil.errors import DatasetError

_CHUNK = 1 << 20
_MEMO: dict[tuple[str, int, int], str] = {}


def dataset_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of the file's bytes; recomputed only when its mtime or size changes."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as e:
        raise DatasetError(f"cannot read dataset {p}: {e.strerror or e}") from None
    if p.is_dir():
        raise DatasetError(f"{path} is a directory, not a dataset file")
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _MEMO:
        _MEMO[key] = _hash_file(p)
    return _MEMO[key]


def _hash_file(p: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(p, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError as e:  # unreadable (permissions, a device, an I/O error): the user's file, not a bug
        raise DatasetError(f"cannot read dataset {p}: {e.strerror or e}") from None
    return h.hexdigest()


def check_dataset_version(path: str | os.PathLike, expected: str, where: str) -> None:
    """Raise if the file at ``path`` is no longer the version (``expected`` sha256) ``where`` was made from.

    An empty ``expected`` means the run predates recorded hashes: its dataset version is unknown.
    """
    current = dataset_sha256(path)
    if not expected:
        raise DatasetError(f"{where} records no dataset hash (made before dataset versions were tracked), so "
                           f"it cannot be shown to match {path} (sha256 {current[:12]}); delete it or use "
                           "another directory")
    if expected != current:
        raise DatasetError(f"{where} was trained on another version of {path} (sha256 {expected[:12]}, the file "
                           f"is now {current[:12]}); delete it or use another directory so results from "
                           "two dataset versions are not mixed")
