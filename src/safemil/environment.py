"""What a result was computed with: interpreter, package versions, CPU and math-kernel settings.

A seed gives the same numbers only with the same library versions on a CPU running the same
kernels (`safemil.cpu_kernels`), so run directories and fingerprint records say which they had.
Reads package metadata only: importing this module loads neither numpy nor torch.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from safemil.cpu_kernels import OPT_OUT, pinned_variables

# The packages whose versions change a run's numbers (simulation, arithmetic, learning, files).
RUN_PACKAGES = ("safemil", "numpy", "torch", "mujoco", "gymnasium", "h5py")


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def interpreter() -> dict[str, str]:
    """The Python version and the OS and machine it runs on."""
    return {"python": platform.python_version(), "platform": f"{platform.system()} {platform.machine()}"}


def cpu_name() -> str:
    """The CPU model and core count."""
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def kernel_settings() -> dict[str, str]:
    """The kernel variables in effect (set by the pins or by the user; none: the CPU's widest kernels)."""
    return {k: os.environ[k] for k in (*pinned_variables(), OPT_OUT) if k in os.environ}


def environment_record() -> dict:
    """One line for a run directory's ``environment.jsonl`` (one per session that ran it)."""
    return {"time": datetime.now(UTC).isoformat(timespec="seconds"), **interpreter(), "cpu": cpu_name(),
            "kernels": kernel_settings(), "packages": package_versions(RUN_PACKAGES)}
