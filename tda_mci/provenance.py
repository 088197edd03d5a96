"""What produced an output: package versions, configuration hash, BIDS dataset description."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from typing import Any

import tda_mci

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
