"""What produced the outputs, and at what cost: versions, configuration, run times.

* :func:`dataset_description`: the BIDS-derivative ``dataset_description.json`` with the
  tda_mci version, every package version and the configuration with its SHA-256;
* :func:`runtime_table`: run-time statistics per rule from Snakemake's benchmark files.

A benchmark folder holds one TSV per job under a folder per rule:
``<root>/<rule>/<job>.tsv`` (the layout of :func:`tda_mci.paths.job_file`) or, for a
per-scan job, the scan's folders in between,
``<root>/<rule>/sub-<label>/[ses-<label>/]<scan stem>.tsv``; with Snakemake's columns:
``s`` (wall seconds), ``h:m:s``, ``max_rss`` / ``max_vms`` / ``max_uss`` / ``max_pss``
(MB), ``io_in`` / ``io_out`` (MB), ``mean_load`` (% of one core) and ``cpu_time``
(seconds). Values that Snakemake could not measure (very short jobs) are ``NA``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import tda_mci
from tda_mci import io
from tda_mci.settings import RuntimeSettings, validate_config

log = logging.getLogger(__name__)

#: Packages whose versions are recorded with the outputs.
PACKAGES = (
    "numpy", "scipy", "pandas", "nibabel", "nilearn", "ripser", "persim", "gudhi", "numba",
    "scikit-learn", "torch", "matplotlib", "joblib", "snakemake",
)


def package_versions() -> dict[str, str]:
    """Return the installed version of each package in :data:`PACKAGES` (``None`` if absent)."""
    versions = {"python": platform.python_version(), "tda_mci": tda_mci.__version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the configuration serialised as canonical JSON (sorted keys)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def dataset_description(config: dict[str, Any]) -> dict[str, Any]:
    """Return the BIDS-derivative ``dataset_description.json`` of the results folder."""
    return {
        "Name": "tda_mci persistent-homology derivatives",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "tda_mci",
                "Version": tda_mci.__version__,
                "Description": "Sliding-window embedding, Vietoris-Rips persistence, "
                "Wasserstein distances, rank-sum statistics and classifiers (Aithal et al. 2024).",
            }
        ],
        "PackageVersions": package_versions(),
        "ConfigHash": config_hash(config),
        "Config": config,
    }


_NEEDED = ("s", "max_rss", "cpu_time")


def _read(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t")
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing or table.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (missing {missing or 'rows'})")
    for col in _NEEDED:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    return table


def runtime_table(root: str | Path) -> pd.DataFrame:
    """Summarise a benchmark folder per rule.

    Parameters
    ----------
    root : str or Path
        The benchmark folder (``<root>/<rule>/<job>.tsv``, or deeper for per-scan jobs:
        ``<root>/<rule>/sub-<label>/.../<scan stem>.tsv``; the job is the file's stem).
        A job benchmarked with repeats contributes its mean.

    Returns
    -------
    pandas.DataFrame
        One row per rule, the most wall time first, then a row ``all rules``. Columns:
        ``rule``, ``jobs``, ``wall_s_total`` (sum over jobs; jobs ran in parallel, so
        this is not the run's duration), ``wall_s_median``, ``wall_s_max``,
        ``slowest_job`` (file stem), ``cpu_s_total``, ``max_rss_mb`` (largest peak
        resident memory of one job; the figure to size ``mem_mb`` by).

    Raises
    ------
    ValueError
        If ``root`` holds no benchmark file, or a file is not one (the message names
        it).
    """
    root = Path(root)
    files = sorted(root.glob("*/**/*.tsv"))
    if not files:
        raise ValueError(f"{root}: no benchmark files (<rule>/<job>.tsv)")
    jobs = []
    for path in files:
        table = _read(path)
        jobs.append({
            "rule": path.relative_to(root).parts[0], "job": path.stem, "s": table["s"].mean(),
            "cpu_time": table["cpu_time"].mean(), "max_rss": table["max_rss"].max(),
        })
    jobs = pd.DataFrame(jobs)
    rows = []
    for rule, g in jobs.groupby("rule", sort=False):
        rows.append({
            "rule": rule, "jobs": len(g), "wall_s_total": g["s"].sum(),
            "wall_s_median": g["s"].median(), "wall_s_max": g["s"].max(),
            "slowest_job": g.loc[g["s"].idxmax(), "job"],
            "cpu_s_total": g["cpu_time"].sum(min_count=1),
            "max_rss_mb": g["max_rss"].max(),
        })
    table = pd.DataFrame(rows).sort_values("wall_s_total", ascending=False, kind="stable")
    total = {
        "rule": "all rules", "jobs": len(jobs), "wall_s_total": jobs["s"].sum(),
        "wall_s_median": jobs["s"].median(), "wall_s_max": jobs["s"].max(),
        "slowest_job": f"{jobs.loc[jobs['s'].idxmax(), 'rule']}/"
                       f"{jobs.loc[jobs['s'].idxmax(), 'job']}",
        "cpu_s_total": jobs["cpu_time"].sum(min_count=1), "max_rss_mb": jobs["max_rss"].max(),
    }
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    for col in ("wall_s_total", "wall_s_median", "wall_s_max", "cpu_s_total", "max_rss_mb"):
        table[col] = np.round(table[col].astype(float), 1)
    return table


# ----------------------------------------------------------------------------- stages
def write_dataset_description(config: dict[str, Any], *, output: str) -> None:
    """Stage ``dataset_description``: write the BIDS ``dataset_description.json``.

    ``config`` is the run's whole configuration (validated here, defaults filled in).
    """
    io.write_json(output, dataset_description(validate_config(config)))


def runtime_statistics(settings: RuntimeSettings, *, benchmarks: str, output: str) -> None:
    """Stage ``runtime_statistics``: summarise the run's benchmark files per rule."""
    table = runtime_table(benchmarks)
    io.write_tsv(output, table)
    total = table.iloc[-1]
    log.info("%d jobs: %.0f s of job wall time, %.0f CPU-s, peak %.0f MB", total["jobs"],
             total["wall_s_total"], total["cpu_s_total"], total["max_rss_mb"])
