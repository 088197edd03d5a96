"""Deployment: conda environments agree with the lock file; the SLURM profile requests a GPU."""

import os
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib"}


def _lock():
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


@pytest.mark.parametrize("env", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_conda_env_parses_and_pins_agree_with_lock_and_pyproject(env):
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"]
    lock = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {re.split(r"[<>=!~ ]", d)[0].lower() for d in project["dependencies"]}
    pinned = {}
    for dep in spec["dependencies"]:
        assert isinstance(dep, str)
        name, _, version = dep.partition("=")
        if name in ("python", "pip"):
            continue
        assert version, f"{env.name}: {name} is not pinned"
        pinned[CONDA_NAMES.get(name, name)] = version
    for name, version in pinned.items():
        assert lock[name] == version, f"{env.name}: {name}={version}, lock has {lock[name]}"
        assert name in required, f"{env.name}: {name} is not a dependency in pyproject.toml"
    post = env.with_name(env.stem + ".post-deploy.sh")
    assert post.is_file() and os.access(post, os.X_OK)


def test_every_rule_has_a_conda_env_and_a_log():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        rules = re.split(r"(?m)^rule ", smk.read_text())[1:]
        for body in rules:
            name = body.split(":")[0]
            assert "\n    conda:" in body, f"{smk.name}: rule {name} has no conda env"
            assert "\n    log:" in body, f"{smk.name}: rule {name} has no log"


def test_slurm_profile_dry_run_requests_gpu_for_training(tmp_path, snakemake):
    from snakemake.io import Resources
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    result = snakemake(tmp_path, ROOT / "tests" / "workflow" / "config.yaml", "-n",
                       profile=ROOT / "workflow" / "profiles" / "slurm")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    jobs = [j.strip() for j in re.split(r"\n(?=\s*(?:local)?rule )", out)]
    training = [j for j in jobs if j.startswith(("rule train_classifiers:",
                                                 "rule permutation_test:"))]
    assert len(training) == 6 + 1  # one per network of the comparison, one permutation test
    for job in training:
        line = next(ln for ln in job.splitlines() if ln.strip().startswith("resources:"))
        res = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", "))
        assert res["gpu"] == "1" and res["runtime"] in ("120", "240")
        # The plugin's own translation of these resources into sbatch arguments:
        resources = Resources(fromdict={"gpu": int(res["gpu"])})
        assert set_gres_string(SimpleNamespace(resources=resources)).strip() == "--gpus=1"
    # CPU-only rules ask for no GPU
    diagrams = [j for j in jobs if j.startswith("rule compute_diagrams:")]
    assert diagrams and all("gpu=" not in j for j in diagrams)
    # each subject's chain is one cluster job (group "subject"), not three
    assert out.count("Group job subject") == 8
