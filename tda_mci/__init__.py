"""tda_mci: persistent homology of resting-state fMRI for mild cognitive impairment.

Public API (numpy in, numpy out; see docs/architecture.md)::

    sliding_window(x, dimension=3, delay=1)
    persistence_diagrams(cloud, max_dim=2, backend="gudhi")
    wasserstein_distance(a, b, order=1.0, ground_metric=2.0)
    distance_matrix(diagrams, n_jobs=1, **metric)
    rank_sum_pvalues(group_a, group_b)

Imports are lazy so that ``import tda_mci`` stays cheap (no torch, no nilearn).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "sliding_window": "tda_mci.topology.windows",
    "persistence_diagrams": "tda_mci.topology.homology",
    "wasserstein_distance": "tda_mci.topology.distances",
    "distance_matrix": "tda_mci.topology.distances",
    "rank_sum_pvalues": "tda_mci.stats.ranksum",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'tda_mci' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
