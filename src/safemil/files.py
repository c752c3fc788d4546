"""Output paths and atomic writes: the file-system layer every writer in the package shares.

A folder is made with `make_dirs`, which names what is in the way and can be taken back
(`remove_dirs`), so a command that fails leaves nothing that blocks its corrected retry.
A file is written through a temp file and ``os.replace``, so a kill -9 at any moment leaves
either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from safemil.errors import OutputError


def make_dirs(path: str | os.PathLike, what: str = "directory") -> list[Path]:
    """``mkdir -p`` that names what is in the way; returns the folders it made, outermost first,
    so a caller can take them back (`remove_dirs`)."""
    path = Path(path)
    try:
        return _mkdirs(path)
    except OSError as e:
        raise OutputError(f"cannot create {what} {path}: {_reason(path, e)}") from None


def _mkdirs(path: Path) -> list[Path]:
    made = [p for p in (path, *path.parents) if not (p.exists() or p.is_symlink())][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
    except OSError:
        remove_dirs(made)
        raise
    return made


def remove_dirs(made: list[Path]) -> None:
    """Remove folders `make_dirs` made, innermost first, each only if it is (still) empty."""
    for p in reversed(made):
        try:
            p.rmdir()
        except FileNotFoundError:  # never made: mkdir failed before it
            continue
        except OSError:  # not empty (someone else's files) or not ours to remove: stop here
            return


def check_output_dir(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Fail now, not after the work, if ``path`` cannot be a folder to write into; leaves nothing behind."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} is a file, not a directory")
    remove_dirs(make_dirs(path, what))
    return path


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Fail now, not after the work, if ``path`` cannot be written as a file; leaves nothing behind."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory, not a file")
    try:
        remove_dirs(_mkdirs(path.parent))
    except OSError as e:
        raise OutputError(f"cannot write {what} {path}: {_reason(path.parent, e)}") from None
    return path


def _reason(path: Path, e: OSError) -> str:
    """Why ``mkdir``/a write failed, naming the part of ``path`` that is in the way."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                return f"{p} is a file, not a directory"
            break
    return f"{e.filename or path}: {e.strerror or e}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    make_dirs(path.parent, "folder")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {_reason(path.parent, e)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {_reason(path, e)}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
