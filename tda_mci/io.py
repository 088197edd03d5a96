"""Every file format of the pipeline: one writer and one reader per output kind.

===========================  =====================================  =========================
output kind                  writer / reader                        file
===========================  =====================================  =========================
ROI time series              :func:`write_timeseries` /              ``*_timeseries.tsv`` +
                             :func:`read_timeseries`                 ``.json`` sidecar
persistence diagrams         :func:`write_diagrams` /                ``*_dgm.npz``
                             :func:`read_diagrams`
inter-ROI matrices (PR)      :func:`write_pr` / :func:`read_pr`      ``*_desc-PR_dist.npz``
inter-subject matrices (PS)  :func:`write_ps` / :func:`read_ps`      ``*_desc-PS_dist.npz``
rank-sum statistics          :func:`write_pr_statistics` /           ``*_stat.npz``
                             :func:`read_pr_statistics`
classifier records           :func:`write_record` /                  ``*_metrics.json``,
                             :func:`read_record`                     ``*_permutation.json``
the cohort                   :func:`write_cohort` /                  ``qc/included.tsv``
                             :func:`read_cohort`
tables                       :func:`write_tsv` / :func:`read_tsv`    ``*.tsv``
===========================  =====================================  =========================

Every write is atomic: data are written to a temporary file in the destination folder
and renamed into place, so a killed job never leaves an output that looks finished.
The layout of each file is documented with its writer (and in ``docs/architecture.md``);
names come from :mod:`tda_mci.paths`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: str | Path, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp_path)`` and rename the temporary file to ``path``.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created.
    write : callable
        Writes the content to the temporary path it receives.
    suffix : str
        Suffix of the temporary file (some writers choose the format by extension).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (numpy scalars and arrays converted)."""

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o)}")

    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=default) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write a text file (UTF-8) atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def write_tsv(path: str | Path, table: pd.DataFrame, float_format: str = "%.10g") -> None:
    """Write a table as TSV without index (floats with 10 significant digits)."""
    atomic_write(
        path, lambda tmp: table.to_csv(tmp, sep="\t", index=False, float_format=float_format)
    )


def read_tsv(path: str | Path, text: bool = False) -> pd.DataFrame:
    """Read a TSV written by :func:`write_tsv`.

    Parameters
    ----------
    path : str or Path
        The table.
    text : bool
        Read every column as text, and empty cells as empty strings (never NaN): for
        tables of labels such as subject ids (``sub-NA`` is a valid BIDS label).
    """
    if text:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return pd.read_csv(path, sep="\t")


#: Columns of the cohort table (``qc/included.tsv``).
COHORT_COLUMNS = ("participant_id", "subject", "group")


def write_cohort(path: str | Path, table: pd.DataFrame) -> None:
    """Write the cohort table: one row per included subject, participants order.

    Columns :data:`COHORT_COLUMNS` (the label after ``sub-`` is ``subject``). Group
    stages read the subjects and their groups from this file.
    """
    write_tsv(path, table[list(COHORT_COLUMNS)])


def read_cohort(path: str | Path) -> pd.DataFrame:
    """Read the cohort table written by :func:`write_cohort` (every value as text).

    Raises
    ------
    ValueError
        If a column of :data:`COHORT_COLUMNS` is missing.
    """
    table = read_tsv(path, text=True)
    missing = [c for c in COHORT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a cohort table (missing column(s) {missing})")
    return table


def write_timeseries(
    path: str | Path, data: np.ndarray, rois: Sequence[int], sidecar: dict[str, Any]
) -> None:
    """Write a T x R time-series table and its JSON sidecar.

    Parameters
    ----------
    path : str or Path
        ``..._timeseries.tsv``; the sidecar goes beside it as ``..._timeseries.json``.
    data : numpy.ndarray, shape (T, R)
        One row per volume, one column per ROI in atlas order.
    rois : sequence of int
        ROI numbers, written as the header.
    sidecar : dict
        Metadata (RepetitionTime, NumberOfVolumes, Source, settings).
    """
    data = np.asarray(data, dtype=float)
    table = pd.DataFrame(data, columns=[str(r) for r in rois])
    # 17 significant digits: the TSV round-trips float64 exactly.
    write_json(Path(path).with_suffix(".json"), sidecar)
    write_tsv(path, table, float_format="%.17g")


def read_timeseries(path: str | Path) -> tuple[np.ndarray, list[int]]:
    """Read a time-series TSV.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
    rois : list of int
        ROI numbers from the header.
    """
    table = pd.read_csv(path, sep="\t")
    return table.to_numpy(dtype=float), [int(c) for c in table.columns]


def write_diagrams(
    path: str | Path,
    diagrams: Sequence[Sequence[np.ndarray]],
    rois: Sequence[int],
    meta: dict[str, Any],
) -> None:
    """Save every ROI's persistence diagrams of one subject in one compressed file.

    Parameters
    ----------
    path : str or Path
        ``..._dgm.npz``.
    diagrams : sequence over ROIs of sequence over dimensions of (k, 2) arrays
        ``diagrams[i][q]`` holds the finite (birth, death) pairs of ROI ``i`` in H_q.
        H0's single infinite bar is implied and not stored.
    rois : sequence of int
        ROI numbers, same order as ``diagrams``.
    meta : dict
        Embedding and backend settings, stored as JSON text.
    """
    n_dims = len(diagrams[0]) if len(diagrams) else 0
    arrays: dict[str, np.ndarray] = {"rois": np.asarray(rois, dtype=np.int64)}
    for q in range(n_dims):
        parts = [np.asarray(d[q], dtype=np.float64).reshape(-1, 2) for d in diagrams]
        sizes = np.array([len(p) for p in parts], dtype=np.int64)
        arrays[f"H{q}"] = np.concatenate(parts) if parts else np.empty((0, 2))
        arrays[f"H{q}_offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays), suffix=".npz")


def read_diagrams(path: str | Path) -> tuple[list[list[np.ndarray]], list[int], dict[str, Any]]:
    """Load a file written by :func:`write_diagrams`.

    Returns
    -------
    diagrams : list over ROIs of list over dimensions of (k, 2) float64 arrays
    rois : list of int
    meta : dict
    """
    with np.load(path) as f:
        rois = f["rois"].tolist()
        dims = sorted(int(k[1:]) for k in f.files if k.startswith("H") and "_" not in k)
        per_dim = []
        for q in dims:
            flat, off = f[f"H{q}"], f[f"H{q}_offsets"]
            per_dim.append([flat[off[i] : off[i + 1]] for i in range(len(rois))])
        meta = json.loads(str(f["meta"]))
    return [[per_dim[q][i] for q in range(len(dims))] for i in range(len(rois))], rois, meta


def _save_arrays(
    path: str | Path, meta: dict[str, Any] | None = None, **arrays: np.ndarray
) -> None:
    """Save named arrays (and JSON metadata under ``meta``) to a compressed ``.npz``."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta or {}, sort_keys=True))
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **payload), suffix=".npz")


def _load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a file written by :func:`save_arrays`; returns ``(arrays, meta)``."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
        meta = json.loads(str(f["meta"])) if "meta" in f.files else {}
    return arrays, meta


# ----------------------------------------------------------------------------- PR and PS
def write_pr(
    path: str | Path,
    matrices: dict[str, np.ndarray],
    rois: dict[str, np.ndarray],
    meta: dict[str, Any],
) -> None:
    """Write one subject's inter-ROI (PR) matrices.

    Layout: for every network key ``K`` (in the order given), an array ``K`` of shape
    ``(n_dims, n, n)`` (``K[q, i, j]``: H_q Wasserstein distance between the network's
    ROIs ``i`` and ``j``, atlas order within the network) and ``K_rois`` (their atlas
    numbers); ``meta`` as JSON text.
    """
    arrays = {}
    for net, mat in matrices.items():
        arrays[net] = mat
        arrays[f"{net}_rois"] = rois[net]
    _save_arrays(path, meta=meta, **arrays)


def read_pr(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, list[int]], dict]:
    """Read a file written by :func:`write_pr`.

    Returns
    -------
    matrices : dict of str to numpy.ndarray, shape (n_dims, n, n)
    rois : dict of str to list of int
    meta : dict
    """
    arrays, meta = _load_arrays(path)
    nets = [k for k in arrays if not k.endswith("_rois")]
    return ({k: arrays[k] for k in nets},
            {k: arrays[f"{k}_rois"].tolist() for k in nets}, meta)


def write_ps(
    path: str | Path,
    matrices: dict[int, np.ndarray],
    subjects: list[str],
    meta: dict[str, Any],
) -> None:
    """Write the inter-subject (PS) matrices of a block of ROIs.

    Layout: ``subjects`` (labels, the row order of every matrix), ``rois`` (atlas
    numbers of the block) and, per ROI ``r``, ``roi<r>`` of shape ``(n_dims, N, N)``;
    ``meta`` as JSON text.
    """
    _save_arrays(path, meta=meta, subjects=np.asarray(subjects),
                 rois=np.asarray(list(matrices)), **{f"roi{r}": m for r, m in matrices.items()})


def read_ps(path: str | Path) -> tuple[dict[int, np.ndarray], list[str], dict[str, Any]]:
    """Read a file written by :func:`write_ps`.

    Returns
    -------
    matrices : dict of int to numpy.ndarray, shape (n_dims, N, N)
        By atlas ROI number, in file order.
    subjects : list of str
    meta : dict
    """
    arrays, meta = _load_arrays(path)
    rois = [int(r) for r in arrays["rois"].tolist()]
    return {r: arrays[f"roi{r}"] for r in rois}, arrays["subjects"].tolist(), meta


# ----------------------------------------------------------------------------- statistics
def write_pr_statistics(
    path: str | Path,
    results: dict[tuple[str, int], dict[str, np.ndarray]],
    meta: dict[str, Any],
) -> None:
    """Write the rank-sum results of one comparison.

    Layout: per network key ``K``, dimension ``q`` and result name ``x`` (``p``,
    ``p_bh``, ``p_by``, ``U``, ``effect``, ``median_a``, ``median_b``, ``significant``:
    the :func:`tda_mci.stats.compare_groups` dict), an ``(n, n)`` array ``K_Hq_x``;
    ``meta`` as JSON text.
    """
    _save_arrays(path, meta=meta, **{
        f"{net}_H{dim}_{name}": value
        for (net, dim), res in results.items() for name, value in res.items()
    })


def read_pr_statistics(
    path: str | Path,
) -> tuple[dict[tuple[str, int], dict[str, np.ndarray]], dict[str, Any]]:
    """Read a file written by :func:`write_pr_statistics`: ``({(net, dim): result}, meta)``."""
    arrays, meta = _load_arrays(path)
    results: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for name, value in arrays.items():
        net, dim, field = name.split("_", 2)
        results.setdefault((net, int(dim[1:])), {})[field] = value
    return results, meta


# ----------------------------------------------------------------------------- records
def write_record(path: str | Path, record: dict[str, Any]) -> None:
    """Write a classifier record (metrics of one model, or a permutation test) as JSON.

    The record's keys are documented by the stage that makes it
    (:func:`tda_mci.model.stages.train_classifiers`,
    :func:`tda_mci.model.stages.permutation_test`).
    """
    write_json(path, record)


def read_record(path: str | Path) -> dict[str, Any]:
    """Read a record written by :func:`write_record`."""
    return read_json(path)
