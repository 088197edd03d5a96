"""Exact Wasserstein and bottleneck distances between persistence diagrams, and matrices of them.

Convention (the default reproduces ``persim.wasserstein`` of persim 0.4, which the
paper's released code calls):

* A diagram is a ``(k, 2)`` array of ``(birth, death)`` pairs.  Points with an infinite
  death (H0's essential bar) are dropped; points with ``death == birth`` are dropped too
  (they lie on the diagonal and never change a distance).  NaN, an infinite birth or a
  death before its birth is an error.
* Ground metric ``p`` (``ground_metric``): the L^p norm on the plane, ``p >= 1`` or
  ``numpy.inf``; default 2 (Euclidean).  A point may be matched to a point of the other
  diagram at their L^p distance, or to the diagonal at its L^p distance to the diagonal,
  ``(death - birth) * 2 ** (1/p - 1)``: ``(d - b) / sqrt(2)`` for p = 2, ``(d - b) / 2``
  for p = inf, ``d - b`` for p = 1.  The diagonal is matched to itself for free.
* Order ``q`` (``order``): the distance is ``(sum of costs ** q) ** (1/q)``, minimised over
  all such matchings; default 1.  ``order=numpy.inf`` gives the bottleneck distance (the
  largest cost, minimised).  GUDHI's ``wasserstein_distance(order=q, internal_p=p)``
  uses the same definition.
* Costs are computed from coordinate differences (``|x - y|``), not from the expansion
  ``|x|^2 + |y|^2 - 2 x.y`` that persim's scikit-learn call uses, which loses about
  1e-5 (absolute) on raw-scale BOLD values of about 1e4.  Results are therefore exact
  to rounding, not merely as close as persim.

Algorithms (all exact; kernels in :mod:`tda_mci.topology._kernels`, compiled by numba on first
use and cached on disk): when both diagrams have a single common birth value (H0 of a
Rips filtration, births 0) the problem is one-dimensional and its optimal matching is
non-crossing, solved by an O(n m) dynamic programme; otherwise a sparse
shortest-augmenting-path assignment (the algorithm of
``scipy.optimize.linear_sum_assignment``) after exact pruning, or, for the bottleneck
distance, a binary search over the candidate costs with a perfect-matching test.

Matrices are computed in blocks of pairs by numba kernels that release the GIL, run in
``n_jobs`` joblib threads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from tda_mci.topology import _kernels
from tda_mci.validation import check_int, check_n_jobs

__all__ = [
    "wasserstein_distance",
    "distance_matrix",
    "cross_distance_matrix",
    "roi_distance_matrices",
    "subject_distance_matrices",
]

#: Default number of diagram pairs per block in the matrix builders.
DEFAULT_BLOCK_SIZE = 65536


# --------------------------------------------------------------------------- validation


def _metric(order, ground_metric) -> tuple[float, float, float]:
    """Validate ``order`` and ``ground_metric``; return ``(q, p, kappa)``."""
    try:
        q = float(order)
    except (TypeError, ValueError):
        raise ValueError(f"order must be a number >= 1 or inf; got {order!r}") from None
    try:
        p = float(ground_metric)
    except (TypeError, ValueError):
        raise ValueError(
            f"ground_metric must be a number >= 1 or inf; got {ground_metric!r}"
        ) from None
    if math.isnan(q) or q < 1.0:
        raise ValueError(f"order must be >= 1 (or inf for the bottleneck); got {order!r}")
    if math.isnan(p) or p < 1.0:
        raise ValueError(f"ground_metric must be >= 1 (or inf); got {ground_metric!r}")
    kappa = 0.5 if math.isinf(p) else 2.0 ** (1.0 / p - 1.0)
    if p == 2.0:
        kappa = 1.0 / math.sqrt(2.0)
    return q, p, kappa


_PROBLEMS = {1: "contains NaN", 2: "births must be finite", 3: "death before birth"}


def _prepare(diagram, what: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate one diagram; return its births, deaths and common birth.

    Bars with a finite death and positive length are kept, sorted by death then birth;
    the common birth is NaN if births differ or none is kept.
    """
    try:
        arr = np.asarray(diagram, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: not a numeric (k, 2) array") from None
    if arr.size == 0:
        return _EMPTY, _EMPTY, math.nan
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{what}: expected a (k, 2) array of (birth, death); got {arr.shape}")
    births, deaths, common, status, row = _kernels.prepare_diagram(np.ascontiguousarray(arr))
    if status:
        raise ValueError(
            f"{what}: {_PROBLEMS[status]} at row {row} "
            f"({float(arr[row, 0])!r}, {float(arr[row, 1])!r})"
        )
    return births, deaths, common


_EMPTY = np.empty(0)


@dataclass(frozen=True)
class _Packed:
    """Diagrams concatenated for the numba kernels."""

    births: np.ndarray
    deaths: np.ndarray
    offsets: np.ndarray
    common: np.ndarray

    def __len__(self) -> int:
        return len(self.common)

    def args(self) -> tuple[np.ndarray, ...]:
        return self.births, self.deaths, self.offsets, self.common


def _pack(diagrams: Sequence, label: str = "diagram") -> _Packed:
    """Validate and concatenate a sequence of diagrams (``label`` names them in errors)."""
    if isinstance(diagrams, np.ndarray) and diagrams.dtype != object and diagrams.ndim == 2:
        raise ValueError(
            "expected a sequence of (k, 2) diagrams; got a single 2-D array (wrap it in a list)"
        )
    prepared = [_prepare(d, f"{label} {i}") for i, d in enumerate(diagrams)]
    sizes = np.array([len(b) for b, _, _ in prepared], dtype=np.int64)
    offsets = np.zeros(len(prepared) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return _Packed(
        births=np.concatenate([b for b, _, _ in prepared]) if prepared else _EMPTY,
        deaths=np.concatenate([d for _, d, _ in prepared]) if prepared else _EMPTY,
        offsets=offsets,
        common=np.array([c for _, _, c in prepared], dtype=np.float64),
    )


# --------------------------------------------------------------------------- engine


def _pairs(
    a: _Packed, b: _Packed, rows: np.ndarray, cols: np.ndarray, metric, n_jobs: int, parallel
) -> np.ndarray:
    """Distances between ``a[rows[k]]`` and ``b[cols[k]]`` for every k."""
    q, p, kappa = metric
    out = np.empty(len(rows))
    if len(rows) == 0:
        return out
    if n_jobs == 1 or parallel is None or len(rows) < 16:
        _kernels.pairs_distance(*a.args(), *b.args(), rows, cols, p, kappa, q, out)
        return out
    # several chunks per thread so that uneven pair costs balance out
    n_chunks = min(len(rows), 8 * n_jobs)
    bounds = np.linspace(0, len(rows), n_chunks + 1).astype(np.int64)

    def run(s: int, e: int) -> None:
        _kernels.pairs_distance(*a.args(), *b.args(), rows[s:e], cols[s:e], p, kappa, q, out[s:e])

    parallel(delayed(run)(s, e) for s, e in zip(bounds[:-1], bounds[1:], strict=True) if e > s)
    return out


def _triu_blocks(n: int, block_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the pairs ``i < j`` of ``range(n)`` in row-major blocks of about ``block_size``."""
    i = 0
    while i < n - 1:
        start = i
        count = 0
        while i < n - 1 and (count == 0 or count + (n - 1 - i) <= block_size):
            count += n - 1 - i
            i += 1
        r = np.arange(start, i, dtype=np.int64)
        lengths = n - 1 - r
        rows = np.repeat(r, lengths)
        # column index: for each row r, r+1..n-1
        first = np.repeat(r + 1 - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        cols = first + np.arange(len(rows), dtype=np.int64)
        yield rows, cols


def _rect_blocks(na: int, nb: int, block_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield all pairs of ``range(na) x range(nb)`` in row-major blocks."""
    if na == 0 or nb == 0:
        return
    rows_per_block = max(1, block_size // nb)
    for s in range(0, na, rows_per_block):
        e = min(na, s + rows_per_block)
        rows = np.repeat(np.arange(s, e, dtype=np.int64), nb)
        cols = np.tile(np.arange(nb, dtype=np.int64), e - s)
        yield rows, cols


def _parallel(n_jobs: int):
    """Return a joblib thread pool for ``n_jobs > 1`` (kernels release the GIL), else none."""
    return Parallel(n_jobs=n_jobs, backend="threading") if n_jobs > 1 else nullcontext()


def _symmetric(packed: _Packed, metric, n_jobs: int, block_size: int) -> np.ndarray:
    n = len(packed)
    out = np.zeros((n, n))
    if n < 2:
        return out
    with _parallel(n_jobs) as par:
        for rows, cols in _triu_blocks(n, block_size):
            vals = _pairs(packed, packed, rows, cols, metric, n_jobs, par)
            out[rows, cols] = vals
            out[cols, rows] = vals
    return out


# --------------------------------------------------------------------------- public API


def wasserstein_distance(a, b, order: float = 1.0, ground_metric: float = 2.0) -> float:
    """Exact Wasserstein (or bottleneck) distance between two persistence diagrams.

    With the defaults this is ``persim.wasserstein(a, b)`` (persim 0.4): order 1,
    Euclidean ground metric, cost of a point to the diagonal ``(death - birth)/sqrt(2)``,
    infinite bars dropped, but with costs computed exactly (see the module docstring).

    Parameters
    ----------
    a, b : array_like, shape (k, 2)
        Diagrams as ``(birth, death)`` rows; empty arrays (or ``[]``) are allowed.
        Bars with infinite death and zero-length bars are ignored.
    order : float, default 1.0
        Wasserstein order q >= 1: ``(sum of matched costs ** q) ** (1/q)``.
        ``numpy.inf`` gives the bottleneck distance.
    ground_metric : float, default 2.0
        The L^p norm p >= 1 (or ``numpy.inf``) measuring the distance between two points
        and from a point to the diagonal, ``(death - birth) * 2 ** (1/p - 1)``.

    Returns
    -------
    float
        The distance (0.0 for two empty diagrams).

    Raises
    ------
    ValueError
        If a diagram is not a (k, 2) array, contains NaN, an infinite birth or a death
        before its birth, or if ``order`` or ``ground_metric`` is below 1.

    Examples
    --------
    >>> round(wasserstein_distance([[1.0, 2.0]], []), 6)  # 1 / sqrt(2)
    0.707107
    >>> # bottleneck, L-inf: matching costs 2, the diagonal max(1/2, 3/2)
    >>> wasserstein_distance([[0.0, 1.0]], [[0.0, 3.0]], order=np.inf, ground_metric=np.inf)
    1.5
    """
    q, p, kappa = _metric(order, ground_metric)
    ba, da, ca = _prepare(a, "diagram a")
    bb, db, cb = _prepare(b, "diagram b")
    return float(_kernels.pair_distance(ba, da, ca, bb, db, cb, p, kappa, q))


def distance_matrix(
    diagrams: Sequence,
    n_jobs: int = 1,
    *,
    order: float = 1.0,
    ground_metric: float = 2.0,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> np.ndarray:
    """Symmetric matrix of distances between every two diagrams of a list.

    Parameters
    ----------
    diagrams : sequence of array_like, each (k, 2)
        Diagrams in the order of the matrix rows (for example ROIs in atlas order).
    n_jobs : int, default 1
        Threads computing pairs in parallel (``-1``: all cores).  The numba kernels
        release the GIL, so threads scale without copying the diagrams.
    order, ground_metric : float
        As in :func:`wasserstein_distance` (defaults: persim's convention).
    block_size : int, default 65536
        Pairs computed per block; memory beyond the matrix is O(block_size).

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        ``D[i, j]`` is the distance between ``diagrams[i]`` and ``diagrams[j]``;
        symmetric with a zero diagonal.

    Raises
    ------
    ValueError
        If a diagram is invalid (the message names its index) or a parameter is.
    """
    metric = _metric(order, ground_metric)
    n_jobs = check_n_jobs(n_jobs)
    block_size = check_int("block_size", block_size, 1)
    return _symmetric(_pack(diagrams), metric, n_jobs, block_size)


def cross_distance_matrix(
    diagrams_a: Sequence,
    diagrams_b: Sequence,
    n_jobs: int = 1,
    *,
    order: float = 1.0,
    ground_metric: float = 2.0,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> np.ndarray:
    """Distances between every diagram of one list and every diagram of another.

    Parameters
    ----------
    diagrams_a, diagrams_b : sequence of array_like, each (k, 2)
        Row and column diagrams.
    n_jobs : int, default 1
        Threads (``-1``: all cores).
    order, ground_metric : float
        As in :func:`wasserstein_distance`.
    block_size : int, default 65536
        Pairs per block.

    Returns
    -------
    numpy.ndarray, shape (len(diagrams_a), len(diagrams_b)), float64
        ``D[i, j]`` is the distance between ``diagrams_a[i]`` and ``diagrams_b[j]``.
    """
    metric = _metric(order, ground_metric)
    n_jobs = check_n_jobs(n_jobs)
    block_size = check_int("block_size", block_size, 1)
    a = _pack(diagrams_a, "diagram_a")
    b = _pack(diagrams_b, "diagram_b")
    out = np.zeros((len(a), len(b)))
    with _parallel(n_jobs) as par:
        for rows, cols in _rect_blocks(len(a), len(b), block_size):
            out[rows, cols] = _pairs(a, b, rows, cols, metric, n_jobs, par)
    return out


def _n_dims(diagrams: Sequence, label: str) -> int:
    if len(diagrams) == 0:
        raise ValueError(f"no {label}s given")
    n_dims = len(diagrams[0])
    for i, d in enumerate(diagrams):
        if len(d) != n_dims:
            raise ValueError(
                f"{label} {i} has diagrams for {len(d)} homology dimensions, {label} 0 for {n_dims}"
            )
    if n_dims == 0:
        raise ValueError(f"{label} 0 has no diagrams")
    return n_dims


def roi_distance_matrices(
    diagrams: Sequence[Sequence],
    networks: Mapping[str, Sequence[int]],
    n_jobs: int = 1,
    *,
    order: float = 1.0,
    ground_metric: float = 2.0,
) -> dict[str, np.ndarray]:
    """PR matrices of one subject: inter-ROI distances within each network, per dimension.

    Parameters
    ----------
    diagrams : sequence over ROIs of sequence over dimensions of (k, 2) arrays
        ``diagrams[r][q]`` is ROI ``r``'s H_q diagram, ROIs in atlas order (as returned
        by :func:`tda_mci.io.load_diagrams` or :func:`tda_mci.topology.homology.subject_diagrams`).
    networks : mapping of str to sequence of int
        Network key -> row indices into ``diagrams`` (as :func:`tda_mci.atlas.networks`
        returns); the matrix rows follow this order.
    n_jobs : int, default 1
        Threads (``-1``: all cores); all pairs of all networks share one pool.
    order, ground_metric : float
        As in :func:`wasserstein_distance` (defaults: persim's convention).

    Returns
    -------
    dict of str to numpy.ndarray, shape (n_dims, n, n)
        For each network, ``M[q, i, j]`` is the H_q distance between its i-th and j-th
        ROI; symmetric, zero diagonal.

    Raises
    ------
    ValueError
        If an index is out of range or repeated within a network, if ROIs have
        different numbers of dimensions, or if a diagram is invalid (the message names
        the ROI and dimension).
    """
    metric = _metric(order, ground_metric)
    n_jobs = check_n_jobs(n_jobs)
    n_rois = len(diagrams)
    n_dims = _n_dims(diagrams, "ROI")
    index: dict[str, np.ndarray] = {}
    for key, rows in networks.items():
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n_rois):
            raise ValueError(f"network {key!r}: ROI index out of range 0..{n_rois - 1}")
        if len(np.unique(idx)) != len(idx):
            raise ValueError(f"network {key!r}: repeated ROI index")
        index[key] = idx
    # one list of pairs over all networks, so that a single pool serves them all
    local = {k: np.triu_indices(len(idx), 1) for k, idx in index.items()}
    rows = np.concatenate([index[k][li] for k, (li, _) in local.items()] or [np.empty(0, int)])
    cols = np.concatenate([index[k][lj] for k, (_, lj) in local.items()] or [np.empty(0, int)])
    rows = rows.astype(np.int64)
    cols = cols.astype(np.int64)
    result = {k: np.zeros((n_dims, len(idx), len(idx))) for k, idx in index.items()}
    with _parallel(n_jobs) as par:
        for q in range(n_dims):
            packed = _pack([d[q] for d in diagrams], f"H{q} diagram of ROI")
            vals = _pairs(packed, packed, rows, cols, metric, n_jobs, par)
            start = 0
            for k, (li, lj) in local.items():
                v = vals[start : start + len(li)]
                result[k][q, li, lj] = v
                result[k][q, lj, li] = v
                start += len(li)
    return result


def subject_distance_matrices(
    diagrams_by_subject: Sequence[Sequence],
    n_jobs: int = 1,
    block_size: int = DEFAULT_BLOCK_SIZE,
    *,
    order: float = 1.0,
    ground_metric: float = 2.0,
) -> np.ndarray:
    """PS matrices of one ROI for every homology dimension.

    Parameters
    ----------
    diagrams_by_subject : sequence over subjects of sequence over dimensions of (k, 2)
        ``diagrams_by_subject[s][q]``: subject ``s``'s H_q diagram of this ROI.
    n_jobs : int, default 1
        Threads (``-1``: all cores).
    block_size : int, default 65536
        Pairs computed per block.  Memory is the (N, N) matrix plus O(block_size); at
        N = 533 subjects the whole computation stays far below 1 GB.
    order, ground_metric : float
        As in :func:`wasserstein_distance` (defaults: persim's convention).

    Returns
    -------
    numpy.ndarray, shape (n_dims, N, N), float64
        ``M[q]`` is the H_q subject-by-subject matrix.
    """
    metric = _metric(order, ground_metric)
    n_jobs = check_n_jobs(n_jobs)
    block_size = check_int("block_size", block_size, 1)
    n_dims = _n_dims(diagrams_by_subject, "subject")
    return np.stack(
        [
            _symmetric(
                _pack([d[q] for d in diagrams_by_subject], f"H{q} diagram of subject"),
                metric,
                n_jobs,
                block_size,
            )
            for q in range(n_dims)
        ]
    )
