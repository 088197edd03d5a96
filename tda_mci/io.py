"""Reading and writing the pipeline's files; every write is atomic.

A file either appears complete or not at all: data are written to a temporary file in
the destination folder and renamed into place, so a killed job never leaves an output
that looks finished.
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

    text = json.dumps(obj, indent=2, sort_keys=True, default=default) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def write_tsv(path: str | Path, table: pd.DataFrame, float_format: str = "%.10g") -> None:
    """Write a table as TSV without index."""
    atomic_write(
        path, lambda tmp: table.to_csv(tmp, sep="\t", index=False, float_format=float_format)
    )


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


def save_diagrams(
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


def load_diagrams(path: str | Path) -> tuple[list[list[np.ndarray]], list[int], dict[str, Any]]:
    """Load a file written by :func:`save_diagrams`.

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


def save_arrays(path: str | Path, meta: dict[str, Any] | None = None, **arrays: np.ndarray) -> None:
    """Save named arrays (and JSON metadata under ``meta``) to a compressed ``.npz``."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta or {}, sort_keys=True))
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **payload), suffix=".npz")


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a file written by :func:`save_arrays`; returns ``(arrays, meta)``."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
        meta = json.loads(str(f["meta"])) if "meta" in f.files else {}
    return arrays, meta
