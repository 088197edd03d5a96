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
        if dep.startswith("setuptools"):  # the build requirement of pyproject.toml
            build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
            assert dep.split("#")[0].strip() in build["requires"], dep
            continue
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


#: What each cluster job asks for under the SLURM profile: threads, mem_mb, runtime (min), GPUs.
SLURM_REQUESTS = {
    "extract_timeseries": (1, 4000, 10, 0),
    "compute_diagrams": (8, 4000, 30, 0),
    "roi_distances": (8, 2000, 10, 0),
    "subject_distances": (16, 8000, 120, 0),
    "wilcoxon_tests": (1, 8000, 20, 0),
    "permanova_tests": (1, 8000, 60, 0),
    "train_classifiers": (4, 8000, 120, 1),
    "permutation_test": (2, 8000, 240, 1),
}


def _dry_run_jobs(stdout):
    """``{rule: [(threads, resources)]}`` of a dry run's job listing."""
    jobs = {}
    for block in re.split(r"\n(?=\s*(?:local)?rule )", stdout):
        head = block.strip().split("\n", 1)[0]
        if not head.startswith(("rule ", "localrule ")):
            continue
        rule = head.split()[1].rstrip(":")
        threads = re.search(r"^\s*threads: (\d+)$", block, re.M)
        res = re.search(r"^\s*resources: (.*)$", block, re.M)
        resources = dict(kv.split("=", 1) for kv in res.group(1).split(", ")) if res else {}
        jobs.setdefault(rule, []).append((int(threads.group(1)) if threads else 1, resources))
    return jobs


def test_slurm_profile_gives_every_job_its_threads_memory_runtime_and_gpus(tmp_path, snakemake):
    """`cores` in a profile caps every job's threads on a cluster; the profile uses
    `local-cores`, so each rule's `set-threads` reaches its jobs."""
    result = snakemake(tmp_path, ROOT / "tests" / "workflow" / "config.yaml", "-n",
                       profile=ROOT / "workflow" / "profiles" / "slurm")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _dry_run_jobs(result.stdout)
    for rule, (threads, mem_mb, runtime, gpus) in SLURM_REQUESTS.items():
        assert rule in jobs, rule
        for got_threads, res in jobs[rule]:
            assert got_threads == threads, (rule, got_threads)
            assert int(res["mem_mb"]) == mem_mb and int(res["runtime"]) == runtime, (rule, res)
            assert int(res.get("gpu", 0)) == gpus, (rule, res)


def test_slurm_profile_takes_account_and_partitions_from_the_environment(monkeypatch):
    """Set once, in the environment: Snakemake's own profile parser fills them in."""
    from snakemake.profiles import ProfileConfigFileParser

    path = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"

    def parsed():
        with open(path) as stream:
            return ProfileConfigFileParser().parse(stream)

    for name in ("SBATCH_ACCOUNT", "SBATCH_PARTITION", "TDA_MCI_GPU_PARTITION"):
        monkeypatch.delenv(name, raising=False)
    bare = parsed()
    assert not any(r.startswith(("slurm_account=", "slurm_partition="))
                   for r in bare["default-resources"])
    assert not any("slurm_partition" in r for r in bare["set-resources"])
    assert bare["local-cores"] == "2" and "cores" not in bare
    monkeypatch.setenv("SBATCH_ACCOUNT", "lab42")
    monkeypatch.setenv("SBATCH_PARTITION", "cpu")
    monkeypatch.setenv("TDA_MCI_GPU_PARTITION", "gpu")
    filled = parsed()
    assert "slurm_account=lab42" in filled["default-resources"]
    assert "slurm_partition=cpu" in filled["default-resources"]
    assert "train_classifiers:slurm_partition=gpu" in filled["set-resources"]
    assert "permutation_test:slurm_partition=gpu" in filled["set-resources"]


def test_the_workflow_tells_the_post_deploy_scripts_where_it_is(tmp_path, snakemake):
    """Jobs (and so Snakemake's post-deploy runs) see TDA_MCI_WORKFLOW_DIR = this workflow."""
    wrapper = tmp_path / "Snakefile"
    wrapper.write_text(
        f'include: "{ROOT / "Snakefile"}"\n\n\n'
        'rule show_workflow_dir:\n    output:\n        "env.txt",\n'
        '    shell:\n        "echo $TDA_MCI_WORKFLOW_DIR > {output}"\n')
    result = snakemake(tmp_path, ROOT / "tests" / "workflow" / "config.yaml", "env.txt",
                       snakefile=wrapper)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "env.txt").read_text().strip() == str(ROOT)


@pytest.mark.parametrize("script", sorted((ROOT / "envs").glob("*.post-deploy.sh")),
                         ids=lambda p: p.name)
def test_post_deploy_script_installs_the_package_from_snakemakes_copy(tmp_path, script):
    """Snakemake copies the script to .snakemake/conda/<hash>.post-deploy.sh and runs it
    there with the environment active; the copy must still install this package."""
    import subprocess
    import sys
    import venv

    env = tmp_path / ".snakemake" / "conda" / "0f3a9c"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env)
    # the environment file's build requirement (conda: setuptools>=77)
    spec = yaml.safe_load(script.with_name(script.name.replace(".post-deploy.sh", ".yaml"))
                          .read_text())
    setuptools = next(d for d in spec["dependencies"] if d.startswith("setuptools"))
    subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", setuptools],
                   check=True, capture_output=True)
    copy = env.with_name(env.name + ".post-deploy.sh")
    copy.write_bytes(script.read_bytes())
    # what `conda activate` does for the script: the environment's python first on PATH
    run_env = dict(os.environ, PATH=f"{env / 'bin'}:{os.environ['PATH']}",
                   TDA_MCI_WORKFLOW_DIR=str(ROOT))
    run_env.pop("PYTHONPATH", None)
    done = subprocess.run(["bash", str(copy)], cwd=tmp_path, env=run_env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shown = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "show", "-f", "tda_mci"],
                           capture_output=True, text=True)
    assert shown.returncode == 0 and "Name: tda_mci" in shown.stdout
    assert "tda_mci/schemas/config.schema.yaml" in shown.stdout  # the package data came along
    if "requirements-nodeps.lock" in script.read_text():  # the training env: ComBat too
        pins = [line for line in (ROOT / "requirements-nodeps.lock").read_text().splitlines()
                if line and not line.startswith("#")]
        for pin in pins:
            name, version = pin.split("==")
            got = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "show", name],
                                 capture_output=True, text=True)
            assert f"Version: {version}" in got.stdout, pin
    # without the variable (a script run outside Snakemake): a clear error, nothing installed
    del run_env["TDA_MCI_WORKFLOW_DIR"]
    failed = subprocess.run(["bash", str(copy)], cwd=tmp_path, env=run_env,
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "TDA_MCI_WORKFLOW_DIR" in failed.stderr
    assert sys.executable  # this interpreter made the environment
