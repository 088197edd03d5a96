"""P-plots: -log10 p matrices of the rank-sum tests of every ROI pair (the paper's Fig. 5).

Conventions: ``H<q>`` is homology dimension ``q``; matrices are indexed by the ROIs of
one network in atlas order; -log10 p colour scales start at 0 and are shared by all
panels of a figure, whose colour bar marks -log10 alpha; written at 150 dpi.
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
    return int(np.count_nonzero(np.triu(p < alpha, 1)))


# --------------------------------------------------------------------------------------
# One network
# --------------------------------------------------------------------------------------


def _pvalues_by_dim(results_by_dim, n: int) -> dict[int, np.ndarray]:
    """Return the ``p`` matrix of each dimension, checked to be ``n`` x ``n``."""
    by_dim = dims_of(results_by_dim)
    if not by_dim:
        raise ValueError("results_by_dim is empty")
    out = {}
    for q, res in by_dim.items():
        p = np.asarray(res["p"], dtype=np.float64)
        if p.shape != (n, n):
            raise ValueError(f"H{q}: p has shape {p.shape}, but {n} labels were given")
        out[q] = p
    return out


def _pplot_figure(labels: list[str], k: int) -> tuple[Figure, np.ndarray, float]:
    """Figure, (2, k) panel axes and tick font size, with room for the tick labels."""
    n = len(labels)
    side = 4.3 if n > 20 else 3.6
    fs = tick_fontsize(n)
    # room for the longest tick label (about 0.55 em per character), in inches
    xlab = max(len(s) for s in labels) * fs * 0.55 / 72 + 0.2
    left, gap_x, top, legend = xlab + 0.1, 0.3, 0.75, 0.35
    gap_y = xlab + 0.35
    fig = Figure(figsize=(left + k * side + (k - 1) * gap_x + 1.3,
                          top + 2 * side + gap_y + xlab + legend))  # fmt: skip
    return fig, panel_grid(fig, 2, k, side, left, gap_x, top, gap_y), fs


def _draw_pplot_column(
    axes, q: int, p: np.ndarray, labels: list[str], alpha: float, vmax: float, fs: float,
    first: bool,
):
    """Draw one dimension: -log10 p on ``axes[0]``, the mask on ``axes[1]``.

    Returns the -log10 p image (for the colour bar).
    """
    n = len(labels)
    mask_cmap = ListedColormap(["white", SIGNIFICANT_COLOR]).with_extremes(bad="0.8")
    im = axes[0].imshow(neglog10(p), cmap=pvalue_cmap(), vmin=0.0, vmax=vmax,
                        interpolation="none")  # fmt: skip
    axes[0].set_title(f"H{q}: $-\\log_{{10}}\\,p$", fontsize=9)
    mask = np.where(np.isnan(p), np.nan, (p < alpha).astype(float))
    axes[1].imshow(mask, cmap=mask_cmap, vmin=0, vmax=1, interpolation="none")
    n_pairs = n * (n - 1) // 2
    axes[1].set_title(f"H{q}: p < {alpha:g} ({_n_significant(p, alpha)} of {n_pairs} pairs)",
                      fontsize=9)  # fmt: skip
    for ax in axes:
        ax.set_xticks(range(n), labels, rotation=90, fontsize=fs)
        ax.set_yticks(range(n), labels if first else [], fontsize=fs)
        ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
        ax.tick_params(which="minor", length=0)
        ax.tick_params(which="major", length=1.5, pad=1)
    axes[1].grid(which="minor", color="0.9", linewidth=0.3)
    return im


def plot_pplot(
    results_by_dim, labels: Sequence[str], alpha: float, title: str, path: str | Path
) -> Figure:
    """Draw the paper's Fig. 5 for one comparison and network: -log10 p and masks.

    Top row: the -log10 p matrix of each homology dimension on one colour scale shared
    by the panels (0 to the largest value; the colour bar marks -log10 alpha). Bottom
    row: the mask ``p < alpha`` (significant pairs in red), with the count of
    significant pairs in the panel title. Rows and columns are the network's ROIs in
    atlas order, labelled; the diagonal is grey (not tested).

    Parameters
    ----------
    results_by_dim : mapping of int to dict, or sequence of dict
        :func:`tda_mci.stats.compare_groups` results by homology dimension (only ``p``
        is read).
    labels : sequence of str
        ROI labels of the network, matrix order.
    alpha : float
        Significance threshold of the masks.
    title : str
        Figure title (e.g. ``"HC vs LMCI: DMN"``).
    path : str or Path
        Output file (.png, .pdf or .svg).

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (2 x n_dims panels plus one colour bar).
    """
    alpha = check_level(alpha)
    pvalues = _pvalues_by_dim(results_by_dim, len(labels))
    labels = [str(x) for x in labels]
    vmax = shared_vmax([neglog10(p) for p in pvalues.values()], alpha)
    fig, axes, fs = _pplot_figure(labels, len(pvalues))
    im = None
    for c, (q, p) in enumerate(pvalues.items()):
        im = _draw_pplot_column(axes[:, c], q, p, labels, alpha, vmax, fs, first=c == 0)
    _pvalue_colorbar(fig, im, colorbar_axes(fig, axes[0, -1]), alpha)
    fig.legend(
        handles=[Patch(color=SIGNIFICANT_COLOR, label=f"p < {alpha:g}"),
                 Patch(facecolor="white", edgecolor="0.5", label="not significant"),
                 Patch(color="0.8", label="diagonal (not tested)")],
        loc="lower center", ncols=3, fontsize=8, frameon=False,
    )  # fmt: skip
    fig.suptitle(title, fontsize=11, y=1 - 0.2 / fig.get_size_inches()[1], va="top")
    save_figure(fig, path)
    return fig


# --------------------------------------------------------------------------------------
# All networks
# --------------------------------------------------------------------------------------


def _pvalues_by_network_dim(
    nested, nets: list[str], networks: Mapping[str, np.ndarray]
) -> dict[tuple[str, int], np.ndarray]:
    """Return the ``p`` matrix of each (network, dimension), checked against its size."""
    out = {}
    for k in nets:
        n = len(networks[k])
        for q, res in nested[k].items():
            p = np.asarray(res["p"], dtype=np.float64)
            if p.shape != (n, n):
                raise ValueError(f"network {k!r} H{q}: p has shape {p.shape}, expected {(n, n)}")
            out[k, q] = p
    return out


def _draw_overview_panel(
    ax, p: np.ndarray, rois: np.ndarray, alpha: float, vmax: float, network: str, q: int,
    first: bool,
):
    """Draw one network x dimension panel of the overview; return the image."""
    n = len(rois)
    fs = 3.6 if n > 24 else 4.5
    im = ax.imshow(neglog10(p), cmap=pvalue_cmap(), vmin=0.0, vmax=vmax, interpolation="none")
    ii, jj = np.nonzero(p < alpha)
    ax.scatter(jj, ii, s=1.5, c="black", marker="o", linewidths=0)
    ax.set_xticks(range(n), rois, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), rois, fontsize=fs)
    ax.tick_params(length=1, pad=0.5)
    ax.set_title(f"{network} ({n} ROIs), H{q}: {_n_significant(p, alpha)} pairs", fontsize=8)
    if first:
        ax.set_ylabel(f"H{q}  (ROI number)", fontsize=8)
    return im


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
) -> Figure:
    """One comparison across all networks and dimensions: a grid of -log10 p matrices.

    Rows are homology dimensions, columns networks (in the order of ``networks``); all
    panels share one colour scale and one colour bar; pairs with ``p < alpha`` are
    marked with a black dot. Axes are labelled with atlas ROI numbers (the labels are
    in the per-network P-plots and the significant-pairs table).

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

    Returns
    -------
    matplotlib.figure.Figure
        The figure written (n_dims x n_networks panels plus one colour bar).
    """
    alpha = check_level(alpha)
    nested = nest_results(results_by_network_dim)
    nets = [k for k in networks if k in nested]
    unknown = sorted(set(nested) - set(networks))
    if unknown or not nets:
        raise ValueError(f"results name networks {sorted(nested)}; known: {sorted(networks)}")
    dims = sorted({q for k in nets for q in nested[k]})
    pvalues = _pvalues_by_network_dim(nested, nets, networks)
    vmax = shared_vmax([neglog10(p) for p in pvalues.values()], alpha)
    side, left, gap_x, top, gap_y = 2.7, 0.75, 0.42, 0.8, 0.65
    n_rows, n_cols = len(dims), len(nets)
    fig = Figure(figsize=(left + n_cols * side + (n_cols - 1) * gap_x + 1.3,
                          top + n_rows * side + (n_rows - 1) * gap_y + 0.45))  # fmt: skip
    axes = panel_grid(fig, n_rows, n_cols, side, left, gap_x, top, gap_y)
    rois = atlas["roi"].to_numpy(int)
    im = None
    for c, k in enumerate(nets):
        for r, q in enumerate(dims):
            if (k, q) not in pvalues:
                axes[r, c].set_axis_off()
                continue
            im = _draw_overview_panel(axes[r, c], pvalues[k, q], rois[np.asarray(networks[k])],
                                      alpha, vmax, k, q, first=c == 0)  # fmt: skip
    _pvalue_colorbar(fig, im, _column_colorbar_axes(fig, axes[:, -1]), alpha)
    fig.suptitle(
        f"{comparison}: rank-sum test per ROI pair within each network; "
        f"dots: p < {alpha:g}; colour scale shared by all panels",
        fontsize=10, y=1 - 0.15 / fig.get_size_inches()[1], va="top",
    )  # fmt: skip
    save_figure(fig, path)
    return fig
