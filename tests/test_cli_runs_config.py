import json
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from safemil.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from safemil.errors import ConfigError, SafemilError
from safemil.runs import RunDir


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "safemil", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("content", [b"", b"garbage, not hdf5", None])
def test_data_info_on_malformed_file_is_one_line(tmp_path, content):
    p = tmp_path / "bad.hdf5"
    if content is not None:
        p.write_bytes(content)
    r = _cli("data", "info", str(p))
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_data_info_json_and_plot(tmp_path, tiny_dataset):
    from safemil.data import write_dsrl

    p = write_dsrl(tiny_dataset, tmp_path / "d.hdf5")
    r = _cli("data", "info", str(p), "--json", "--plot", str(tmp_path / "plot.png"))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["n_trajectories"] == len(tiny_dataset.index)
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_unknown_task_is_one_line():
    r = _cli("eval", "--task", "Nope", "--episodes", "1")
    assert r.returncode == 2 and r.stderr.strip().startswith("error: unknown task 'Nope'")


@dataclass
class _Inner:
    lr: float = 1e-3
    sizes: tuple[int, ...] = (256, 256)


@dataclass
class _Cfg:
    steps: int = 10
    name: str = "x"
    flag: bool = False
    inner: _Inner = field(default_factory=_Inner)
    beta: float | None = None


def test_config_round_trip_and_overrides(tmp_path):
    cfg = apply_overrides(_Cfg(), ["steps=20", "inner.lr=0.5", "inner.sizes=[64, 64]", "beta=0.6", "flag=true"])
    assert cfg == _Cfg(steps=20, flag=True, inner=_Inner(lr=0.5, sizes=(64, 64)), beta=0.6)
    assert apply_overrides(_Cfg(), ["inner.lr=1e-5"]).inner.lr == 1e-5  # YAML reads this as a string
    with pytest.raises(ConfigError, match="expected a number"):
        apply_overrides(_Cfg(), ["inner.lr=fast"])
    save_yaml(to_dict(cfg), tmp_path / "c.yaml")
    assert from_dict(_Cfg, load_yaml(tmp_path / "c.yaml")) == cfg
    with pytest.raises(ConfigError, match="unknown config key 'stepz'"):
        apply_overrides(_Cfg(), ["stepz=1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        apply_overrides(_Cfg(), ["steps=1.5"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(_Cfg(), ["steps"])


def test_run_dir_checkpoint_metrics_eval(tmp_path):
    run = RunDir(tmp_path / "run")
    run.write_config({"algo": "x", "seed": 1})
    assert run.read_config() == {"algo": "x", "seed": 1}
    for s in range(5):
        run.log(s, {"loss": float(s)})
    run.truncate_metrics(2)
    assert [r["step"] for r in run.read_metrics()] == [0, 1, 2]
    run.save_checkpoint({"step": 3, "w": [1, 2]})
    assert run.load_checkpoint()["step"] == 3
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]
    run.write_eval({"normalized_cost": 0.5})
    assert run.read_eval() == {"normalized_cost": 0.5}
    run.close()
    (run.path / "checkpoint.pt").write_bytes(b"torn")
    with pytest.raises(SafemilError, match="cannot read checkpoint"):
        run.load_checkpoint()
    with pytest.raises(SafemilError, match="not found"):
        RunDir(tmp_path / "missing", create=False)
