"""Rank-sum tests of PR (subject-specific inter-ROI) matrices between two groups.

For one comparison of two groups, one network and one homology dimension, every ROI
pair ``(i, j)`` with ``i < j`` is tested with a two-sided Mann-Whitney U / Wilcoxon
rank-sum test on the pair's Wasserstein distance across the subjects of the two groups.
All pairs are ranked at once (vectorised; no loop over pairs). Results are ``(n, n)``
matrices indexed by the network's ROIs in atlas order: the upper triangle is computed,
mirrored into the lower one, and the diagonal is NaN. Benjamini-Hochberg and
Benjamini-Yekutieli adjusted p-values (family = the ``n (n - 1) / 2`` pairs of one
network and dimension), the rank-biserial effect size and the group medians are
reported beside the raw p-values. See ``docs/method.md`` (statistics).

Covariate adjustment (``statistics.covariates``; :func:`rank_sum_test_adjusted`,
``compare_groups(..., design=...)``): every pair's values are regressed by ordinary
least squares on an intercept and the covariate design (not on the group), and the same
Mann-Whitney U test compares the two groups' residuals. Without a design the tests are
exactly the unadjusted ones.

Every function is pure (numpy in and out) and validates its arguments.
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.stats import false_discovery_control, rankdata

from tda_mci.validation import check_choice, check_level, first_nonfinite

#: Accepted values of ``method`` in :func:`rank_sum_test`.
RANK_SUM_METHODS = ("mannwhitneyu", "ranksums")
#: Accepted values of ``method`` in :func:`adjust_pvalues`.
ADJUST_METHODS = ("bh", "by")
#: Relative norm of the residual of the (centred, unit-norm) group indicator after the
#: covariates below which the covariates count as determining the group.
GROUP_SPAN_RTOL = 1e-8
#: What the statistics record (``adjustment``) says of an adjusted rank-sum test.
ADJUSTED_RANK_SUM = ("two-sided Mann-Whitney U of the residuals of an ordinary least-squares "
                     "fit of each ROI pair's PR values on [intercept, covariates] (group not "
                     "in the model); U, effect, p, p_bh and p_by from the residuals, medians "
                     "of the raw PR values")


def _check_stacks(group_a, group_b) -> tuple[np.ndarray, np.ndarray]:
    """Validate two (subjects, n, n) stacks and return them as float64 arrays."""
    out = []
    for name, g in (("group_a", group_a), ("group_b", group_b)):
        g = np.asarray(g, dtype=np.float64)
        if g.ndim != 3 or g.shape[1] != g.shape[2]:
            raise ValueError(
                f"{name} must be a stack of square matrices, shape (subjects, n, n); "
                f"got shape {g.shape}"
            )
        if g.shape[0] < 1:
            raise ValueError(f"{name} has no subjects (shape {g.shape})")
        if g.shape[1] < 2:
            raise ValueError(f"{name} matrices must have at least 2 ROIs; got shape {g.shape}")
        bad = first_nonfinite(g)
        if bad is not None:
            raise ValueError(
                f"{name} contains non-finite values (first at subject {bad[0]}, "
                f"pair ({bad[1]}, {bad[2]}))"
            )
        out.append(g)
    if out[0].shape[1:] != out[1].shape[1:]:
        raise ValueError(
            f"group_a and group_b matrices differ in size: {out[0].shape[1:]} vs "
            f"{out[1].shape[1:]}"
        )
    return out[0], out[1]




def _upper_to_matrix(values: np.ndarray, n: int, diagonal: float = np.nan) -> np.ndarray:
    """Place upper-triangle values (row-major ``triu_indices(n, 1)`` order) in a mirrored matrix."""
    iu = np.triu_indices(n, 1)
    out = np.full((n, n), diagonal, dtype=np.float64)
    out[iu] = values
    out[iu[1], iu[0]] = values
    return out


# --------------------------------------------------------------------------------------
# Rank-sum tests on PR matrices
# --------------------------------------------------------------------------------------


def _tie_term(x: np.ndarray) -> np.ndarray:
    """Return ``sum(t**3 - t)`` over the tie groups of every column of ``x``.

    ``x`` has shape (m, p); the result has shape (p,). Vectorised: sort each column,
    label runs of equal values, count run lengths with one ``bincount``.
    """
    m, p = x.shape
    s = np.sort(x, axis=0)
    new_run = np.ones((m, p), dtype=bool)
    new_run[1:] = s[1:] != s[:-1]
    run_id = np.cumsum(new_run, axis=0) - 1  # 0-based run index within each column
    flat = (run_id + np.arange(p) * m).ravel(order="F")
    counts = np.bincount(flat, minlength=m * p).reshape(p, m).astype(np.float64)
    return np.sum(counts**3 - counts, axis=1)


def rank_sum_test(
    group_a, group_b, method: str = "mannwhitneyu"
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided rank-sum test for every ROI pair of two stacks of matrices.

    For each pair ``(i, j)``, ``i < j``, the values ``group_a[:, i, j]`` are compared
    with ``group_b[:, i, j]``. All pairs are ranked at once with
    :func:`scipy.stats.rankdata` along the subject axis (average ranks for ties).

    Which test, and why:

    * ``method="mannwhitneyu"`` (default) equals
      ``scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic",
      use_continuity=True)`` pair by pair: the normal approximation of U **with the tie
      correction** of the variance and a continuity correction of 0.5.
      *Ties* matter here: H1 and H2 PR values are often exactly tied (two ROIs whose
      diagrams are both empty are at distance 0 in many subjects), and a variance that
      ignores ties is too large, giving conservative, mis-calibrated p-values.
      *Asymptotic, not exact*: scipy's ``method="auto"`` switches to the exact null
      distribution only for small groups *without* ties, so the same data would be
      tested differently depending on whether a tie occurs; the exact distribution is
      invalid under ties anyway. At the group sizes of the method (tens to hundreds of
      subjects) the normal approximation is accurate; for very small groups (fewer than
      about 8 per group) p-values are approximate.
      *Continuity*: the standard correction for a discrete statistic; it makes the test
      very slightly conservative and is what scipy does by default.
      A pair whose values are all identical across both groups gets ``p = 1`` (as scipy).
    * ``method="ranksums"`` equals ``scipy.stats.ranksums(a, b)`` pair by pair: the
      normal approximation without tie or continuity correction. The paper's released
      analysis most probably used this function; choose it to reproduce the paper's
      numbers. On continuous data without ties the two differ only by the continuity
      correction (negligible at the paper's group sizes).

    Parameters
    ----------
    group_a, group_b : array_like, shape (subjects, n, n)
        PR matrices of the subjects of each group (one network, one homology dimension;
        ROI order = atlas order within the network). Group sizes may differ. Only the
        upper triangles are read.
    method : {"mannwhitneyu", "ranksums"}
        The scipy test the result equals (see above).

    Returns
    -------
    U : numpy.ndarray, shape (n, n)
        Mann-Whitney U statistic of ``group_a`` (scipy's ``statistic`` of
        ``mannwhitneyu(a, b)``): the number of (a, b) subject pairs with ``a > b``, ties
        counting 1/2; ``0 <= U <= n_a * n_b``. Mirrored; diagonal NaN. Returned for both
        methods.
    p : numpy.ndarray, shape (n, n)
        Two-sided p-values, mirrored; diagonal NaN.

    Raises
    ------
    ValueError
        If the stacks are not (subjects, n, n) of the same n, are empty, or contain
        non-finite values, or if ``method`` is unknown.
    """
    check_choice("method", method, RANK_SUM_METHODS)
    a, b = _check_stacks(group_a, group_b)
    n1, n = a.shape[0], a.shape[1]
    iu = np.triu_indices(n, 1)
    x = np.concatenate([a[:, iu[0], iu[1]], b[:, iu[0], iu[1]]], axis=0)  # (n1+n2, pairs)
    u1, p = _rank_sum_columns(x, n1, method)
    return _upper_to_matrix(u1, n), _upper_to_matrix(p, n)


def _rank_sum_columns(x: np.ndarray, n1: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """U of the first ``n1`` rows and two-sided p of every column of ``x`` (the test core).

    ``x`` has shape (n1 + n2, pairs): the first ``n1`` rows are group a. Returns ``(U, p)``
    of shape (pairs,), as :func:`rank_sum_test` describes them.
    """
    n2 = x.shape[0] - n1
    ranks = rankdata(x, method="average", axis=0)
    r1 = ranks[:n1].sum(axis=0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    nn = n1 + n2
    if method == "mannwhitneyu":
        u = np.maximum(u1, n1 * n2 - u1)
        tie = _tie_term(x)
        s = np.sqrt(n1 * n2 / 12.0 * ((nn + 1) - tie / (nn * (nn - 1))))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (u - n1 * n2 / 2.0 - 0.5) / s
        # s == 0 only when every value of the pair is tied: z = -inf, p = 1 (as scipy).
        p = np.clip(2.0 * special.ndtr(-z), 0.0, 1.0)
    else:
        z = (r1 - n1 * (nn + 1) / 2.0) / np.sqrt(n1 * n2 * (nn + 1) / 12.0)
        p = np.clip(2.0 * special.ndtr(-np.abs(z)), 0.0, 1.0)
    return u1, p


# --------------------------------------------------------------------------------------
# Covariate adjustment
# --------------------------------------------------------------------------------------


def _check_design(design, n: int) -> np.ndarray:
    """Validate a covariate design of ``n`` rows; return it as float64, shape (n, k)."""
    d = np.asarray(design, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    if d.ndim != 2 or d.shape[0] != n:
        raise ValueError(f"design must have one row per subject, shape ({n}, k); got shape "
                         f"{np.shape(design)}")
    if not np.isfinite(d).all():
        raise ValueError("design contains non-finite values")
    return d


def _covariate_model(design, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the model ``[1, design]`` and its SVD truncated to its numerical rank.

    The design columns are centred and scaled (which leaves the column space, hence the
    hat matrix, unchanged and conditions the fit). Returns ``(x, u, s, vt)``: ``x`` of
    shape (n, 1 + k) and ``x = u diag(s) vt`` over the ``r`` singular values above
    ``s_max * max(x.shape) * eps`` (numpy's ``matrix_rank`` tolerance); ``u`` (n, r) is
    an orthonormal basis of the column space, so the hat matrix is ``H = u u^T``. A
    rank-deficient design (collinear covariates) simply has ``r < 1 + k``.
    """
    d = _check_design(design, n)
    centred = d - d.mean(axis=0)
    scale = np.sqrt(np.mean(centred**2, axis=0))
    scale[scale == 0] = 1.0
    x = np.hstack([np.ones((n, 1)), centred / scale])
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    keep = s > s[0] * max(x.shape) * np.finfo(np.float64).eps
    return x, u[:, keep], s[keep], vt[keep]


def _group_basis(u_c: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Orthonormal basis of the group indicators after the covariates.

    The ``n_groups - 1`` non-reference indicators are centred, scaled to unit norm and
    projected off the column space ``u_c`` of ``[1, design]``; the result spans
    ``(H_full - H_cov)``. Raises ``ValueError`` when a group contrast lies (numerically,
    :data:`GROUP_SPAN_RTOL`) in that column space, i.e. the covariates determine the group.
    """
    ind = (codes[:, None] == np.arange(1, n_groups)[None, :]).astype(np.float64)
    ind -= ind.mean(axis=0)
    ind /= np.linalg.norm(ind, axis=0)
    resid = ind - u_c @ (u_c.T @ ind)
    w, sv, _ = np.linalg.svd(resid, full_matrices=False)
    kept = int(np.count_nonzero(sv > GROUP_SPAN_RTOL))
    if kept < n_groups - 1:
        raise ValueError(
            "the covariates determine the group: the group indicator lies in the column "
            f"space of [intercept, covariate design] (relative residual {sv.min():.2g} < "
            f"{GROUP_SPAN_RTOL:g}), so no group difference is left to test after adjusting; "
            "drop the covariate(s) that encode the group from statistics.covariates"
        )
    n = codes.shape[0]
    if n - u_c.shape[1] - kept < 1:
        raise ValueError(
            f"too few subjects ({n}) for the covariate-adjusted test: the model "
            f"[intercept, covariates, group] has rank {u_c.shape[1] + kept}, which leaves no "
            "residual degree of freedom"
        )
    return w[:, :kept]


def check_adjustable(design, labels) -> None:
    """Check that a covariate-adjusted group test can be done on these subjects.

    Parameters
    ----------
    design : array_like, shape (N, k)
        Covariate design without intercept (:func:`tda_mci.covariates.covariate_design`
        of the subjects, in ``labels`` order); ``k`` may be 0.
    labels : array_like, shape (N,)
        Group of each subject (at least two groups).

    Raises
    ------
    ValueError
        If ``design`` does not have one finite row per subject, ``labels`` names fewer
        than two groups, the group indicator lies (numerically) in the column space of
        ``[1, design]`` ("the covariates determine the group"), or no residual degree of
        freedom is left.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D; got shape {labels.shape}")
    uniq, codes = np.unique(labels, return_inverse=True)
    if uniq.size < 2:
        raise ValueError(f"labels must name at least 2 groups; got {uniq.tolist()}")
    _, u_c, _, _ = _covariate_model(design, labels.shape[0])
    _group_basis(u_c, codes.astype(np.int64), int(uniq.size))


def _residuals(y: np.ndarray, x: np.ndarray, s: np.ndarray, vt: np.ndarray,
               u: np.ndarray) -> np.ndarray:
    """OLS residuals ``(I - H) y`` of every column of ``y`` (n, m) on the model ``x``.

    One projection for all columns: ``beta = V diag(1/s) U^T y0`` (the minimum-norm
    least-squares fit, well defined for a rank-deficient model) and ``y0 - x beta``. The
    columns are first shifted by their first value (``y0 = y - y[0]``; the intercept
    absorbs it), so a constant column gets residuals exactly 0 (an all-tied pair stays
    all-tied, p = 1); the fit is accumulated one model column at a time, so subjects with
    the same covariates and the same value get exactly the same residual (ties kept).
    """
    y0 = y - y[:1]
    beta = vt.T @ ((u.T @ y0) / s[:, None])  # (1 + k, m)
    fitted = x[:, :1] * beta[:1]
    for j in range(1, x.shape[1]):
        fitted = fitted + x[:, j : j + 1] * beta[j : j + 1]
    return y0 - fitted


def residualize(values, design) -> np.ndarray:
    """Residuals of an ordinary least-squares fit of each column on ``[1, design]``.

    ``(I - H) y`` with ``H`` the hat matrix of the intercept and the covariate design,
    for all columns at once. A rank-deficient design (collinear covariates) is fitted by
    the minimum-norm least-squares solution (the residuals are unique). Equal, up to
    rounding, to ``statsmodels.api.OLS(y, add_constant(design)).fit().resid`` column by
    column.

    Parameters
    ----------
    values : array_like, shape (N,) or (N, m)
        One row per subject (e.g. every ROI pair's PR value in the columns).
    design : array_like, shape (N, k)
        Covariate design without intercept, rows in the order of ``values``; ``k`` may be
        0 (then the residuals are the deviations from the mean).

    Returns
    -------
    numpy.ndarray
        The residuals, the shape of ``values``.

    Raises
    ------
    ValueError
        If the shapes do not match or an input is non-finite.
    """
    y = np.asarray(values, dtype=np.float64)
    flat = y.ndim == 1
    y2 = y[:, None] if flat else y
    if y2.ndim != 2 or y2.shape[0] < 1:
        raise ValueError(f"values must have shape (N,) or (N, m); got shape {y.shape}")
    if not np.isfinite(y2).all():
        raise ValueError("values contain non-finite values")
    x, u, s, vt = _covariate_model(design, y2.shape[0])
    r = _residuals(y2, x, s, vt, u)
    return r[:, 0] if flat else r


def rank_sum_test_adjusted(
    group_a, group_b, design, method: str = "mannwhitneyu"
) -> tuple[np.ndarray, np.ndarray]:
    """Covariate-adjusted two-sided rank-sum test for every ROI pair.

    For every pair ``(i, j)``, ``i < j``, the values of both groups' subjects are
    regressed by ordinary least squares on ``[1, design]`` (the covariates; the group is
    not in the model), and :func:`rank_sum_test`'s test (same ``method``, ties and
    continuity handled the same way) compares the residuals of group a with those of
    group b. Vectorised: one projection ``(I - H) Y`` for all pairs (see
    :func:`residualize`).

    Parameters
    ----------
    group_a, group_b : array_like, shape (subjects, n, n)
        PR matrices of the two groups (only the upper triangles are read).
    design : array_like, shape (n_a + n_b, k)
        Covariate design without intercept (from
        :func:`tda_mci.covariates.covariate_design`), one row per subject: the rows of
        ``group_a``'s subjects, then those of ``group_b``'s.
    method : {"mannwhitneyu", "ranksums"}
        The test of the residuals (see :func:`rank_sum_test`).

    Returns
    -------
    U : numpy.ndarray, shape (n, n)
        Mann-Whitney U of group a's residuals; mirrored, diagonal NaN.
    p : numpy.ndarray, shape (n, n)
        Two-sided p-values; mirrored, diagonal NaN.

    Raises
    ------
    ValueError
        As :func:`rank_sum_test`, and as :func:`check_adjustable` (in particular when the
        covariates determine the group).
    """
    check_choice("method", method, RANK_SUM_METHODS)
    a, b = _check_stacks(group_a, group_b)
    n1, n2, n = a.shape[0], b.shape[0], a.shape[1]
    x_model, u, s, vt = _covariate_model(design, n1 + n2)
    _group_basis(u, np.repeat(np.array([0, 1], dtype=np.int64), [n1, n2]), 2)
    iu = np.triu_indices(n, 1)
    y = np.concatenate([a[:, iu[0], iu[1]], b[:, iu[0], iu[1]]], axis=0)  # (n1+n2, pairs)
    u1, p = _rank_sum_columns(_residuals(y, x_model, s, vt, u), n1, method)
    return _upper_to_matrix(u1, n), _upper_to_matrix(p, n)


def rank_sum_pvalues(group_a, group_b, method: str = "mannwhitneyu") -> np.ndarray:
    """Two-sided rank-sum p-values for every ROI pair of two stacks of matrices.

    The public API's test (``tda_mci.rank_sum_pvalues``): the p-values of
    :func:`rank_sum_test`; see there for the choice of test (default: equal to
    ``scipy.stats.mannwhitneyu(a, b, method="asymptotic")`` pair by pair, tie- and
    continuity-corrected; ``method="ranksums"`` equals ``scipy.stats.ranksums``).

    Parameters
    ----------
    group_a, group_b : array_like, shape (subjects, n, n)
        PR matrices of the two groups (group sizes may differ).
    method : {"mannwhitneyu", "ranksums"}
        The scipy test the result equals.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        p-values; upper triangle computed and mirrored, diagonal NaN.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.random((10, 4, 4)), rng.random((12, 4, 4))
    >>> p = rank_sum_pvalues(a, b)
    >>> p.shape, bool(np.isnan(p[0, 0])), bool(p[0, 1] == p[1, 0])
    ((4, 4), True, True)
    """
    return rank_sum_test(group_a, group_b, method=method)[1]


def rank_biserial(group_a, group_b) -> np.ndarray:
    """Rank-biserial correlation for every ROI pair.

    ``r = 2 U / (n_a n_b) - 1`` with ``U`` the Mann-Whitney U of ``group_a``, i.e.
    ``r = P(a > b) - P(a < b)`` over all (a, b) subject pairs. Sign convention:
    **positive means group a has larger values** (larger Wasserstein distances);
    ``r`` lies in [-1, 1], 0 = no shift.

    Parameters
    ----------
    group_a, group_b : array_like, shape (subjects, n, n)
        PR matrices of the two groups.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Effect sizes, mirrored; diagonal NaN.
    """
    a, b = _check_stacks(group_a, group_b)
    u, _ = rank_sum_test(a, b)
    return 2.0 * u / (a.shape[0] * b.shape[0]) - 1.0


def adjust_pvalues(p, method: str = "bh") -> np.ndarray:
    """False-discovery-rate adjusted p-values.

    Equal to :func:`scipy.stats.false_discovery_control` applied to the family.

    * For a square matrix (the output of :func:`rank_sum_pvalues`) the family is the
      strict upper triangle; the result is mirrored and the diagonal is NaN.
    * For a 1-D array the family is the whole array.

    NaN entries are not hypotheses: they are left out of the family (as R's
    ``p.adjust`` with ``NA``) and stay NaN.

    Parameters
    ----------
    p : array_like, shape (n, n) or (m,)
        Raw p-values in [0, 1] (NaN allowed).
    method : {"bh", "by"}
        Benjamini-Hochberg (independent or positively dependent tests) or
        Benjamini-Yekutieli (arbitrary dependence).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape as ``p``.

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``p`` is neither 1-D nor square, or a p-value lies
        outside [0, 1].
    """
    check_choice("method", method, ADJUST_METHODS)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and p.shape[0] == p.shape[1]:
        n = p.shape[0]
        iu = np.triu_indices(n, 1)
        return _upper_to_matrix(adjust_pvalues(p[iu], method), n)
    if p.ndim != 1:
        raise ValueError(f"p must be a 1-D array or a square matrix; got shape {p.shape}")
    finite = ~np.isnan(p)
    vals = p[finite]
    if vals.size and (vals.min() < 0 or vals.max() > 1):
        raise ValueError(
            f"p-values must lie in [0, 1]; got range [{vals.min()}, {vals.max()}]"
        )
    out = np.full(p.shape, np.nan)
    if vals.size:
        out[finite] = false_discovery_control(vals, method=method)
    return out


def compare_groups(
    pr_a, pr_b, alpha: float = 0.01, method: str = "mannwhitneyu", design=None
) -> dict:
    """All pairwise statistics of one comparison for one network and dimension.

    Without ``design`` (the default) the tests are :func:`rank_sum_test`'s. With a
    covariate ``design`` they are :func:`rank_sum_test_adjusted`'s: ``U``, ``effect``,
    ``p``, ``p_bh``, ``p_by`` and ``significant`` are computed from the residuals of the
    least-squares fit of each pair's values on ``[1, design]``, while ``median_a`` and
    ``median_b`` stay the medians of the **raw** PR values (what a reader compares).

    Parameters
    ----------
    pr_a, pr_b : array_like, shape (subjects, n, n)
        PR matrices of group a and group b (one network, one homology dimension; ROI
        order = atlas order within the network).
    alpha : float
        Significance level for the ``significant`` mask (raw p, as in the paper; the
        paper uses 0.01).
    method : {"mannwhitneyu", "ranksums"}
        Rank-sum test, see :func:`rank_sum_test`.
    design : array_like, shape (n_a + n_b, k), optional
        Covariate design without intercept (``statistics.covariates`` through
        :func:`tda_mci.covariates.covariate_design`): the rows of ``pr_a``'s subjects, then
        those of ``pr_b``'s. ``None`` (default): unadjusted tests.

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n, n), mirrored, diagonal NaN (False)
        ``p`` raw two-sided p; ``p_bh`` and ``p_by`` adjusted over the network's pairs;
        ``U`` Mann-Whitney U of group a; ``effect`` rank-biserial correlation (positive
        = a larger); ``median_a`` and ``median_b`` the groups' medians (of the raw
        values, also when adjusted); ``significant`` boolean mask ``p < alpha``.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1) or the stacks are invalid; with ``design``, as
        :func:`rank_sum_test_adjusted` (e.g. when the covariates determine the group).
    """
    check_level(alpha)
    a, b = _check_stacks(pr_a, pr_b)
    n = a.shape[1]
    if design is None:
        u, p = rank_sum_test(a, b, method=method)
    else:
        u, p = rank_sum_test_adjusted(a, b, design, method=method)
    diag = np.eye(n, dtype=bool)
    med_a = np.median(a, axis=0)
    med_b = np.median(b, axis=0)
    # Medians of the upper triangle, mirrored (inputs need not be exactly symmetric).
    iu = np.triu_indices(n, 1)
    med_a = _upper_to_matrix(med_a[iu], n)
    med_b = _upper_to_matrix(med_b[iu], n)
    sig = p < alpha
    sig[diag] = False
    return {
        "p": p,
        "p_bh": adjust_pvalues(p, "bh"),
        "p_by": adjust_pvalues(p, "by"),
        "U": u,
        "effect": 2.0 * u / (a.shape[0] * b.shape[0]) - 1.0,
        "median_a": med_a,
        "median_b": med_b,
        "significant": sig,
    }


