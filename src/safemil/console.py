"""One rich console for the CLI: wide enough for metric tables when output is not a terminal."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 140)
