"""ROI atlases: the pinned Dosenbach-160 table, or a user's TSV of coordinates.

Every matrix and table the pipeline writes is indexed by the rows of one atlas table, in
the atlas's own order (for Dosenbach: the order of the CSV that ships with nilearn,
``fetch_coords_dosenbach_2010(ordered_regions=False)``, ROI numbers 1..160).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns of an atlas table, in order.
ATLAS_COLUMNS = ("roi", "label", "network", "x", "y", "z")

#: Short, file-name-safe keys of the six Dosenbach networks (the paper's abbreviations).
DOSENBACH_NETWORK_KEYS = {
    "cerebellum": "CB",
    "cingulo-opercular": "CO",
    "default": "DMN",
    "fronto-parietal": "FP",
    "occipital": "OP",
    "sensorimotor": "SM",
}


def _dosenbach_csv() -> Path:
    import nilearn

    return Path(nilearn.__file__).parent / "datasets" / "data" / "dosenbach_2010.csv"


def load_atlas(path: str | Path | None = None) -> pd.DataFrame:
    """Load an ROI atlas table in its pinned order.

    Parameters
    ----------
    path : str or Path, optional
        A TSV with columns ``roi`` (positive integer, unique), ``label``, ``network``,
        ``x``, ``y``, ``z`` (MNI millimetres). ``None`` loads the 160 Dosenbach (2010)
        ROIs from the CSV shipped with nilearn (no download), in that file's order.

    Returns
    -------
    pandas.DataFrame
        One row per ROI with columns ``roi, label, network, x, y, z`` and a default
        RangeIndex (row ``i`` is column ``i`` of every time-series table).

    Raises
    ------
    ValueError
        If a custom table lacks a column, has duplicated ROI numbers or non-finite
        coordinates; the message names the file.
    """
    if path is None:
        raw = pd.read_csv(_dosenbach_csv())
        table = pd.DataFrame(
            {
                "roi": raw["number"].astype(int),
                "label": [
                    f"{name} {num}"
                    for name, num in zip(raw["name"], raw["number"], strict=True)
                ],
                "network": raw["network"].astype(str),
                "x": raw["x"].astype(float),
                "y": raw["y"].astype(float),
                "z": raw["z"].astype(float),
            }
        )
        return table
    path = Path(path)
    table = pd.read_csv(path, sep="\t")
    missing = [c for c in ATLAS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"atlas file {path}: missing column(s) {missing}; need {ATLAS_COLUMNS}")
    table = table[list(ATLAS_COLUMNS)].copy()
    table["roi"] = table["roi"].astype(int)
    if table["roi"].duplicated().any():
        dup = table.loc[table["roi"].duplicated(), "roi"].tolist()
        raise ValueError(f"atlas file {path}: duplicated ROI numbers {dup}")
    coords = table[["x", "y", "z"]].to_numpy(float)
    if not np.isfinite(coords).all():
        raise ValueError(f"atlas file {path}: non-finite coordinates")
    table["label"] = table["label"].astype(str)
    table["network"] = table["network"].astype(str)
    return table.reset_index(drop=True)


def network_key(name: str) -> str:
    """Return the file-name-safe key of a network name.

    Dosenbach networks map to the paper's abbreviations (``default`` -> ``DMN``); any
    other name keeps its letters and digits only (``"Visual-1"`` -> ``"Visual1"``).

    Raises
    ------
    ValueError
        If the name has no letter or digit.
    """
    if name in DOSENBACH_NETWORK_KEYS:
        return DOSENBACH_NETWORK_KEYS[name]
    key = re.sub(r"[^A-Za-z0-9]", "", name)
    if not key:
        raise ValueError(f"network name {name!r} has no letter or digit to build a file name")
    return key


def networks(atlas: pd.DataFrame) -> dict[str, np.ndarray]:
    """Map each network key to the row indices of its ROIs.

    Networks are sorted by key (CB, CO, DMN, FP, OP, SM for Dosenbach); the indices
    within a network keep atlas order. The indices address atlas rows, i.e. the
    columns of a time-series table and the list of a subject's diagrams.

    Parameters
    ----------
    atlas : pandas.DataFrame
        A table from :func:`load_atlas`.

    Returns
    -------
    dict of str to numpy.ndarray of int
    """
    keys = atlas["network"].map(network_key)
    return {k: np.flatnonzero(keys.to_numpy() == k) for k in sorted(keys.unique())}


def check_atlas_networks(atlas: pd.DataFrame, source: str = "atlas") -> None:
    """Every network needs at least two ROIs (a pair for the PR matrices and tests).

    Raises
    ------
    ValueError
        Naming the networks with fewer than two ROIs.
    """
    small = {k: len(v) for k, v in networks(atlas).items() if len(v) < 2}
    if small:
        raise ValueError(
            f"{source}: network(s) with fewer than 2 ROIs have no ROI pair to compare: {small}"
        )
