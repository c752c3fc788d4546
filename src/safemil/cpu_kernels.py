"""Pin the math libraries to their AVX2 kernels, so a seed gives the same numbers on any x86-64 CPU.

numpy's matrix products (OpenBLAS), its vectorised functions (``arctan2``, ``exp``), torch's
matrix products (MKL, oneDNN) and its element-wise and reduction kernels (ATen) each pick, when
they load, the widest SIMD kernels the CPU has. AVX-512 and AVX2 kernels round differently, and
MuJoCo and training are chaotic enough that a last-bit difference changes a dataset and a run:
on an AVX-512 machine the default Hopper, Walker2d and Swimmer datasets missed their recorded
fingerprints and a HalfCheetah DWBC-NU run its recorded return, and with these pins all of them
matched (`docs/reproducibility.md`). Every x86-64 CPU with AVX2 and FMA runs the AVX2 kernels,
so safemil asks for them before numpy or torch is imported (``import safemil`` does it first).

A variable the user has set is left alone; ``SAFEMIL_NATIVE_KERNELS=1`` skips the pins (the
CPU's widest kernels: faster on AVX-512 CPUs, with numbers that differ from the recorded ones).
This module imports neither numpy nor torch: it must run before them.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import MutableMapping

OPT_OUT = "SAFEMIL_NATIVE_KERNELS"
# Each library's switch to its AVX2 kernels (or, for numpy's own dispatch, away from its AVX-512 ones).
AVX2_PINS = {
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's BLAS: Haswell's are the AVX2 + FMA kernels (AMD Zen runs them too)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # torch's BLAS
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # torch's oneDNN primitives
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's vectorised element-wise and reduction kernels
}
NUMPY_AVX512 = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}  # numpy 2.4's AVX-512 targets
LIBRARIES = ("numpy", "torch")


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty where /proc/cpuinfo is not there)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def pinned_variables() -> list[str]:
    """Every variable a pin may set (to hand them on to worker processes)."""
    return [*AVX2_PINS, *NUMPY_AVX512]


def wanted_pins(machine: str, flags: set[str]) -> dict[str, str]:
    """The variables that give AVX2 kernels on this CPU: none off x86-64 or without AVX2 and FMA."""
    if machine.lower() not in ("x86_64", "amd64") or not {"avx2", "fma"} <= flags:
        return {}
    return {**AVX2_PINS, **(NUMPY_AVX512 if "avx512f" in flags else {})}


def pin_kernels(environ: MutableMapping[str, str] | None = None, machine: str | None = None,
                flags: set[str] | None = None) -> dict[str, str]:
    """Set each wanted pin the environment does not already set; returns the ones set here."""
    env = os.environ if environ is None else environ
    if env.get(OPT_OUT, "").strip() not in ("", "0"):
        return {}
    pins = wanted_pins(platform.machine() if machine is None else machine, cpu_flags() if flags is None else flags)
    applied = {k: v for k, v in pins.items() if k not in env}
    env.update(applied)
    return applied


def avx2_pinned(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether every library here is asked for its AVX2 kernels (by safemil or by the user)."""
    env = os.environ if environ is None else environ
    return all(env.get(k, "").lower() == v.lower() for k, v in AVX2_PINS.items())


def loaded_too_early(applied: dict[str, str], modules=None) -> list[str]:
    """The libraries imported before ``applied`` was set, where that matters: only an AVX-512 CPU (the one
    kind that gets numpy's pin) runs other kernels than the pins ask for."""
    modules = sys.modules if modules is None else modules
    return [m for m in LIBRARIES if m in modules] if any(k in applied for k in NUMPY_AVX512) else []
