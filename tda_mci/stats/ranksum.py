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
    n1, n2, n = a.shape[0], b.shape[0], a.shape[1]
    iu = np.triu_indices(n, 1)
    x = np.concatenate([a[:, iu[0], iu[1]], b[:, iu[0], iu[1]]], axis=0)  # (n1+n2, pairs)
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


def compare_groups(pr_a, pr_b, alpha: float = 0.01, method: str = "mannwhitneyu") -> dict:
    """All pairwise statistics of one comparison for one network and dimension.

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

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n, n), mirrored, diagonal NaN (False)
        ``p`` raw two-sided p; ``p_bh`` and ``p_by`` adjusted over the network's pairs;
        ``U`` Mann-Whitney U of group a; ``effect`` rank-biserial correlation (positive
        = a larger); ``median_a`` and ``median_b`` the groups' medians;
        ``significant`` boolean mask ``p < alpha``.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1) or the stacks are invalid.
    """
    check_level(alpha)
    a, b = _check_stacks(pr_a, pr_b)
    n = a.shape[1]
    u, p = rank_sum_test(a, b, method=method)
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


