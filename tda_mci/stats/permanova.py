"""PERMANOVA of PS (ROI-specific inter-subject) matrices.

For one ROI and homology dimension, a PERMANOVA (Anderson 2001) permutation test of
group separation on the subject x subject distance matrix; Benjamini-Hochberg FDR across
the ROIs of one dimension. Pure functions, numpy and pandas in and out.

With covariates (``statistics.covariates``, the ``design`` argument) the test is that of
the group after the covariates (sequential, type I sums of squares on the Gower-centred
matrix) with permutation of residuals under the reduced model (McArdle & Anderson 2001;
Anderson 2001); without them it is exactly the unadjusted test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tda_mci.stats.ranksum import _covariate_model, _group_basis, adjust_pvalues

#: What an adjusted PERMANOVA is, in words (the ``covariates`` column of the stage's table
#: names the covariates).
ADJUSTED_PERMANOVA = ("sequential (type I) pseudo-F of group after the covariates on the "
                      "Gower-centred matrix, permutation of residuals under the reduced model")


def permutation_indices(n: int, n_permutations: int, seed: int) -> np.ndarray:
    """Draw the subject permutations used by :func:`permanova`.

    Parameters
    ----------
    n : int
        Number of subjects.
    n_permutations : int
        Number of permutations.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray of int64, shape (n_permutations, n)
        Row ``k`` is a permutation of ``0..n-1``; permuted labels are ``labels[row]``.
    """
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be >= 1; got {n_permutations!r}")
    rng = np.random.default_rng(seed)
    base = np.tile(np.arange(n, dtype=np.int64), (int(n_permutations), 1))
    return rng.permuted(base, axis=1)


def _check_dist(dist) -> np.ndarray:
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"dist must be a square (N, N) matrix; got shape {d.shape}")
    if not np.isfinite(d).all():
        raise ValueError("dist contains non-finite values")
    if (d < 0).any():
        raise ValueError(f"dist has negative entries (min {d.min()})")
    scale = max(float(np.abs(d).max()), 1.0)
    if not np.allclose(d, d.T, rtol=0, atol=1e-9 * scale):
        raise ValueError("dist is not symmetric")
    if np.abs(np.diag(d)).max(initial=0.0) > 1e-9 * scale:
        raise ValueError("dist has a non-zero diagonal")
    return d


def _encode_labels(labels, n: int) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must have one entry per subject ({n}); got shape {labels.shape}")
    _, codes = np.unique(labels, return_inverse=True)
    n_groups = int(codes.max()) + 1 if n else 0
    if n_groups < 2:
        raise ValueError(f"labels must name at least 2 groups; got {np.unique(labels).tolist()}")
    if n <= n_groups:
        raise ValueError(f"need more subjects ({n}) than groups ({n_groups})")
    return codes.astype(np.int64), n_groups


def _pseudo_f(d2: np.ndarray, codes: np.ndarray, n_groups: int, sizes: np.ndarray) -> np.ndarray:
    """Pseudo-F for label vectors ``codes`` of shape (P, N); returns shape (P,)."""
    n = d2.shape[0]
    total = d2.sum()
    ss_t = total / (2.0 * n)
    ss_w = np.zeros(codes.shape[0])
    # Within-group sums: sum_{i<j in g} d_ij^2 = 1/2 * ind_g^T D2 ind_g. With two
    # groups the second follows from the first without a matrix product:
    # ind_1 = 1 - ind_0, so ind_1^T D2 ind_1 = total - 2 ind_0^T rowsum + ind_0^T D2 ind_0.
    ind = (codes == 0).astype(np.float64)  # (P, N)
    q0 = np.einsum("pi,pi->p", ind @ d2, ind)
    ss_w += q0 / (2.0 * sizes[0])
    if n_groups == 2:
        q1 = total - 2.0 * (ind @ d2.sum(axis=1)) + q0
        ss_w += q1 / (2.0 * sizes[1])
    for g in range(1, n_groups if n_groups > 2 else 1):
        ind = (codes == g).astype(np.float64)
        ss_w += np.einsum("pi,pi->p", ind @ d2, ind) / (2.0 * sizes[g])
    ss_a = ss_t - ss_w
    with np.errstate(divide="ignore", invalid="ignore"):
        return (ss_a / (n_groups - 1)) / (ss_w / (n - n_groups))


def gower_centred(dist) -> np.ndarray:
    """Gower's centred matrix ``G = -1/2 C D^2 C`` of a distance matrix (``C = I - 11^T/N``).

    Parameters
    ----------
    dist : array_like, shape (N, N)
        Symmetric distance matrix with zero diagonal.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        ``G``; ``tr(G)`` is PERMANOVA's total sum of squares ``SS_T``.
    """
    a = -0.5 * _check_dist(dist) ** 2
    row = a.mean(axis=1)
    return a - row[:, None] - row[None, :] + a.mean()


def _adjusted_model(design, codes: np.ndarray, n_groups: int):
    """Bases of the reduced (``[1, design]``) and group-after-covariates spaces, and dfs."""
    n = codes.shape[0]
    _, u_c, _, _ = _covariate_model(design, n)
    w = _group_basis(u_c, codes, n_groups)
    return u_c, w, w.shape[1], n - u_c.shape[1] - w.shape[1]


def _adjusted_f(m: np.ndarray, u_c: np.ndarray, w: np.ndarray, df_g: int, df_r: int,
                perms: np.ndarray) -> np.ndarray:
    """Sequential pseudo-F of group after the covariates on ``m``, for each row of ``perms``.

    With ``q = [u_c, w]`` moved by a permutation (rows ``q[perm]``), ``tr(w^T m w)`` is
    ``tr((H_full - H_cov) m)`` and ``tr(u_c^T m u_c)`` is ``tr(H_cov m)``; moving the
    bases' rows by ``perm`` is permuting the rows and columns of ``m`` by its inverse.
    """
    q = np.hstack([u_c, w])[perms]  # (P, N, r)
    diag = np.einsum("pkn,pnk->pk", np.matmul(q.transpose(0, 2, 1), m), q)  # q_k^T m q_k
    ss_c = diag[:, : u_c.shape[1]].sum(axis=1)
    ss_g = diag[:, u_c.shape[1] :].sum(axis=1)
    ss_r = np.trace(m) - ss_c - ss_g
    with np.errstate(divide="ignore", invalid="ignore"):
        return (ss_g / df_g) / (ss_r / df_r)


def _permanova_adjusted(d: np.ndarray, model, permutations: np.ndarray,
                        chunk_size: int) -> tuple[float, float]:
    """Covariate-adjusted PERMANOVA of a checked distance matrix (see :func:`permanova`)."""
    u_c, w, df_g, df_r = model
    n = d.shape[0]
    a = -0.5 * d * d
    row = a.mean(axis=1)
    g = a - row[:, None] - row[None, :] + a.mean()
    f_obs = float(_adjusted_f(g, u_c, w, df_g, df_r, np.arange(n)[None])[0])
    if not np.isfinite(f_obs) and not d.any():
        return float("nan"), float("nan")
    # Residuals of the reduced model, R = (I - H_cov) G (I - H_cov).
    gc = g - u_c @ (u_c.T @ g)
    resid = gc - (gc @ u_c) @ u_c.T
    resid = 0.5 * (resid + resid.T)
    count = 0
    thresh = f_obs - 1e-9 * abs(f_obs) if np.isfinite(f_obs) else f_obs
    for start in range(0, permutations.shape[0], int(chunk_size)):
        f_perm = _adjusted_f(resid, u_c, w, df_g, df_r,
                             permutations[start : start + int(chunk_size)])
        count += int(np.count_nonzero(f_perm >= thresh))
    return f_obs, (1.0 + count) / (1.0 + permutations.shape[0])


def permanova(
    dist,
    labels,
    n_permutations: int = 999,
    seed: int = 0,
    permutations: np.ndarray | None = None,
    chunk_size: int = 256,
    design=None,
) -> tuple[float, float]:
    """PERMANOVA test of group separation on a subject x subject distance matrix.

    Pseudo-F of Anderson (2001)::

        SS_T = 1/N sum_{i<j} d_ij^2
        SS_W = sum_g 1/n_g sum_{i<j in g} d_ij^2
        F    = ((SS_T - SS_W) / (a - 1)) / (SS_W / (N - a))

    with ``a`` groups of sizes ``n_g``. The p-value is
    ``(1 + #{F_perm >= F}) / (1 + n_permutations)`` over random relabellings of the
    subjects; ``F_perm >= F`` is tested with a relative tolerance of 1e-9 so that
    relabellings that give the same partition (the same F mathematically) count
    whatever the floating-point rounding. Permutations are evaluated in chunks of
    matrix products (vectorised).

    With a covariate ``design`` the test is of the group *after* the covariates. With
    ``G = -1/2 C D^2 C`` Gower's centred matrix (:func:`gower_centred`), ``H_cov`` the
    hat matrix of ``[1, design]`` and ``H_full`` that of ``[1, design, group
    indicators]``, the sequential (type I) pseudo-F is::

        F = (tr(H_full G) - tr(H_cov G)) / df_group
            / ((tr(G) - tr(H_full G)) / df_resid)

    with ``df_group = rank(H_full) - rank(H_cov)`` and ``df_resid = N - rank(H_full)``
    (without covariates, the unadjusted F). Its p-value comes from permutation of
    residuals under the reduced model (McArdle & Anderson 2001; Anderson 2001): the rows
    and columns of ``R = (I - H_cov) G (I - H_cov)`` are permuted together and F is
    recomputed with the full model, ``(1 + #{F_perm >= F}) / (1 + P)`` with the same
    permutations (``seed``) and tolerance as above. Permutation row ``perm`` permutes
    ``R`` by its inverse (equivalently, moves the design rows by ``perm``), so that with
    an empty design it is the relabelling ``labels[perm]`` of the unadjusted test.

    Parameters
    ----------
    dist : array_like, shape (N, N)
        Symmetric distance matrix with zero diagonal (e.g. one ROI's PS matrix in one
        homology dimension; subject order = ``labels`` order).
    labels : array_like, shape (N,)
        Group of each subject (two or more groups).
    n_permutations : int
        Number of permutations (ignored when ``permutations`` is given).
    seed : int
        Seed for :func:`permutation_indices`; the same seed and N give the same
        permutations.
    permutations : numpy.ndarray of int, shape (P, N), optional
        Explicit permutations of ``0..N-1`` (row ``k`` relabels subjects as
        ``labels[row]``).
    chunk_size : int
        Permutations per matrix product (bounds memory to about
        ``chunk_size * N * 8`` bytes per group).
    design : array_like, shape (N, k), optional
        Covariate design without intercept (:func:`tda_mci.covariates.covariate_design`
        of the subjects, in ``labels`` order). ``None`` (default): unadjusted test.

    Returns
    -------
    pseudo_F : float
        Observed pseudo-F. NaN when all distances are zero (the test is undefined).
    p : float
        Permutation p-value in ``[1 / (P + 1), 1]``; NaN when ``pseudo_F`` is NaN.

    Raises
    ------
    ValueError
        If ``dist`` is not a valid distance matrix, ``labels`` does not match it or
        names fewer than two groups, or ``permutations`` has the wrong shape; with
        ``design``, if it does not match the subjects, if the covariates determine the
        group (the group indicators lie in the column space of ``[1, design]``) or no
        residual degree of freedom is left.
    """
    d = _check_dist(dist)
    n = d.shape[0]
    codes, n_groups = _encode_labels(labels, n)
    if permutations is None:
        permutations = permutation_indices(n, n_permutations, seed)
    permutations = np.asarray(permutations)
    if permutations.ndim != 2 or permutations.shape[1] != n:
        raise ValueError(
            f"permutations must have shape (P, {n}); got {permutations.shape}"
        )
    if not (np.sort(permutations, axis=1) == np.arange(n)).all():
        raise ValueError("permutations rows must be permutations of 0..N-1")
    if design is not None:
        return _permanova_adjusted(d, _adjusted_model(design, codes, n_groups), permutations,
                                   chunk_size)
    sizes = np.bincount(codes, minlength=n_groups).astype(np.float64)
    d2 = d * d
    f_obs = float(_pseudo_f(d2, codes[None], n_groups, sizes)[0])
    if not np.isfinite(f_obs) and d2.sum() == 0:
        return float("nan"), float("nan")
    count = 0
    thresh = f_obs - 1e-9 * abs(f_obs) if np.isfinite(f_obs) else f_obs
    for start in range(0, permutations.shape[0], int(chunk_size)):
        perm_codes = codes[permutations[start : start + int(chunk_size)]]
        f_perm = _pseudo_f(d2, perm_codes, n_groups, sizes)
        count += int(np.count_nonzero(f_perm >= thresh))
    return f_obs, (1.0 + count) / (1.0 + permutations.shape[0])


def ps_group_tests(
    ps_by_roi_dim: Mapping[int, np.ndarray],
    labels,
    n_permutations: int = 999,
    seed: int = 0,
    design=None,
) -> pd.DataFrame:
    """PERMANOVA of every ROI's PS matrices, FDR (BH) across ROIs within a dimension.

    The same permutations (from ``seed``) are used for every ROI and dimension, so one
    ROI's result does not depend on which other ROIs are in the call (PS matrices may
    be computed and tested in blocks).

    Parameters
    ----------
    ps_by_roi_dim : mapping of int to array_like, shape (n_dims, N, N)
        ``ps[roi]`` holds ROI ``roi``'s (atlas ROI number) subject x subject distance
        matrices for H0..H(n_dims-1); subject order = ``labels`` order.
    labels : array_like, shape (N,)
        Group of each subject.
    n_permutations : int
        Permutations per test (999 by default).
    seed : int
        Seed of the permutations.
    design : array_like, shape (N, k), optional
        Covariate design without intercept, rows in ``labels`` order: every test is
        adjusted for it (see :func:`permanova`). ``None`` (default): unadjusted.

    Returns
    -------
    pandas.DataFrame
        Columns ``roi, dim, n_subjects, pseudo_F, p, p_bh``, one row per ROI and
        dimension, sorted by dim then input ROI order. ``p_bh`` is the
        Benjamini-Hochberg adjustment across the ROIs of one dimension (NaN p, from
        all-zero matrices, are left out of the family).

    Raises
    ------
    ValueError
        If the matrices of different ROIs differ in shape or do not match ``labels``;
        the message names the ROI. With ``design``, also if it does not match ``labels``
        or the covariates determine the group (checked once, before any ROI).
    """
    if not len(ps_by_roi_dim):
        raise ValueError("ps_by_roi_dim is empty")
    labels = np.asarray(labels)
    if design is not None:
        _adjusted_model(design, *_encode_labels(labels, labels.shape[0]))
    perms = None
    shape = None
    rows = []
    for roi, ps in ps_by_roi_dim.items():
        ps = np.asarray(ps, dtype=np.float64)
        if ps.ndim != 3:
            raise ValueError(f"ROI {roi}: PS must have shape (n_dims, N, N); got {ps.shape}")
        if shape is None:
            shape = ps.shape
            perms = permutation_indices(ps.shape[1], n_permutations, seed)
        elif ps.shape != shape:
            raise ValueError(f"ROI {roi}: PS shape {ps.shape} differs from {shape}")
        for q in range(ps.shape[0]):
            try:
                f, p = permanova(ps[q], labels, permutations=perms, design=design)
            except ValueError as err:
                raise ValueError(f"ROI {roi}, H{q}: {err}") from None
            rows.append((int(roi), q, ps.shape[1], f, p))
    table = pd.DataFrame(rows, columns=["roi", "dim", "n_subjects", "pseudo_F", "p"])
    table["p_bh"] = np.nan
    for _, sub in table.groupby("dim"):
        table.loc[sub.index, "p_bh"] = adjust_pvalues(sub["p"].to_numpy(), "bh")
    return table.sort_values(["dim"], kind="mergesort").reset_index(drop=True)


def fdr_floor(n_permutations: int, n_tests: int, level: float) -> str | None:
    """Say when the permutation count keeps Benjamini-Hochberg from marking a single ROI.

    With ``P`` permutations the smallest attainable p is ``1 / (P + 1)``. An ROI is marked
    when its BH-adjusted p is below ``q`` (as the brain map draws it); with ``k`` of the
    ``m`` tests at the floor that adjusted p is ``m / (k (P + 1))``. One ROI on its own is
    therefore marked only if ``m / (P + 1) < q``, i.e. ``P >= floor(m / q)``; with fewer
    permutations at least ``k = floor(m / (q (P + 1))) + 1`` ROIs must reach the floor
    together, and when ``1 / (P + 1) >= q`` none can ever be marked.

    Parameters
    ----------
    n_permutations : int
        Permutations per test (``statistics.ps_permutations``).
    n_tests : int
        Tests in one BH family (the atlas's ROIs, per homology dimension).
    level : float
        BH level (``statistics.ps_fdr_level``).

    Returns
    -------
    str or None
        The warning, stating the smallest attainable p, or ``None`` when a single ROI
        can be marked.

    Examples
    --------
    >>> fdr_floor(3200, 160, 0.05) is None
    True
    >>> print(fdr_floor(999, 160, 0.05))  # doctest: +NORMALIZE_WHITESPACE
    statistics.ps_permutations = 999: the smallest attainable PERMANOVA p is 0.001, so
    Benjamini-Hochberg at q = 0.05 over the 160 ROIs of a dimension marks ROIs only when
    at least 4 of them reach p < 0.00125 together; a single ROI needs at least 3200
    permutations.
    """
    p_min = 1.0 / (int(n_permutations) + 1)
    m, q = int(n_tests), float(level)
    k = math.floor(m * p_min / q) + 1
    if k == 1:
        return None
    head = (f"statistics.ps_permutations = {n_permutations}: the smallest attainable "
            f"PERMANOVA p is {p_min:.3g}, so Benjamini-Hochberg at q = {q:g} over the {m} ROIs "
            "of a dimension")
    needed = f"a single ROI needs at least {math.floor(m / q)} permutations."
    if k > m:
        return f"{head} can mark no ROI at all; {needed}"
    return (f"{head} marks ROIs only when at least {k} of them reach p < {k * q / m:.3g} "
            f"together; {needed}")
