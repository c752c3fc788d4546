"""The recorded sha256 of each task's default dataset, and a fresh file checked against it.

The published tables were made from these exact files. Generation is deterministic
for a given set of package versions and CPU, but not across them: another MuJoCo,
gymnasium or numpy (or a CPU whose floating-point kernels round differently) moves a
trajectory's last digits, then the step at which a hopper falls, and so the whole
file. Such a file is still a valid dataset, just not the one the tables describe, so
`safemil data generate` says so instead of letting the difference surface later as
numbers that do not reproduce. ``fingerprints.json`` records the hashes and the
versions they were made with (those pinned in ``requirements.lock``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from safemil.collect.generate import GenerateConfig, default_config
from safemil.cpu_kernels import avx2_pinned
from safemil.data import read_dsrl
from safemil.data.fingerprint import dataset_sha256
from safemil.environment import cpu_name, interpreter, package_versions
from safemil.files import atomic_write_text
from safemil.tasks import get_task

# The packages whose versions change a generated file's bytes (simulation, arithmetic, HDF5 layout).
DATA_PACKAGES = ("mujoco", "gymnasium", "numpy", "h5py")


@dataclass(frozen=True)
class Fingerprint:
    """One task's recorded default dataset."""

    task: str
    sha256: str
    trajectories: int
    transitions: int


@cache
def _recorded() -> dict:
    return json.loads(resources.files("safemil.collect").joinpath("fingerprints.json").read_text())


def recorded_fingerprints() -> dict[str, Fingerprint]:
    """Task name -> the default dataset the published tables were made from."""
    return {task: Fingerprint(task, **v) for task, v in _recorded()["datasets"].items()}


def recorded_environment() -> dict[str, str]:
    """Python, platform and data-package versions the recorded files were generated with."""
    return dict(_recorded()["made_with"])


def current_environment() -> dict[str, str]:
    """The same keys as `recorded_environment`, read from this interpreter."""
    return {**interpreter(), **package_versions(DATA_PACKAGES)}


def is_default_generation(task: str, cfg: GenerateConfig, policy_is_shipped: bool) -> bool:
    """Whether ``cfg`` and the policy make the task's default dataset.

    ``num_envs`` counts: the actor acts on all envs in one batched product, whose rounding
    depends on the batch size, so another env count changes the file's last digits."""
    return policy_is_shipped and cfg == default_config(get_task(task).name)


@dataclass(frozen=True)
class FingerprintCheck:
    """A generated default dataset's hash beside the recorded one."""

    task: str
    path: Path
    sha256: str
    recorded: Fingerprint | None

    @property
    def matches(self) -> bool:
        return self.recorded is not None and self.recorded.sha256 == self.sha256

    def report(self) -> None:
        """The message: a confirmation on stdout, a mismatch warning on stderr."""
        print(self.message(), file=sys.stdout if self.matches else sys.stderr, flush=True)

    def message(self) -> str:
        """One paragraph for the user: a confirmation, or what differs and why it matters."""
        if self.matches:
            return (f"fingerprint: sha256 {self.sha256[:12]} matches the recorded {self.task} default dataset "
                    "(the file the published tables were made from)")
        if self.recorded is None:
            return f"fingerprint: no recorded sha256 for {self.task}'s default dataset (sha256 {self.sha256[:12]})"
        rec, cur = recorded_environment(), current_environment()
        differs = [f"{k} {cur.get(k)} here, {rec.get(k)} recorded" for k in cur if rec.get(k) != cur.get(k)]
        made_on = rec.get("cpu", "an unrecorded CPU")
        below = (f"the CPU: the recorded files were made on {made_on} with the AVX2 "
                 "kernels, and this process runs its CPU's own (SAFEMIL_NATIVE_KERNELS, or a CPU that is not x86-64 "
                 "with AVX2; see docs/reproducibility.md)") if not avx2_pinned() else (
            "the CPU, with the AVX2 kernels pinned here too: an arithmetic path the pins do not cover; the "
            f"recorded files were made on {made_on}")
        why = ("versions differ: " + "; ".join(differs) + "; `make install` installs the recorded ones, "
               "pinned in requirements.lock") if differs else (
            f"the data packages are at the recorded versions, so something below them differs, most likely {below}")
        return (f"warning: {self.path} has sha256 {self.sha256[:12]}, not the recorded {self.recorded.sha256[:12]} "
                f"of the {self.task} default dataset. It is a valid dataset, but not the file the published "
                f"tables were made from, so numbers trained on it will not match them ({why}).")


def fingerprint_of(task: str, path: str | Path) -> Fingerprint:
    """What would be recorded for ``path`` as ``task``'s default dataset."""
    ds = read_dsrl(path, task=get_task(task).name)
    return Fingerprint(ds.task, dataset_sha256(path), len(ds.index), len(ds.rewards))


def write_fingerprints(fingerprints: dict[str, Fingerprint], out: str | Path) -> Path:
    """A fingerprints.json for these files, made with this interpreter's versions (after `make lock`)."""
    record = {"about": _recorded()["about"], "made_with": {**current_environment(), "cpu": cpu_name()},
              "datasets": {t: {k: v for k, v in asdict(f).items() if k != "task"} for t, f in fingerprints.items()}}
    atomic_write_text(Path(out), json.dumps(record, indent=1) + "\n")
    return Path(out)


def check_fingerprint(task: str, path: str | Path) -> FingerprintCheck:
    """Hash ``path`` and compare it with ``task``'s recorded default dataset."""
    name = get_task(task).name
    return FingerprintCheck(name, Path(path), dataset_sha256(path), recorded_fingerprints().get(name))
