"""Shared fixtures and the test tiers.

Tiers, by folder (applied as markers, so ``-m`` selects them):

* ``tests/unit/``: one module at a time, small hand-checkable data, numeric parity with
  ripser, persim, scipy and scikit-learn (marker ``unit``);
* ``tests/integration/``: ``tda-mci`` subcommands on real files in a temporary folder,
  stage after stage (marker ``integration``);
* ``tests/workflow/``: the Snakemake workflow itself: lint, dry runs, full runs of tiny
  configurations, resumption, deployment (markers ``workflow`` and ``slow``).

``tests/data_gen.py`` (importable as ``data_gen``: ``pythonpath`` in pyproject.toml)
writes tiny synthetic cohorts of every input kind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TIERS = {"unit": ("unit",), "integration": ("integration",), "workflow": ("workflow", "slow")}


def pytest_collection_modifyitems(config, items):
    """Mark every test with the tier of its folder."""
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        for marker in TIERS.get(tier, ()):
            item.add_marker(marker)


@pytest.fixture
def rng():
    """A seeded generator (nilearn style): tests are reproducible."""
    return np.random.default_rng(20241)


@pytest.fixture(scope="session")
def stage_settings():
    """``stage_settings(rule, config=None)``: the ``--settings`` JSON the workflow would
    hand rule ``rule`` for a configuration (schema defaults filled in)."""
    from tda_mci.settings import STAGES

    def make(rule: str, config: dict | None = None) -> str:
        return STAGES[rule].from_config(config or {}).to_json()

    return make


def snakemake_command(work: Path, config: dict | Path, *args: str,
                      profile: Path | None = None, snakefile: Path | None = None) -> list[str]:
    """The command that runs the workflow in ``work`` on ``config`` (a dict is written to
    ``work/config.yaml``), with 2 cores unless a profile is given; the repository's
    Snakefile unless ``snakefile`` names a copy."""
    if isinstance(config, dict):
        path = work / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        config = path
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile or ROOT / "Snakefile"),
           "--configfile", str(config)]
    cmd += ["--profile", str(profile)] if profile else ["--cores", "2"]
    return cmd + list(args)


def snakemake_env() -> dict[str, str]:
    """The environment of a workflow run: this interpreter's ``tda-mci`` first on PATH."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")


@pytest.fixture(scope="session")
def copy_workflow():
    """``copy_workflow(folder)``: copy the workflow's files (not the package) to
    ``folder``; returns the copy's Snakefile."""
    return _copy_workflow


def _copy_workflow(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "demo.yaml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("workflow", "envs", "profiles"):
        shutil.copytree(ROOT / name, folder / name)
    return folder / "Snakefile"


@pytest.fixture(scope="session")
def snakemake_popen():
    """``snakemake_popen(work, config, *args, **popen_options)``: start the workflow in the
    background (e.g. to interrupt it); returns the :class:`subprocess.Popen`."""

    def start(work: Path, config: dict | Path, *args: str, **options):
        return subprocess.Popen(snakemake_command(work, config, *args), cwd=work,
                                env=snakemake_env(), **options)

    return start


@pytest.fixture(scope="session")
def snakemake():
    """``snakemake(work, config, *args, profile=None, snakefile=None)``: run the workflow,
    return the completed process (stdout and stderr captured as text)."""

    def run(work: Path, config: dict | Path, *args: str, profile: Path | None = None,
            snakefile: Path | None = None):
        command = snakemake_command(work, config, *args, profile=profile, snakefile=snakefile)
        return subprocess.run(command, cwd=work, env=snakemake_env(), capture_output=True,
                              text=True)

    return run
