"""Tables of one comparison's rank-sum results: significant ROI pairs and hubs.

Inputs are the :func:`tda_mci.stats.ranksum.compare_groups` results of every network
and homology dimension; rows name ROIs by atlas number, label, network and MNI
coordinate, so that a table can be read without the matrices. Pairs are listed by the
paper's raw criterion (``p < alpha``); the ``fdr`` column and the hub counts
``n_pairs_fdr*`` say which of them survive Benjamini-Hochberg at ``fdr_level`` (family =
the pairs of one network and dimension).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from tda_mci.validation import check_choice, check_level

#: Columns of the table from :func:`significant_pairs_table`, in order, with their dtypes
#: (the one place that lists them).
_PAIR_DTYPES = {
    "comparison": "object", "network": "object", "dim": "int64",
    "roi_i": "int64", "roi_j": "int64", "label_i": "object", "label_j": "object",
    "network_i": "object", "network_j": "object",
    "x_i": "float64", "y_i": "float64", "z_i": "float64",
    "x_j": "float64", "y_j": "float64", "z_j": "float64",
    "U": "float64", "p": "float64", "p_bh": "float64", "p_by": "float64", "fdr": "bool",
    "effect": "float64", "median_a": "float64", "median_b": "float64",
}  # fmt: skip
#: Columns of the table from :func:`significant_pairs_table`, in order.
SIGNIFICANT_PAIRS_COLUMNS = tuple(_PAIR_DTYPES)


def nest_results(results) -> dict[str, dict[int, Mapping[str, np.ndarray]]]:
    """Normalise per-network, per-dimension results to ``{network: {dim: result}}``.

    Parameters
    ----------
    results : mapping
        Either nested, ``results[network][dim]``, or flat with tuple keys,
        ``results[network, dim]``; a per-network value may also be a sequence indexed
        by dimension. Each result is a :func:`~tda_mci.stats.ranksum.compare_groups` dict.

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
        :func:`~tda_mci.stats.ranksum.compare_groups` results of one network, by homology dimension.

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
    *,
    fdr_level: float,
) -> pd.DataFrame:
    """Table of the significant ROI pairs of one comparison, with their FDR status.

    Parameters
    ----------
    results_by_network_dim : mapping
        ``results[network_key][dim]`` (or ``results[network_key, dim]``) is the dict
        returned by :func:`~tda_mci.stats.ranksum.compare_groups` for that network and
        homology dimension.
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
    fdr_level : float
        Level ``q`` of the ``fdr`` column (the workflow passes
        ``statistics.fdr_level``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SIGNIFICANT_PAIRS_COLUMNS` (``roi_*`` are atlas ROI numbers,
        ``roi_i`` before ``roi_j`` in atlas order; ``x, y, z`` MNI mm; ``U`` and
        ``effect`` refer to group a; ``fdr`` is ``p_bh < fdr_level``: the pair survives
        Benjamini-Hochberg over the pairs of its network and dimension), one row per
        significant pair and dimension, sorted by ``p`` (ties: network, dim, atlas
        order). Empty (with these columns) when nothing is significant. A pair with
        ``p_bh < fdr_level`` but a ``criterion`` p-value of at least ``alpha`` (possible
        when ``fdr_level > alpha`` and many pairs differ) is not listed.

    Raises
    ------
    ValueError
        If a network key is not in ``networks``, a matrix does not match the
        network's size, or a level is not in (0, 1).
    """
    check_choice("criterion", criterion, ("p", "p_bh", "p_by"))
    check_level(alpha)
    fdr_level = check_level(fdr_level, "fdr_level")
    nested = nest_results(results_by_network_dim)
    rows = []
    for net in nested:
        if net not in networks:
            raise ValueError(f"network {net!r} not in networks {sorted(networks)}")
        for dim, res in nested[net].items():
            frame = _pairs_of(res, np.asarray(networks[net]), atlas, criterion, alpha,
                              where=f"network {net!r} dim {dim}")
            if frame is not None:
                frame.insert(0, "comparison", comparison)
                frame.insert(1, "network", net)
                frame.insert(2, "dim", int(dim))
                rows.append(frame)
    if not rows:
        return _empty_pairs_table()
    table = pd.concat(rows, ignore_index=True)
    table["fdr"] = table["p_bh"].to_numpy(float) < fdr_level
    # Pairs are stored i < j in matrix order, which is atlas order within a network.
    table = table.sort_values(
        ["p", "network", "dim", "_row_i", "_row_j"], kind="mergesort"
    ).reset_index(drop=True)
    return table[list(SIGNIFICANT_PAIRS_COLUMNS)]


def _pairs_of(
    res: Mapping[str, np.ndarray], idx: np.ndarray, atlas: pd.DataFrame, criterion: str,
    alpha: float, where: str,
) -> pd.DataFrame | None:
    """Rows of the significant pairs of one network and dimension (``None`` if none).

    ``idx`` maps the network's matrix index to atlas rows; ``_row_i`` and ``_row_j``
    (atlas rows) are kept for sorting. Every column of :data:`SIGNIFICANT_PAIRS_COLUMNS`
    that is a result of ``res`` (``U``, ``p`` ...) is copied.
    """
    n = len(idx)
    p = np.asarray(res["p"])
    if p.shape != (n, n):
        raise ValueError(f"{where}: p has shape {p.shape}, expected {(n, n)}")
    iu = np.triu_indices(n, 1)
    keep = np.flatnonzero(np.asarray(res[criterion])[iu] < alpha)
    if not keep.size:
        return None
    ii, jj = iu[0][keep], iu[1][keep]
    ri, rj = atlas.iloc[idx[ii]], atlas.iloc[idx[jj]]
    columns = {}
    for col, kind in (("roi", int), ("label", str), ("network", str)):
        columns[f"{col}_i"] = ri[col].to_numpy(kind)
        columns[f"{col}_j"] = rj[col].to_numpy(kind)
    for axis in "xyz":
        columns[f"{axis}_i"] = ri[axis].to_numpy(float)
    for axis in "xyz":
        columns[f"{axis}_j"] = rj[axis].to_numpy(float)
    frame = pd.DataFrame({**columns, "_row_i": idx[ii], "_row_j": idx[jj]})
    for col in SIGNIFICANT_PAIRS_COLUMNS:
        if col in res:
            frame[col] = np.asarray(res[col], dtype=np.float64)[ii, jj]
    return frame


def _empty_pairs_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _PAIR_DTYPES.items()})


def _roi_counts(pairs: pd.DataFrame, pos: Mapping[int, int], n: int) -> np.ndarray:
    """Count the rows of ``pairs`` each ROI takes part in (``pos``: ROI -> atlas row)."""
    counts = np.zeros(n, dtype=np.int64)
    for col in ("roi_i", "roi_j"):
        k = np.array([pos[int(r)] for r in pairs[col]], dtype=np.int64)
        counts += np.bincount(k, minlength=n)
    return counts


def hub_table(sig_table: pd.DataFrame, atlas: pd.DataFrame) -> pd.DataFrame:
    """Rank ROIs by the number of significant pairs they take part in.

    Parameters
    ----------
    sig_table : pandas.DataFrame
        Output of :func:`significant_pairs_table` for **one** comparison (possibly
        filtered to some networks or dimensions); the columns ``comparison, dim,
        roi_i, roi_j, fdr`` are read.
    atlas : pandas.DataFrame
        Atlas table; every ROI of it gets a row (count 0 when in no significant pair).

    Returns
    -------
    pandas.DataFrame
        Columns ``rank, roi, label, network, x, y, z, n_pairs, n_pairs_fdr`` and, for
        every dimension ``q`` present in ``sig_table``, ``n_pairs_H<q>, n_pairs_fdr_H<q>``.
        ``n_pairs`` counts the ROI's rows of ``sig_table`` (pair x dimension, raw
        criterion); ``n_pairs_fdr`` those of them with ``fdr`` true (surviving FDR).
        Sorted by ``n_pairs`` descending; ties keep atlas order (stable). ``rank`` is
        the competition rank by ``n_pairs`` (tied ROIs share the best rank: 1, 2, 2, 4
        ...).

    Raises
    ------
    ValueError
        If ``sig_table`` lacks the ``fdr`` column, mixes comparisons or names ROIs that
        are not in ``atlas``.
    """
    if "fdr" not in sig_table.columns:
        raise ValueError("sig_table lacks the column 'fdr' (significant_pairs_table makes it)")
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
    fdr = sig_table["fdr"].to_numpy(bool)
    table["n_pairs"] = _roi_counts(sig_table, pos, len(rois))
    table["n_pairs_fdr"] = _roi_counts(sig_table[fdr], pos, len(rois))
    for d in dims:
        in_dim = sig_table["dim"].astype(int).to_numpy() == d
        table[f"n_pairs_H{d}"] = _roi_counts(sig_table[in_dim], pos, len(rois))
        table[f"n_pairs_fdr_H{d}"] = _roi_counts(sig_table[in_dim & fdr], pos, len(rois))
    table = table.sort_values("n_pairs", ascending=False, kind="mergesort")
    table.insert(0, "rank", table["n_pairs"].rank(method="min", ascending=False).astype(int))
    return table.reset_index(drop=True)
