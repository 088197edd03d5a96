"""Figures of the PS matrices (inter-subject distances per ROI) and of their PERMANOVA.

Conventions: ``H<q>`` is homology dimension ``q``; subjects are ordered by group
(stable within a group); -log10 p colour scales start at 0; written at 150 dpi.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tda_mci.figures._base import PVALUE_CMAP, neglog10, save_figure
from tda_mci.validation import check_level


def plot_ps_matrix(
    ps,
    group_labels: Sequence[str],
    title: str,
    path: str | Path,
    group_order: Sequence[str] | None = None,
) -> Figure:
    """Draw the paper's Fig. 4: a subject x subject distance matrix ordered by group.

    Subjects are reordered by group (stable: within a group, input order), group
    boundaries are drawn as white lines and each block is labelled with its group name
    and size.

    Parameters
    ----------
    ps : array_like, shape (N, N) or (n_dims, N, N)
        One ROI's PS matrix (Wasserstein distances between subjects), or one per
        homology dimension; a panel per dimension, each with its own colour bar (the
        scales of H0, H1 and H2 distances differ by orders of magnitude).
    group_labels : sequence of str, length N
        Group of each subject (matrix order).
    title : str
        Figure title (e.g. ``"post cingulate 108 (DMN)"``).
    path : str or Path
        Output file.
    group_order : sequence of str, optional
        Order of the groups (default: sorted names). Must contain every group.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ps = np.asarray(ps, dtype=np.float64)
    if ps.ndim == 2:
        ps = ps[None]
    if ps.ndim != 3 or ps.shape[1] != ps.shape[2]:
        raise ValueError(f"ps must have shape (N, N) or (n_dims, N, N); got {ps.shape}")
    groups = np.asarray([str(g) for g in group_labels])
    n = ps.shape[1]
    if groups.shape[0] != n:
        raise ValueError(f"group_labels has {groups.shape[0]} entries for {n} subjects")
    order_names = list(group_order) if group_order is not None else sorted(set(groups))
    missing = sorted(set(groups) - set(order_names))
    if missing:
        raise ValueError(f"group_order {order_names} lacks groups {missing}")
    rank = {g: k for k, g in enumerate(order_names)}
    order = np.argsort([rank[g] for g in groups], kind="stable")
    present = [g for g in order_names if g in set(groups)]
    sizes = np.array([np.count_nonzero(groups == g) for g in present])
    edges = np.concatenate([[0], np.cumsum(sizes)])
    mids = (edges[:-1] + edges[1:]) / 2 - 0.5
    names = [f"{g}\n(n={s})" for g, s in zip(present, sizes, strict=True)]
    k = ps.shape[0]
    fig = Figure(figsize=(4.6 * k + 0.6, 4.8), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    for q in range(k):
        ax = axes[q]
        m = ps[q][np.ix_(order, order)]
        im = ax.imshow(m, cmap="viridis", interpolation="none")
        for e in edges[1:-1]:
            ax.axhline(e - 0.5, color="white", linewidth=1.2)
            ax.axvline(e - 0.5, color="white", linewidth=1.2)
        ax.set_xticks(mids, names, fontsize=7)
        ax.set_yticks(mids, names, fontsize=7)
        ax.tick_params(length=0)
        ax.set_title(f"H{q}" if k > 1 else "", fontsize=9)
        cbar = fig.colorbar(im, ax=ax, shrink=0.8)
        cbar.set_label("Wasserstein distance between subjects", fontsize=7)
        cbar.ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)
    return fig


def plot_ps_brain_map(
    ps_table: pd.DataFrame,
    atlas: pd.DataFrame,
    path: str | Path,
    title: str | None = None,
    *,
    alpha: float,
    note: str | None = None,
) -> Figure:
    """Brain map of the PERMANOVA results per ROI (nilearn ``plot_markers``).

    One row per homology dimension; each ROI is a marker at its MNI coordinate coloured
    by ``-log10 p`` (one colour scale for all rows); ROIs with ``p_bh < alpha`` are
    drawn larger. ROIs whose test is undefined (NaN p) are drawn at 0.

    Parameters
    ----------
    ps_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.ps_group_tests` (columns ``roi, dim, p, p_bh``).
    atlas : pandas.DataFrame
        Atlas table (ROI numbers to coordinates).
    path : str or Path
        Output file.
    title : str, optional
        Figure title.
    alpha : float
        FDR (Benjamini-Hochberg) level at which an ROI is marked: ROIs with
        ``p_bh < alpha`` get the large markers. Required, keyword only (the workflow
        passes ``statistics.ps_fdr_level``).
    note : str, optional
        A warning printed under the maps (e.g. that the permutation count keeps the FDR
        correction from marking a single ROI, :func:`tda_mci.stats.permanova.fdr_floor`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn import plotting

    alpha = check_level(alpha)
    need = {"roi", "dim", "p", "p_bh"}
    if not need <= set(ps_table.columns):
        raise ValueError(f"ps_table lacks columns {sorted(need - set(ps_table.columns))}")
    pos = {int(r): k for k, r in enumerate(atlas["roi"])}
    unknown = sorted(set(ps_table["roi"].astype(int)) - set(pos))
    if unknown:
        raise ValueError(f"ps_table names ROIs not in the atlas: {unknown}")
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    dims = sorted(int(q) for q in pd.unique(ps_table["dim"]))
    values = np.nan_to_num(neglog10(ps_table["p"].to_numpy(float)), nan=0.0)
    vmax = max(float(values.max()) if values.size else 0.0, 1.0)
    fig = Figure(figsize=(10, 3.0 * len(dims) + 0.6))
    axes = fig.subplots(len(dims), 1, squeeze=False)[:, 0]
    for ax, q in zip(axes, dims, strict=True):
        sel = (ps_table["dim"].astype(int) == q).to_numpy()
        sub = ps_table[sel]
        rows = np.array([pos[int(r)] for r in sub["roi"]])
        big = (sub["p_bh"].to_numpy(float) < alpha).astype(float)
        display = plotting.plot_markers(
            values[sel], coords[rows], node_size=18.0 + 50.0 * big, node_cmap=PVALUE_CMAP,
            node_vmin=0.0, node_vmax=vmax, display_mode="ortho", figure=fig, axes=ax,
            title=f"H{q}: {int(big.sum())} ROIs with p_BH < {alpha:g}",
        )  # fmt: skip
        cbar = getattr(display, "_cbar", None)
        if cbar is not None:
            cbar.set_label("$-\\log_{10}\\,p$", fontsize=7)
            cbar.ax.yaxis.set_label_position("left")
    fig.suptitle(
        (title or "PERMANOVA of PS matrices per ROI")
        + f"; colour $-\\log_{{10}}\\,p$, large markers p_BH < {alpha:g}",
        fontsize=10,
    )
    if note:
        fig.text(0.5, 0.005, textwrap.fill(f"Note: {note}", 150), ha="center", va="bottom",
                 fontsize=7, color="#b2182b")
    save_figure(fig, path)
    return fig

