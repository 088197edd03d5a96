"""Group statistics on PR and PS distance matrices.

Two families of tests live here.

* **PR (subject-specific inter-ROI) matrices.** For one comparison of two groups, one
  network and one homology dimension, every ROI pair ``(i, j)`` with ``i < j`` is tested
  with a two-sided Mann-Whitney U / Wilcoxon rank-sum test on the pair's Wasserstein
  distance across the subjects of the two groups. All pairs are ranked at once
  (vectorised; no loop over pairs). Results are ``(n, n)`` matrices indexed by the
  network's ROIs in atlas order: the upper triangle is computed, mirrored into the lower
  one, and the diagonal is NaN. Benjamini-Hochberg and Benjamini-Yekutieli adjusted
  p-values (family = the ``n (n - 1) / 2`` pairs of one network and dimension), the
  rank-biserial effect size and the group medians are reported beside the raw p-values.
* **PS (ROI-specific inter-subject) matrices.** For one ROI and dimension, a PERMANOVA
  (Anderson 2001) permutation test of group separation on the subject x subject
  distance matrix; FDR (BH) across ROIs within a dimension.

Every function is pure (numpy / pandas in and out) and validates its arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special
from scipy.stats import false_discovery_control, rankdata

#: Accepted values of ``method`` in :func:`rank_sum_test`.
RANK_SUM_METHODS = ("mannwhitneyu", "ranksums")
#: Accepted values of ``method`` in :func:`adjust_pvalues`.
ADJUST_METHODS = ("bh", "by")
#: Columns of the table from :func:`significant_pairs_table`, in order.
SIGNIFICANT_PAIRS_COLUMNS = (
    "comparison", "network", "dim", "roi_i", "roi_j", "label_i", "label_j",
    "network_i", "network_j", "x_i", "y_i", "z_i", "x_j", "y_j", "z_j",
    "U", "p", "p_bh", "p_by", "effect", "median_a", "median_b",
)  # fmt: skip


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


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
        if not np.isfinite(g).all():
            bad = np.argwhere(~np.isfinite(g))[0]
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


def _check_choice(name: str, value, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def _check_alpha(alpha) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value < 1:
        raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}")
    return value


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
    _check_choice("method", method, RANK_SUM_METHODS)
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
    _check_choice("method", method, ADJUST_METHODS)
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
    _check_alpha(alpha)
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


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def nest_results(results) -> dict[str, dict[int, Mapping[str, np.ndarray]]]:
    """Normalise per-network, per-dimension results to ``{network: {dim: result}}``.

    Parameters
    ----------
    results : mapping
        Either nested, ``results[network][dim]``, or flat with tuple keys,
        ``results[network, dim]``; a per-network value may also be a sequence indexed
        by dimension. Each result is a :func:`compare_groups` dict.

    Returns
    -------
    dict
        ``{network: {dim: result}}`` with ``int`` dimensions, networks in input order
        and dimensions sorted.

    Raises
    ------
    ValueError
        If the keys are neither network names nor ``(network, dim)`` tuples.
    """
    nested: dict[str, dict[int, Mapping[str, np.ndarray]]] = {}
    for key, value in results.items():
        if isinstance(key, tuple):
            if len(key) != 2:
                raise ValueError(f"result keys must be (network, dim) tuples; got {key!r}")
            nested.setdefault(str(key[0]), {})[int(key[1])] = value
        elif isinstance(key, str):
            nested.setdefault(key, {}).update(dims_of(value))
        else:
            raise ValueError(f"result keys must be network names or (network, dim); got {key!r}")
    return {net: dict(sorted(by_dim.items())) for net, by_dim in nested.items()}


def dims_of(results_by_dim) -> dict[int, Mapping[str, np.ndarray]]:
    """Normalise per-dimension results to ``{dim: result}`` (a sequence is indexed by dim).

    Parameters
    ----------
    results_by_dim : mapping of int to dict, or sequence of dict
        :func:`compare_groups` results of one network, by homology dimension.

    Returns
    -------
    dict of int to dict
        Sorted by dimension.
    """
    if isinstance(results_by_dim, Mapping):
        if "p" in results_by_dim and not isinstance(results_by_dim["p"], Mapping):
            raise ValueError(
                "expected results by dimension ({dim: result}); got a single result dict"
            )
        return {int(k): v for k, v in sorted(results_by_dim.items(), key=lambda kv: int(kv[0]))}
    return {q: v for q, v in enumerate(results_by_dim)}


def significant_pairs_table(
    results_by_network_dim: Mapping[str, Mapping[int, Mapping[str, np.ndarray]]],
    atlas: pd.DataFrame,
    networks: Mapping[str, np.ndarray],
    alpha: float,
    comparison: str,
    criterion: str = "p",
) -> pd.DataFrame:
    """Table of the significant ROI pairs of one comparison.

    Parameters
    ----------
    results_by_network_dim : mapping
        ``results[network_key][dim]`` (or ``results[network_key, dim]``) is the dict
        returned by :func:`compare_groups` for that network and homology dimension.
    atlas : pandas.DataFrame
        Atlas table (:func:`tda_mci.atlas.load_atlas`).
    networks : mapping of str to array of int
        :func:`tda_mci.atlas.networks` of ``atlas``: matrix index ``k`` of network
        ``key`` is atlas row ``networks[key][k]``.
    alpha : float
        A pair is listed when its ``criterion`` p-value is below ``alpha``.
    comparison : str
        Name written in the ``comparison`` column (e.g. ``"HC-vs-LMCI"``).
    criterion : {"p", "p_bh", "p_by"}
        Which p-value is thresholded; ``"p"`` (raw) is the paper's criterion.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SIGNIFICANT_PAIRS_COLUMNS` (``roi_*`` are atlas ROI numbers,
        ``roi_i`` before ``roi_j`` in atlas order; ``x, y, z`` MNI mm; ``U`` and
        ``effect`` refer to group a), one row per significant pair and dimension,
        sorted by ``p`` (ties: network, dim, atlas order). Empty (with these columns)
        when nothing is significant.

    Raises
    ------
    ValueError
        If a network key is not in ``networks`` or a matrix does not match the
        network's size.
    """
    _check_choice("criterion", criterion, ("p", "p_bh", "p_by"))
    _check_alpha(alpha)
    nested = nest_results(results_by_network_dim)
    rows = []
    for net in nested:
        if net not in networks:
            raise ValueError(f"network {net!r} not in networks {sorted(networks)}")
        idx = np.asarray(networks[net])
        for dim, res in nested[net].items():
            p = np.asarray(res["p"])
            if p.shape != (len(idx), len(idx)):
                raise ValueError(
                    f"network {net!r} dim {dim}: p has shape {p.shape}, expected "
                    f"{(len(idx), len(idx))}"
                )
            iu = np.triu_indices(len(idx), 1)
            crit = np.asarray(res[criterion])[iu]
            keep = np.flatnonzero(crit < alpha)
            if not keep.size:
                continue
            ii, jj = iu[0][keep], iu[1][keep]
            ri, rj = atlas.iloc[idx[ii]], atlas.iloc[idx[jj]]
            frame = pd.DataFrame(
                {
                    "comparison": comparison,
                    "network": net,
                    "dim": int(dim),
                    "roi_i": ri["roi"].to_numpy(int),
                    "roi_j": rj["roi"].to_numpy(int),
                    "label_i": ri["label"].to_numpy(str),
                    "label_j": rj["label"].to_numpy(str),
                    "network_i": ri["network"].to_numpy(str),
                    "network_j": rj["network"].to_numpy(str),
                    "x_i": ri["x"].to_numpy(float),
                    "y_i": ri["y"].to_numpy(float),
                    "z_i": ri["z"].to_numpy(float),
                    "x_j": rj["x"].to_numpy(float),
                    "y_j": rj["y"].to_numpy(float),
                    "z_j": rj["z"].to_numpy(float),
                    "_row_i": idx[ii],
                    "_row_j": idx[jj],
                }
            )
            for col in ("U", "p", "p_bh", "p_by", "effect", "median_a", "median_b"):
                frame[col] = np.asarray(res[col], dtype=np.float64)[ii, jj]
            rows.append(frame)
    if not rows:
        return _empty_pairs_table()
    table = pd.concat(rows, ignore_index=True)
    # Pairs are stored i < j in matrix order, which is atlas order within a network.
    table = table.sort_values(
        ["p", "network", "dim", "_row_i", "_row_j"], kind="mergesort"
    ).reset_index(drop=True)
    return table[list(SIGNIFICANT_PAIRS_COLUMNS)]


def _empty_pairs_table() -> pd.DataFrame:
    dtypes = {c: "object" for c in SIGNIFICANT_PAIRS_COLUMNS}
    dtypes.update({"dim": "int64", "roi_i": "int64", "roi_j": "int64"})
    for c in SIGNIFICANT_PAIRS_COLUMNS[9:]:
        dtypes[c] = "float64"
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def hub_table(sig_table: pd.DataFrame, atlas: pd.DataFrame) -> pd.DataFrame:
    """Rank ROIs by the number of significant pairs they take part in.

    Parameters
    ----------
    sig_table : pandas.DataFrame
        Output of :func:`significant_pairs_table` for **one** comparison (possibly
        filtered to some networks or dimensions).
    atlas : pandas.DataFrame
        Atlas table; every ROI of it gets a row (count 0 when in no significant pair).

    Returns
    -------
    pandas.DataFrame
        Columns ``rank, roi, label, network, x, y, z, n_pairs`` and ``n_pairs_H<q>`` for
        every dimension ``q`` present in ``sig_table``. Sorted by ``n_pairs``
        descending; ties keep atlas order (stable). ``rank`` is the competition rank
        (tied ROIs share the best rank: 1, 2, 2, 4 ...).

    Raises
    ------
    ValueError
        If ``sig_table`` mixes comparisons or names ROIs that are not in ``atlas``.
    """
    comps = pd.unique(sig_table["comparison"]) if len(sig_table) else []
    if len(comps) > 1:
        raise ValueError(
            f"sig_table mixes comparisons {list(comps)}; filter it to one comparison first"
        )
    rois = atlas["roi"].to_numpy(int)
    pos = {r: k for k, r in enumerate(rois)}
    named = set(sig_table["roi_i"].astype(int)) | set(sig_table["roi_j"].astype(int))
    unknown = sorted(named - set(pos))
    if unknown:
        raise ValueError(f"sig_table names ROIs not in the atlas: {unknown}")
    dims = sorted(int(d) for d in pd.unique(sig_table["dim"])) if len(sig_table) else []
    table = atlas[["roi", "label", "network", "x", "y", "z"]].copy().reset_index(drop=True)
    total = np.zeros(len(rois), dtype=np.int64)
    per_dim = {}
    for d in dims:
        sub = sig_table[sig_table["dim"].astype(int) == d]
        counts = np.zeros(len(rois), dtype=np.int64)
        for col in ("roi_i", "roi_j"):
            k = np.array([pos[int(r)] for r in sub[col]], dtype=np.int64)
            counts += np.bincount(k, minlength=len(rois))
        per_dim[f"n_pairs_H{d}"] = counts
        total += counts
    table["n_pairs"] = total
    for k, v in per_dim.items():
        table[k] = v
    table = table.sort_values("n_pairs", ascending=False, kind="mergesort")
    table.insert(0, "rank", table["n_pairs"].rank(method="min", ascending=False).astype(int))
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# PERMANOVA on PS matrices
# --------------------------------------------------------------------------------------


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


def permanova(
    dist,
    labels,
    n_permutations: int = 999,
    seed: int = 0,
    permutations: np.ndarray | None = None,
    chunk_size: int = 256,
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
        names fewer than two groups, or ``permutations`` has the wrong shape.
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
        the message names the ROI.
    """
    if not len(ps_by_roi_dim):
        raise ValueError("ps_by_roi_dim is empty")
    labels = np.asarray(labels)
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
                f, p = permanova(ps[q], labels, permutations=perms)
            except ValueError as err:
                raise ValueError(f"ROI {roi}, H{q}: {err}") from None
            rows.append((int(roi), q, ps.shape[1], f, p))
    table = pd.DataFrame(rows, columns=["roi", "dim", "n_subjects", "pseudo_F", "p"])
    table["p_bh"] = np.nan
    for _, sub in table.groupby("dim"):
        table.loc[sub.index, "p_bh"] = adjust_pvalues(sub["p"].to_numpy(), "bh")
    return table.sort_values(["dim"], kind="mergesort").reset_index(drop=True)
