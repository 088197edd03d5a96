"""Vietoris-Rips persistence diagrams of sliding-window point clouds.

Conventions
-----------
* Filtration: Vietoris-Rips on the Euclidean distance between points, no threshold,
  homology with coefficients in Z/2 (as Ripser).
* A diagram is a float64 ``(k, 2)`` array of finite ``(birth, death)`` bars sorted by
  death, then birth.  H0's single infinite bar (the connected cloud) is implied and not
  returned.  Zero-length bars (``death == birth``, e.g. from duplicated points) are
  dropped by every backend, so the backends return equal diagrams.
* Backends (same diagrams, to floating-point rounding):

  ``"gudhi"`` (default, fast)
      GUDHI: the Rips 1-skeleton as a simplex tree, edge collapse (Boissonnat & Pritam;
      preserves the persistent homology of the flag filtration), expansion to
      dimension ``max_dim + 1``, persistence over Z/2.  Distances in float64.
  ``"ripser"`` (reference: what the paper ran)
      Ripser on the cloud's Euclidean distance matrix (``scipy.spatial.distance.pdist``,
      the exact difference of coordinates; ``ripser(cloud)`` itself would use
      scikit-learn's expanded-square distances, which give duplicated points a distance of
      ~1e-8 instead of 0 on some machines, hence a spurious H0 bar).  Ripser stores
      filtration values in float32, so its values differ from GUDHI's by up to ~1e-7
      relative.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from joblib import Parallel, delayed

from tda_mci.topology.windows import sliding_window
from tda_mci.validation import (
    check_choice,
    check_int,
    check_n_jobs,
    constant_columns,
    first_nonfinite,
)

__all__ = ["BACKENDS", "persistence_diagrams", "subject_diagrams"]

#: Available persistence backends.
BACKENDS = ("gudhi", "ripser")


def _finish(bars) -> np.ndarray:
    """Finite, positive-length bars as float64 sorted by (death, birth)."""
    arr = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    arr = arr[np.isfinite(arr[:, 1]) & (arr[:, 1] > arr[:, 0])]
    return np.ascontiguousarray(arr[np.lexsort((arr[:, 0], arr[:, 1]))])


def _gudhi(cloud: np.ndarray, max_dim: int) -> list[np.ndarray]:
    import gudhi

    tree = gudhi.RipsComplex(points=cloud).create_simplex_tree(max_dimension=1)
    if max_dim >= 1:
        # One pass of the collapse is GUDHI's documented use (rips_complex_edge_collapse
        # example, RipsPersistence's "auto"); a second pass removes little here and costs
        # a full pass over the remaining edges.
        tree.collapse_edges(1)
    tree.expansion(max_dim + 1)
    tree.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    out = [tree.persistence_intervals_in_dimension(q) for q in range(max_dim + 1)]
    essential = [
        q
        for q in range(1, max_dim + 1)
        if len(out[q]) and not np.isfinite(np.asarray(out[q])[:, 1]).all()
    ]
    if essential:  # the full Rips complex is a simplex: impossible unless GUDHI misbehaves
        raise RuntimeError(f"gudhi returned infinite bars in dimension(s) {essential}")
    return [_finish(d) for d in out]


def _ripser(cloud: np.ndarray, max_dim: int) -> list[np.ndarray]:
    from ripser import ripser
    from scipy.spatial.distance import pdist, squareform

    with warnings.catch_warnings():
        # tiny clouds (n_points <= n_features) trigger "did you mean to transpose"
        warnings.simplefilter("ignore", UserWarning)
        dgms = ripser(squareform(pdist(cloud)), maxdim=max_dim, distance_matrix=True)["dgms"]
    return [_finish(d) for d in dgms]


def persistence_diagrams(cloud, max_dim: int = 2, backend: str = "gudhi") -> list[np.ndarray]:
    """Compute the Vietoris-Rips persistence diagrams H0..H_max_dim of a point cloud.

    Parameters
    ----------
    cloud : array_like, shape (n_points, n_features)
        Points (e.g. from :func:`tda_mci.topology.windows.sliding_window`); finite values.
        A single point gives empty diagrams; duplicated points are allowed (they only
        add zero-length H0 bars, which are dropped).
    max_dim : int, default 2
        Highest homology dimension.
    backend : {"gudhi", "ripser"}, default "gudhi"
        ``"gudhi"``: Rips simplex tree with edge collapse (fast, float64);
        ``"ripser"``: Ripser on the exact Euclidean distance matrix (the paper's
        reference, float32 filtration values).

    Returns
    -------
    list of numpy.ndarray
        ``max_dim + 1`` float64 arrays of shape (k, 2): the finite ``(birth, death)``
        bars of H0, H1, ..., sorted by death then birth.  H0's infinite bar is implied
        and not returned; zero-length bars are dropped.

    Raises
    ------
    ValueError
        If the cloud is not 2-D, is empty or has a non-finite value, or if ``max_dim``
        or ``backend`` is invalid.

    Examples
    --------
    >>> angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    >>> circle = np.c_[np.cos(angles), np.sin(angles)]
    >>> h0, h1 = persistence_diagrams(circle, max_dim=1)
    >>> len(h0), len(h1)  # 7 finite H0 bars (8 points) and the circle's loop
    (7, 1)
    """
    max_dim = check_int("max_dim", max_dim, 0)
    backend = check_choice("backend", backend, BACKENDS)
    try:
        arr = np.asarray(cloud, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("point cloud must be numeric") from None
    if arr.ndim != 2:
        raise ValueError(
            f"point cloud must be 2-D (n_points, n_features); got shape {arr.shape} "
            "(embed a 1-D series with sliding_window first)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"point cloud is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError("point cloud has non-finite values")
    if arr.shape[0] == 1:
        return [np.empty((0, 2)) for _ in range(max_dim + 1)]
    arr = np.ascontiguousarray(arr)
    return _gudhi(arr, max_dim) if backend == "gudhi" else _ripser(arr, max_dim)


def _roi_diagrams(x, col: int, dimension: int, delay: int, max_dim: int, backend: str):
    try:
        cloud = sliding_window(x, dimension=dimension, delay=delay)
    except ValueError as err:
        raise ValueError(f"ROI column {col}: {err}") from None
    return persistence_diagrams(cloud, max_dim=max_dim, backend=backend)


def _checked_series(series) -> np.ndarray:
    """Return a (T, R) float64 array of finite, non-constant ROI columns, else raise.

    Messages name the first bad column (0-based, atlas order).
    """
    try:
        data = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("time series must be numeric") from None
    if data.ndim != 2:
        raise ValueError(f"time series must be a (T, R) array; got shape {data.shape}")
    if data.shape[1] == 0:
        raise ValueError("time series has no ROI columns")
    bad = first_nonfinite(data.T)
    if bad is not None:
        col, row = bad
        raise ValueError(
            f"ROI column {col}: non-finite value {float(data[row, col])!r} at volume {row} "
            f"({int((~np.isfinite(data)).any(axis=0).sum())} column(s) affected)"
        )
    if data.shape[0] > 0:
        zero, const = constant_columns(data)
        constant = np.union1d(zero, const)
        if constant.size:
            col = int(constant[0])
            raise ValueError(
                f"ROI column {col}: constant series (every value {float(data[0, col])!r}); "
                f"{constant.size} constant column(s) in total"
            )
    return data


def subject_diagrams(
    series,
    dimension: int = 3,
    delay: int = 1,
    max_dim: int = 2,
    backend: str = "gudhi",
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[np.ndarray]]:
    """Diagrams of every ROI of one subject: embed each column, then persistence.

    Parameters
    ----------
    series : array_like, shape (T, R)
        One row per volume, one column per ROI in atlas order.
    dimension, delay : int
        Sliding-window length and lag (defaults: the paper's 3 and 1, giving T - 2
        points per ROI), see :func:`tda_mci.topology.windows.sliding_window`.
    max_dim : int, default 2
        Highest homology dimension.
    backend : {"gudhi", "ripser"}, default "gudhi"
        See :func:`persistence_diagrams`.
    n_jobs : int, default 1
        ROIs computed in parallel by joblib threads (``-1``: all cores).  Threads, not
        processes: GUDHI and Ripser release the GIL in their C++ code, threads share the
        series without copies, and memory stays bounded by ``n_jobs`` clouds in flight.
    progress : callable, optional
        Called as ``progress(done, total)`` each time an ROI finishes (from worker
        threads, serialised by a lock), e.g. to log progress of long series.

    Returns
    -------
    list over ROIs of list over dimensions of numpy.ndarray
        ``diagrams[r][q]``: ROI ``r``'s H_q diagram as returned by
        :func:`persistence_diagrams` (the layout of :func:`tda_mci.io.save_diagrams`).

    Raises
    ------
    ValueError
        If ``series`` is not 2-D, or if an ROI column is non-finite, constant (for
        example all zero) or too short for the window; the message names the column
        index (0-based, atlas order).
    """
    max_dim = check_int("max_dim", max_dim, 0)
    backend = check_choice("backend", backend, BACKENDS)
    n_jobs = check_n_jobs(n_jobs)
    data = _checked_series(series)
    columns: Sequence[np.ndarray] = [np.ascontiguousarray(data[:, r]) for r in range(data.shape[1])]
    lock, done = threading.Lock(), [0]

    def one(x: np.ndarray, r: int) -> list[np.ndarray]:
        result = _roi_diagrams(x, r, dimension, delay, max_dim, backend)
        if progress is not None:
            with lock:
                done[0] += 1
                progress(done[0], len(columns))
        return result

    if n_jobs == 1:
        return [one(x, r) for r, x in enumerate(columns)]
    return Parallel(n_jobs=n_jobs, backend="threading")(
        delayed(one)(x, r) for r, x in enumerate(columns)
    )
