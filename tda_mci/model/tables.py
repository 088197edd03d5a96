"""Summary tables of many cross-validation results, laid out like the paper's tables.

A *record* is one evaluated model: a mapping with keys ``comparison`` (e.g.
``"HC-vs-LMCI"``, or a pair ``["HC", "LMCI"]`` shown as ``"HC vs LMCI"``), ``model``
(``cnn``, ``logreg``, ...), ``dimension`` (homology dimension; an integer ``d`` is shown
as ``"Hd"``; ``dim`` is accepted too), ``network`` (e.g. ``"DMN"``) and ``summary``
(``{metric: {mean, sd, ci_low, ci_high}}`` as returned by
:func:`~tda_mci.model.evaluate.cross_validate`, or a DataFrame indexed by metric). The
identifying keys may also sit in a ``settings`` sub-mapping of the record.
An optional ``permutation`` entry (output of
:func:`~tda_mci.model.evaluate.permutation_pvalue`, or just ``{"pvalue": p}``) adds a
p-value to the best-results table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from tda_mci.model.metrics import METRICS

__all__ = ["best_records", "best_results_table", "record_key", "summary_table"]

_KEYS = ("comparison", "model", "dimension", "network")


def _stat(record: Mapping, metric: str, stat: str) -> float:
    summary = record["summary"]
    if isinstance(summary, pd.DataFrame):
        value = summary.loc[metric, stat] if metric in summary.index else np.nan
    else:
        value = summary.get(metric, {}).get(stat, np.nan)
    return float("nan") if value is None else float(value)


def _label(key: str, value):
    if key == "comparison" and isinstance(value, (list, tuple)):
        return " vs ".join(str(v) for v in value)
    if key == "dimension" and isinstance(value, (int, np.integer)):
        return f"H{int(value)}"
    if key == "dimension" and value is None:
        return "-"  # a model of no homology dimension (corr_logreg)
    return value


def _check(records: Iterable[Mapping]) -> list[dict]:
    """Normalise records: identifying keys at top level, hashable labels."""
    out = []
    for i, r in enumerate(records):
        settings = r.get("settings") or {}
        rec = dict(r)
        for k in _KEYS:
            for source in (r, settings):
                for name in (k, "dim") if k == "dimension" else (k,):
                    if k not in rec and name in source:
                        rec[k] = source[name]
            if k not in rec:
                raise ValueError(f"result record {i} lacks key {k!r}")
            rec[k] = _label(k, rec[k])
        if "summary" not in rec:
            raise ValueError(f"result record {i} lacks key 'summary'")
        out.append(rec)
    if not out:
        raise ValueError("no results to tabulate")
    return out


def record_key(record: Mapping) -> tuple:
    """Return ``(comparison, model, dimension, network)`` of a record, as shown in tables.

    Parameters
    ----------
    record : mapping
        One result record (see the module docstring).

    Returns
    -------
    tuple
        E.g. ``("HC vs LMCI", "cnn", "H0", "DMN")``: the key that identifies one
        evaluated model, e.g. to attach a permutation p-value to it.
    """
    rec = _check([record])[0]
    return tuple(rec[k] for k in _KEYS)


def best_records(
    records: Iterable[Mapping],
    metric: str = "accuracy",
    *,
    by: Sequence[str] = ("comparison",),
) -> dict[tuple, int]:
    """Pick the best record of each group: the highest mean ``metric``.

    Ties go to the smaller SD, then to the first record; records whose mean is not
    finite are never picked.

    Parameters
    ----------
    records : iterable of mapping
        As for :func:`summary_table`.
    metric : str
        The metric that ranks the records.
    by : sequence of str
        Grouping keys, e.g. ``("comparison",)`` or ``("comparison", "model")``.

    Returns
    -------
    dict
        Group (tuple of the ``by`` values, as shown in tables) -> index of its best
        record in ``records``, groups in first-seen order.

    Raises
    ------
    ValueError
        On an unknown metric or grouping key, or a record lacking a key.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    by = tuple(by)
    bad = [k for k in by if k not in _KEYS]
    if bad:
        raise ValueError(f"by must name keys among {_KEYS}, got {bad}")
    best: dict[tuple, tuple[float, float, int]] = {}
    for i, r in enumerate(_check(records)):
        mean, sd = _stat(r, metric, "mean"), _stat(r, metric, "sd")
        if not np.isfinite(mean):
            continue
        rank = (-mean, sd if np.isfinite(sd) else np.inf, i)
        group = tuple(r[k] for k in by)
        if group not in best or rank < best[group]:
            best[group] = rank
    return {group: rank[2] for group, rank in best.items()}


def _fmt(mean: float, sd: float, decimals: int) -> str:
    if not np.isfinite(mean):
        return ""
    if not np.isfinite(sd):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {sd:.{decimals}f}"


def summary_table(
    records: Iterable[Mapping],
    metric: str = "accuracy",
    *,
    networks: Sequence[str] | None = None,
    formatted: bool = True,
    decimals: int = 3,
) -> pd.DataFrame:
    """Table 1 of the paper: rows comparison x model x dimension, columns networks.

    Parameters
    ----------
    records : iterable of mapping
        Results with keys ``comparison, model, dimension, network, summary`` (see the
        module docstring).
    metric : str
        Which metric (default accuracy).
    networks : sequence of str, optional
        Column order; default the order networks first appear in ``records``.
    formatted : bool
        True: cells are strings ``"mean ± SD"`` (just the mean for a single split,
        empty when missing); False: cells are the float means (NaN when missing), e.g.
        for a heatmap.
    decimals : int
        Decimals of the formatted cells.

    Returns
    -------
    pandas.DataFrame
        Index: MultiIndex (comparison, model, dimension) in first-seen order; columns:
        networks.

    Raises
    ------
    ValueError
        If a record lacks a key, the metric is unknown, or two records share a cell.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    records = _check(records)
    rows: dict[tuple, dict] = {}
    seen_networks: list[str] = []
    for r in records:
        key = (r["comparison"], r["model"], r["dimension"])
        net = r["network"]
        if net not in seen_networks:
            seen_networks.append(net)
        cells = rows.setdefault(key, {})
        if net in cells:
            raise ValueError(f"two results for {key} on network {net!r}")
        mean, sd = _stat(r, metric, "mean"), _stat(r, metric, "sd")
        cells[net] = _fmt(mean, sd, decimals) if formatted else mean
    cols = list(networks) if networks is not None else seen_networks
    empty = "" if formatted else np.nan
    table = pd.DataFrame(
        [[cells.get(c, empty) for c in cols] for cells in rows.values()],
        index=pd.MultiIndex.from_tuples(list(rows), names=["comparison", "model", "dimension"]),
        columns=pd.Index(cols, name="network"),
    )
    return table


def best_results_table(
    records: Iterable[Mapping],
    metric: str = "accuracy",
    *,
    by: Sequence[str] = ("comparison",),
    decimals: int = 3,
) -> pd.DataFrame:
    """Table 3 of the paper: the best network x dimension (x model) per comparison.

    The best record of each group is chosen by :func:`best_records`.

    Parameters
    ----------
    records : iterable of mapping
        As for :func:`summary_table`.
    metric : str
        The metric that ranks the records.
    by : sequence of str
        Grouping keys, e.g. ``("comparison",)`` (default) or ``("comparison", "model")``
        for the best of each model.
    decimals : int
        Decimals of the formatted cells.

    Returns
    -------
    pandas.DataFrame
        One row per group with ``comparison, model, network, dimension``, one
        ``"mean ± SD"`` column per metric of :data:`~tda_mci.model.metrics.METRICS`, the
        ranked metric's 95% interval ``<metric>_95ci`` as ``"[low, high]"``, and
        ``p_value`` (label permutation; NaN when not computed).
    """
    records = _check(records)
    rows = []
    for i in best_records(records, metric, by=by).values():
        r = records[i]
        row = {k: r[k] for k in ("comparison", "model", "network", "dimension")}
        for m in METRICS:
            row[m] = _fmt(_stat(r, m, "mean"), _stat(r, m, "sd"), decimals)
        lo, hi = _stat(r, metric, "ci_low"), _stat(r, metric, "ci_high")
        row[f"{metric}_95ci"] = (
            f"[{lo:.{decimals}f}, {hi:.{decimals}f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
        )
        perm = r.get("permutation") or {}
        p = perm.get("pvalue") if isinstance(perm, Mapping) else None
        row["p_value"] = float(p) if p is not None else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
