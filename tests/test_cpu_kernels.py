"""The AVX2 kernel pins: which CPUs get them, that a user's own setting wins, and that torch and numpy obey."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from safemil.cpu_kernels import (
    AVX2_PINS,
    NUMPY_AVX512,
    OPT_OUT,
    cpu_flags,
    loaded_too_early,
    pin_kernels,
    pinned_variables,
    wanted_pins,
)

AVX2 = {"sse2", "avx", "avx2", "fma"}
AVX512 = AVX2 | {"avx512f", "avx512bw"}


def test_avx2_cpus_get_the_library_pins_and_avx512_cpus_also_numpys():
    assert wanted_pins("x86_64", AVX2) == AVX2_PINS
    assert wanted_pins("AMD64", AVX512) == {**AVX2_PINS, **NUMPY_AVX512}
    assert set(pinned_variables()) == set(AVX2_PINS) | set(NUMPY_AVX512)


@pytest.mark.parametrize("machine, flags", [("aarch64", AVX512), ("arm64", set()), ("x86_64", {"avx", "avx2"}),
                                            ("x86_64", {"avx", "fma"}), ("x86_64", set())])
def test_no_pins_where_the_avx2_kernels_cannot_run(machine, flags):
    env: dict[str, str] = {}
    assert pin_kernels(env, machine, flags) == {} and env == {}


def test_a_variable_the_user_set_is_kept():
    env = {"OPENBLAS_CORETYPE": "SkylakeX", "PATH": "/bin"}
    applied = pin_kernels(env, "x86_64", AVX512)
    assert env["OPENBLAS_CORETYPE"] == "SkylakeX" and "OPENBLAS_CORETYPE" not in applied
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["NPY_DISABLE_CPU_FEATURES"] == NUMPY_AVX512[
        "NPY_DISABLE_CPU_FEATURES"]


@pytest.mark.parametrize("value, pinned", [("1", False), ("yes", False), ("0", True), ("", True)])
def test_native_kernels_opt_out(value, pinned):
    env = {OPT_OUT: value}
    pin_kernels(env, "x86_64", AVX2)
    assert ("MKL_ENABLE_INSTRUCTIONS" in env) == pinned


def test_too_early_is_reported_only_where_the_pins_change_kernels():
    modules = {"numpy": object(), "torch": object()}
    assert loaded_too_early({**AVX2_PINS, **NUMPY_AVX512}, modules) == ["numpy", "torch"]
    assert loaded_too_early(dict(AVX2_PINS), modules) == []  # an AVX2 CPU: its kernels are these already
    assert loaded_too_early({**AVX2_PINS, **NUMPY_AVX512}, {}) == []


def _in_fresh_python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in (*pinned_variables(), OPT_OUT)}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


PROBE = ("import safemil, torch, numpy; from numpy._core._multiarray_umath import __cpu_features__ as f; "
         "print(torch.backends.cpu.get_cpu_capability(), f.get('X86_V4', False))")


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or not {"avx2", "fma"} <= cpu_flags(),
                    reason="the pins apply to x86-64 CPUs with AVX2 and FMA")
def test_importing_safemil_first_gives_torch_and_numpy_the_avx2_kernels():
    capability, numpy_avx512 = _in_fresh_python(PROBE).split()
    assert capability == "AVX2" and numpy_avx512 == "False"
    if "avx512f" in cpu_flags():  # the opt-out gives this CPU's own widest kernels back
        capability, numpy_avx512 = _in_fresh_python(PROBE, **{OPT_OUT: "1"}).split()
        assert capability == "AVX512" and numpy_avx512 == "True"


def test_scripts_import_safemil_before_numpy_and_torch():
    """Every benchmark and script runs `import safemil` (or a `from safemil...` import) before numpy or
    torch at module level, so the kernel pins apply; a line inside the docstring does not count."""
    import ast
    from pathlib import Path

    root = Path(__file__).parents[1]
    late = []
    for path in sorted([*root.glob("benchmarks/*.py"), *root.glob("scripts/*.py")]):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                names = [node.module or ""]
            else:
                continue
            tops = {n.split(".")[0] for n in names}
            if tops & {"numpy", "torch", "safemil"}:
                if "safemil" not in tops:
                    late.append(path.name)
                break
    assert not late, f"numpy/torch imported before safemil in {late}"
