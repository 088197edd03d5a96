"""P-plots: -log10 p matrices of the rank-sum tests of every ROI pair (the paper's Fig. 5).

Conventions: ``H<q>`` is homology dimension ``q``; matrices are indexed by the ROIs of
one network in atlas order; -log10 p colour scales start at 0 and are shared by all
panels of a figure, whose colour bar marks -log10 alpha; the criterion drawn is the raw
``p < alpha`` (the paper's), and an open black ring marks every pair that survives FDR
(``p_bh < fdr_level``: Benjamini-Hochberg over the pairs of one network and dimension);
written at 150 dpi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tda_mci.figures._base import (
    SIGNIFICANT_COLOR,
    colorbar_axes,
    count_pairs,
    fdr_legend_handle,
    fdr_phrase,
    mark_fdr_cells,
    neglog10,
    panel_grid,
    pvalue_cmap,
    save_figure,
    shared_vmax,
    tick_fontsize,
)
from tda_mci.stats.tables import dims_of, nest_results
from tda_mci.validation import check_level

# --------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------


def _pvalue_colorbar(fig: Figure, image, cax, alpha: float) -> None:
    """Draw the -log10 p colour bar of ``image`` in ``cax``, with a line at p = alpha."""
    cbar = fig.colorbar(image, cax=cax)
    cbar.set_label(f"$-\\log_{{10}}\\,p$ (rank-sum test); line: p = {alpha:g}", fontsize=8)
    cbar.ax.axhline(-np.log10(alpha), color="black", linewidth=1.2)
    cbar.ax.tick_params(labelsize=7)


def _n_significant(p: np.ndarray, alpha: float) -> int:
    """Count the ROI pairs (upper triangle) with ``p < alpha``."""
    return count_pairs(p < alpha)


def _checked_pvalues(res, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(p, p_bh)`` of one result, checked to be ``n`` x ``n``."""
    out = []
    for name in ("p", "p_bh"):
        if name not in res:
            raise ValueError(f"{where}: the result has no {name!r} (compare_groups makes it)")
        x = np.asarray(res[name], dtype=np.float64)
        if x.shape != (n, n):
            raise ValueError(f"{where}: {name} has shape {x.shape}, expected {(n, n)}")
        out.append(x)
    return out[0], out[1]


# --------------------------------------------------------------------------------------
# One network
# --------------------------------------------------------------------------------------


def _pvalues_by_dim(results_by_dim, n: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Return ``(p, p_bh)`` of each dimension, checked to be ``n`` x ``n`` (``n`` labels)."""
    by_dim = dims_of(results_by_dim)
    if not by_dim:
        raise ValueError("results_by_dim is empty")
    return {q: _checked_pvalues(res, n, f"H{q} ({n} labels)") for q, res in by_dim.items()}


def _pplot_figure(labels: list[str], k: int) -> tuple[Figure, np.ndarray, float]:
    """Figure, (2, k) panel axes and tick font size, with room for the tick labels."""
    n = len(labels)
    side = 4.3 if n > 20 else 3.6
    fs = tick_fontsize(n)
    # room for the longest tick label (about 0.55 em per character), in inches
    xlab = max(len(s) for s in labels) * fs * 0.55 / 72 + 0.2
    left, gap_x, top, legend = xlab + 0.1, 0.3, 0.75, 0.35
    gap_y = xlab + 0.5  # two-line titles of the masks
    fig = Figure(figsize=(left + k * side + (k - 1) * gap_x + 1.3,
                          top + 2 * side + gap_y + xlab + legend))  # fmt: skip
    return fig, panel_grid(fig, 2, k, side, left, gap_x, top, gap_y), fs


def _draw_pplot_column(
    axes, q: int, p: np.ndarray, fdr: np.ndarray, labels: list[str], alpha: float,
    fdr_level: float, vmax: float, fs: float, first: bool,
):
    """Draw one dimension: -log10 p on ``axes[0]``, the mask on ``axes[1]``.

    Both panels get a ring on every cell of ``fdr`` (pairs surviving FDR). Returns the
    -log10 p image (for the colour bar).
    """
    n = len(labels)
    mask_cmap = ListedColormap(["white", SIGNIFICANT_COLOR]).with_extremes(bad="0.8")
    im = axes[0].imshow(neglog10(p), cmap=pvalue_cmap(), vmin=0.0, vmax=vmax,
                        interpolation="none")  # fmt: skip
    axes[0].set_title(f"H{q}: $-\\log_{{10}}\\,p$", fontsize=9)
    mask = np.where(np.isnan(p), np.nan, (p < alpha).astype(float))
    axes[1].imshow(mask, cmap=mask_cmap, vmin=0, vmax=1, interpolation="none")
    n_pairs = n * (n - 1) // 2
    axes[1].set_title(f"H{q}: p < {alpha:g} ({_n_significant(p, alpha)} of {n_pairs} pairs)\n"
                      f"rings: {fdr_phrase(count_pairs(fdr), fdr_level)}",
                      fontsize=9)  # fmt: skip
    cell_pt = axes[0].get_position().width * axes[0].figure.get_size_inches()[0] * 72 / n
    for ax in axes:
        mark_fdr_cells(ax, fdr, cell_pt)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=fs)
        ax.set_yticks(range(n), labels if first else [], fontsize=fs)
        ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
        ax.tick_params(which="minor", length=0)
        ax.tick_params(which="major", length=1.5, pad=1)
    axes[1].grid(which="minor", color="0.9", linewidth=0.3)
    return im


def plot_pplot(
    results_by_dim, labels: Sequence[str], alpha: float, title: str, path: str | Path, *,
    fdr_level: float,
) -> Figure:
    """Draw the paper's Fig. 5 for one comparison and network: -log10 p and masks.

    Top row: the -log10 p matrix of each homology dimension on one colour scale shared
    by the panels (0 to the largest value; the colour bar marks -log10 alpha). Bottom
    row: the mask ``p < alpha`` (raw p, the paper's criterion; significant pairs in
    red), with the count of significant pairs and of pairs surviving FDR in the panel
    title. In both rows an open black ring marks every pair with ``p_bh < fdr_level``
    (both triangles). Rows and columns are the network's ROIs in atlas order, labelled;
    the diagonal is grey (not tested).

    Parameters
    ----------
    results_by_dim : mapping of int to dict, or sequence of dict
        :func:`tda_mci.stats.compare_groups` results by homology dimension (``p`` and
        ``p_bh`` are read).
    labels : sequence of str
        ROI labels of the network, matrix order.
    alpha : float
        Significance threshold of the masks.
    title : str
        Figure title (e.g. ``"HC vs LMCI: DMN"``).
    path : str or Path
        Output file (.png, .pdf or .svg).
    fdr_level : float
        Benjamini-Hochberg level ``q`` of the rings (the workflow passes
        ``statistics.fdr_level``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (2 x n_dims panels plus one colour bar); the rings of a
        panel are its collection with ``gid`` ``"fdr"``.
    """
    alpha = check_level(alpha)
    fdr_level = check_level(fdr_level, "fdr_level")
    pvalues = _pvalues_by_dim(results_by_dim, len(labels))
    labels = [str(x) for x in labels]
    vmax = shared_vmax([neglog10(p) for p, _ in pvalues.values()], alpha)
    fig, axes, fs = _pplot_figure(labels, len(pvalues))
    im = None
    for c, (q, (p, p_bh)) in enumerate(pvalues.items()):
        im = _draw_pplot_column(axes[:, c], q, p, p_bh < fdr_level, labels, alpha, fdr_level,
                                vmax, fs, first=c == 0)  # fmt: skip
    _pvalue_colorbar(fig, im, colorbar_axes(fig, axes[0, -1]), alpha)
    n_fdr = sum(count_pairs(p_bh < fdr_level) for _, p_bh in pvalues.values())
    fig.legend(
        handles=[Patch(color=SIGNIFICANT_COLOR, label=f"raw p < {alpha:g}"),
                 Patch(facecolor="white", edgecolor="0.5", label="not significant"),
                 Patch(color="0.8", label="diagonal (not tested)"),
                 fdr_legend_handle(fdr_level,
                                   f"ring: survives FDR (BH q < {fdr_level:g}); "
                                   f"all dimensions: {fdr_phrase(n_fdr, fdr_level)}")],
        loc="lower center", ncols=4, fontsize=8, frameon=False,
    )  # fmt: skip
    fig.suptitle(title, fontsize=11, y=1 - 0.2 / fig.get_size_inches()[1], va="top")
    save_figure(fig, path)
    return fig


# --------------------------------------------------------------------------------------
# All networks
# --------------------------------------------------------------------------------------


def _pvalues_by_network_dim(
    nested, nets: list[str], networks: Mapping[str, np.ndarray]
) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """Return ``(p, p_bh)`` of each (network, dimension), checked against its size."""
    return {(k, q): _checked_pvalues(res, len(networks[k]), f"network {k!r} H{q}")
            for k in nets for q, res in nested[k].items()}  # fmt: skip


def _draw_overview_panel(
    ax, p: np.ndarray, fdr: np.ndarray, rois: np.ndarray, alpha: float, vmax: float,
    network: str, q: int, first: bool,
):
    """Draw one network x dimension panel of the overview; return the image.

    Dots mark ``p < alpha`` (first collection), rings the cells of ``fdr`` (second).
    """
    n = len(rois)
    fs = 3.6 if n > 24 else 4.5
    im = ax.imshow(neglog10(p), cmap=pvalue_cmap(), vmin=0.0, vmax=vmax, interpolation="none")
    ii, jj = np.nonzero(p < alpha)
    ax.scatter(jj, ii, s=1.5, c="black", marker="o", linewidths=0)
    cell_pt = ax.get_position().width * ax.figure.get_size_inches()[0] * 72 / n
    mark_fdr_cells(ax, fdr, cell_pt)
    ax.set_xticks(range(n), rois, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), rois, fontsize=fs)
    ax.tick_params(length=1, pad=0.5)
    ax.set_title(f"{network} ({n} ROIs), H{q}: {_n_significant(p, alpha)} pairs, "
                 f"{count_pairs(fdr)} FDR", fontsize=8)  # fmt: skip
    if first:
        ax.set_ylabel(f"H{q}  (ROI number)", fontsize=8)
    return im


def _overview_title(
    comparison: str, pvalues: Mapping[tuple[str, int], tuple[np.ndarray, np.ndarray]],
    alpha: float, fdr_level: float, width: float,
) -> str:
    """Title of the overview: the test, both criteria and their totals.

    Phrases are joined by ``"; "`` and wrapped between phrases (never inside one) to
    about the figure's ``width`` (inches) at 10 pt.
    """
    n_raw = sum(_n_significant(p, alpha) for p, _ in pvalues.values())
    n_fdr = sum(count_pairs(p_bh < fdr_level) for _, p_bh in pvalues.values())
    phrases = (f"{comparison}: rank-sum test per ROI pair within each network",
               "colour scale shared by all panels",
               f"dots: raw p < {alpha:g} ({n_raw} pairs)",
               f"rings: {fdr_phrase(n_fdr, fdr_level)}")  # fmt: skip
    chars = width * 12.5  # about 5.5 pt per character at 10 pt
    lines = [phrases[0]]
    for phrase in phrases[1:]:
        if len(lines[-1]) + 2 + len(phrase) <= chars:
            lines[-1] += f"; {phrase}"
        else:
            lines[-1] += ";"
            lines.append(phrase)
    return "\n".join(lines)


def _column_colorbar_axes(fig: Figure, column):
    """Add a colour-bar axes right of the panel ``column``, spanning its full height."""
    cax = colorbar_axes(fig, column[0])
    cax.set_position((cax.get_position().x0, column[-1].get_position().y0,
                      cax.get_position().width,
                      column[0].get_position().y1 - column[-1].get_position().y0))  # fmt: skip
    return cax


def plot_pplot_overview(
    results_by_network_dim,
    atlas: pd.DataFrame,
    networks: Mapping[str, np.ndarray],
    alpha: float,
    comparison: str,
    path: str | Path,
    *,
    fdr_level: float,
) -> Figure:
    """One comparison across all networks and dimensions: a grid of -log10 p matrices.

    Rows are homology dimensions, columns networks (in the order of ``networks``); all
    panels share one colour scale and one colour bar; pairs with ``p < alpha`` (raw)
    are marked with a black dot, pairs with ``p_bh < fdr_level`` (surviving FDR) with
    an open black ring. Axes are labelled with atlas ROI numbers (the labels are in the
    per-network P-plots and the significant-pairs table); the title states both
    criteria and the totals.

    Parameters
    ----------
    results_by_network_dim : mapping
        ``results[network][dim]`` or ``results[network, dim]``:
        :func:`tda_mci.stats.compare_groups` results.
    atlas : pandas.DataFrame
        Atlas table.
    networks : mapping of str to array of int
        :func:`tda_mci.atlas.networks` of ``atlas``.
    alpha : float
        Significance threshold of the dots.
    comparison : str
        Comparison name for the title.
    path : str or Path
        Output file.
    fdr_level : float
        Benjamini-Hochberg level ``q`` of the rings (the workflow passes
        ``statistics.fdr_level``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (n_dims x n_networks panels plus one colour bar).
    """
    alpha = check_level(alpha)
    fdr_level = check_level(fdr_level, "fdr_level")
    nested = nest_results(results_by_network_dim)
    nets = [k for k in networks if k in nested]
    unknown = sorted(set(nested) - set(networks))
    if unknown or not nets:
        raise ValueError(f"results name networks {sorted(nested)}; known: {sorted(networks)}")
    dims = sorted({q for k in nets for q in nested[k]})
    pvalues = _pvalues_by_network_dim(nested, nets, networks)
    vmax = shared_vmax([neglog10(p) for p, _ in pvalues.values()], alpha)
    side, left, gap_x, gap_y = 2.7, 0.75, 0.42, 0.65
    n_rows, n_cols = len(dims), len(nets)
    width = left + n_cols * side + (n_cols - 1) * gap_x + 1.3
    title = _overview_title(comparison, pvalues, alpha, fdr_level, width)
    top = 0.3 + 0.18 * (title.count("\n") + 1)
    fig = Figure(figsize=(width, top + n_rows * side + (n_rows - 1) * gap_y + 0.45))
    axes = panel_grid(fig, n_rows, n_cols, side, left, gap_x, top, gap_y)
    rois = atlas["roi"].to_numpy(int)
    im = None
    for c, k in enumerate(nets):
        for r, q in enumerate(dims):
            if (k, q) not in pvalues:
                axes[r, c].set_axis_off()
                continue
            p, p_bh = pvalues[k, q]
            im = _draw_overview_panel(axes[r, c], p, p_bh < fdr_level,
                                      rois[np.asarray(networks[k])], alpha, vmax, k, q,
                                      first=c == 0)  # fmt: skip
    _pvalue_colorbar(fig, im, _column_colorbar_axes(fig, axes[:, -1]), alpha)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / fig.get_size_inches()[1], va="top")
    save_figure(fig, path)
    return fig
