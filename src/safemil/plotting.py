"""Headless matplotlib for every figure the library writes (quickstart, dataset, benchmark)."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """pyplot on the non-interactive Agg backend, imported lazily (keeps CLI start-up fast)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (creating folders) and free it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
