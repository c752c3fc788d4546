"""Terminal output: one rich console for the CLI, and progress bars that stay out of logs.

The console is wide enough for metric tables when output is not a terminal. A progress bar
is shown only when asked for *and* stderr is a terminal: redirected to a file (a CI log, a
cluster job), a bar's redraws would flood it.
"""

from __future__ import annotations

import sys

from rich.console import Console
from tqdm.auto import tqdm

console = Console(width=None if sys.stdout.isatty() else 140)


def progress_bar(enabled: bool = True, **kwargs) -> tqdm:
    """A tqdm bar (same keywords), off unless ``enabled`` and stderr is a terminal."""
    return tqdm(disable=None if enabled else True, **kwargs)
