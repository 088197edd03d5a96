"""Figures of the statistics: P-plots, hubs, glass-brain connectomes, PS matrices.

Every function draws one figure from arrays or tables (outputs of :mod:`tda_mci.stats`)
and writes it atomically to ``path`` (a temporary file in the destination folder,
renamed into place), so a killed job never leaves a half-written figure. Figures are
built on :class:`matplotlib.figure.Figure` objects, not on pyplot's global state, so
they render with any backend (no display needed) and never leak open figures.

Conventions: ``H<q>`` is homology dimension ``q``; matrices are indexed by the ROIs of
one network in atlas order; -log10 p colour scales start at 0 and are shared by all
panels of a figure; raster figures are written at 150 dpi.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from tda_mci.atlas import network_key
from tda_mci.io import atomic_write
from tda_mci.stats import dims_of, nest_results

#: Resolution of raster figures.
DPI = 150
#: Colour map of -log10 p (light = large p, dark red = small p); NaN cells grey.
PVALUE_CMAP = "YlOrRd"
#: Colour of significant cells in masks.
SIGNIFICANT_COLOR = "#b2182b"
_NETWORK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")  # fmt: skip
_WEIGHTS = ("neglog10p", "effect")


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` atomically; the format follows the extension (png, pdf, svg)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"figure path {str(path)!r} must end in .png, .pdf or .svg")
    atomic_write(
        path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=DPI), suffix=f".{fmt}"
    )


def _neglog10(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log10(p)
    # p = 0 can only come from underflow; show it at the top of the scale, not as inf.
    finite_max = np.nanmax(np.where(np.isfinite(out), out, np.nan)) if np.isfinite(out).any() else 0
    return np.where(np.isposinf(out), finite_max, out)


def _pvalue_cmap():
    from matplotlib import colormaps

    return colormaps[PVALUE_CMAP].with_extremes(bad="0.8")


def _vmax(values: Sequence[np.ndarray], alpha: float) -> float:
    """Top of a shared -log10 p scale: the largest value, at least 1 above the threshold."""
    top = [np.nanmax(v) for v in values if np.isfinite(v).any()]
    return float(max([*top, -np.log10(alpha) + 1.0]))


def _panel_grid(
    fig: Figure, n_rows: int, n_cols: int, side: float, left: float, gap_x: float,
    top: float, gap_y: float,
) -> np.ndarray:
    """Square panels of ``side`` inches at fixed margins (inches); returns (rows, cols) axes.

    A fixed layout instead of constrained layout: with hundreds of tick labels the
    layout solver costs seconds per figure.
    """  # fmt: skip
    w, h = fig.get_size_inches()
    axes = np.empty((n_rows, n_cols), dtype=object)
    for r in range(n_rows):
        for c in range(n_cols):
            x0 = left + c * (side + gap_x)
            y0 = h - top - side - r * (side + gap_y)
            axes[r, c] = fig.add_axes((x0 / w, y0 / h, side / w, side / h))
    return axes


def _colorbar_axes(fig: Figure, ref, width: float = 0.14, pad: float = 0.15):
    """Add an axes for a colour bar right of the axes ``ref`` (same height)."""
    w, h = fig.get_size_inches()
    box = ref.get_position()
    return fig.add_axes((box.x1 + pad / w, box.y0, width / w, box.height))


def _tick_fontsize(n: int) -> float:
    return 6.0 if n <= 20 else 5.0 if n <= 28 else 4.2


def _check_alpha(alpha) -> float:
    value = float(alpha)
    if not 0 < value < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    return value


def _network_colors(atlas: pd.DataFrame) -> dict[str, str]:
    names = list(dict.fromkeys(atlas["network"].astype(str)))
    return {name: _NETWORK_COLORS[k % len(_NETWORK_COLORS)] for k, name in enumerate(names)}


def _edge_weights(
    sig_table: pd.DataFrame, atlas: pd.DataFrame, weight: str
) -> tuple[np.ndarray, np.ndarray]:
    """Adjacency (atlas rows x atlas rows) and per-ROI pair counts from a pairs table.

    A pair listed in several dimensions keeps the weight of largest magnitude.
    """
    if weight not in _WEIGHTS:
        raise ValueError(f"weight must be one of {list(_WEIGHTS)}; got {weight!r}")
    rois = atlas["roi"].to_numpy(int)
    pos = {r: k for k, r in enumerate(rois)}
    n = len(rois)
    adj = np.zeros((n, n))
    counts = np.zeros(n, dtype=np.int64)
    for row in sig_table.itertuples(index=False):
        if int(row.roi_i) not in pos or int(row.roi_j) not in pos:
            raise ValueError(f"sig_table names ROI pair ({row.roi_i}, {row.roi_j}) not in atlas")
        i, j = pos[int(row.roi_i)], pos[int(row.roi_j)]
        if weight == "effect":
            w = float(row.effect)
        else:
            w = float(_neglog10(np.array([row.p]))[0]) if row.p > 0 else 300.0
        if abs(w) > abs(adj[i, j]):
            adj[i, j] = adj[j, i] = w
        counts[i] += 1
        counts[j] += 1
    return adj, counts


# --------------------------------------------------------------------------------------
# P-plots
# --------------------------------------------------------------------------------------


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
    alpha = _check_alpha(alpha)
    by_dim = dims_of(results_by_dim)
    if not by_dim:
        raise ValueError("results_by_dim is empty")
    labels = [str(x) for x in labels]
    n = len(labels)
    logs = {}
    for q, res in by_dim.items():
        p = np.asarray(res["p"], dtype=np.float64)
        if p.shape != (n, n):
            raise ValueError(f"H{q}: p has shape {p.shape}, but {n} labels were given")
        logs[q] = _neglog10(p)
    vmax = _vmax(list(logs.values()), alpha)
    k = len(by_dim)
    side = 4.3 if n > 20 else 3.6
    fs = _tick_fontsize(n)
    # room for the longest tick label (about 0.55 em per character), in inches
    xlab = max(len(s) for s in labels) * fs * 0.55 / 72 + 0.2
    left, gap_x, top, legend = xlab + 0.1, 0.3, 0.75, 0.35
    gap_y = xlab + 0.35
    fig = Figure(figsize=(left + k * side + (k - 1) * gap_x + 1.3,
                          top + 2 * side + gap_y + xlab + legend))  # fmt: skip
    axes = _panel_grid(fig, 2, k, side, left, gap_x, top, gap_y)
    mask_cmap = ListedColormap(["white", SIGNIFICANT_COLOR]).with_extremes(bad="0.8")
    n_pairs = n * (n - 1) // 2
    im = None
    for c, (q, lg) in enumerate(logs.items()):
        p = np.asarray(by_dim[q]["p"], dtype=np.float64)
        im = axes[0, c].imshow(lg, cmap=_pvalue_cmap(), vmin=0.0, vmax=vmax, interpolation="none")
        axes[0, c].set_title(f"H{q}: $-\\log_{{10}}\\,p$", fontsize=9)
        mask = np.where(np.isnan(p), np.nan, (p < alpha).astype(float))
        axes[1, c].imshow(mask, cmap=mask_cmap, vmin=0, vmax=1, interpolation="none")
        n_sig = int(np.count_nonzero(np.triu(p < alpha, 1)))
        axes[1, c].set_title(f"H{q}: p < {alpha:g} ({n_sig} of {n_pairs} pairs)", fontsize=9)
        for r in range(2):
            ax = axes[r, c]
            ax.set_xticks(range(n), labels, rotation=90, fontsize=fs)
            ax.set_yticks(range(n), labels if c == 0 else [], fontsize=fs)
            ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
            ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
            ax.tick_params(which="minor", length=0)
            ax.tick_params(which="major", length=1.5, pad=1)
        axes[1, c].grid(which="minor", color="0.9", linewidth=0.3)
    cbar = fig.colorbar(im, cax=_colorbar_axes(fig, axes[0, -1]))
    cbar.set_label(f"$-\\log_{{10}}\\,p$ (rank-sum test); line: p = {alpha:g}", fontsize=8)
    cbar.ax.axhline(-np.log10(alpha), color="black", linewidth=1.2)
    cbar.ax.tick_params(labelsize=7)
    fig.legend(
        handles=[Patch(color=SIGNIFICANT_COLOR, label=f"p < {alpha:g}"),
                 Patch(facecolor="white", edgecolor="0.5", label="not significant"),
                 Patch(color="0.8", label="diagonal (not tested)")],
        loc="lower center", ncols=3, fontsize=8, frameon=False,
    )  # fmt: skip
    fig.suptitle(title, fontsize=11, y=1 - 0.2 / fig.get_size_inches()[1], va="top")
    _save(fig, path)
    return fig


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
    alpha = _check_alpha(alpha)
    nested = nest_results(results_by_network_dim)
    nets = [k for k in networks if k in nested]
    unknown = sorted(set(nested) - set(networks))
    if unknown or not nets:
        raise ValueError(f"results name networks {sorted(nested)}; known: {sorted(networks)}")
    dims = sorted({q for k in nets for q in nested[k]})
    logs = {}
    for k in nets:
        n = len(networks[k])
        for q, res in nested[k].items():
            p = np.asarray(res["p"], dtype=np.float64)
            if p.shape != (n, n):
                raise ValueError(f"network {k!r} H{q}: p has shape {p.shape}, expected {(n, n)}")
            logs[k, q] = (_neglog10(p), p)
    vmax = _vmax([v[0] for v in logs.values()], alpha)
    side, left, gap_x, top, gap_y = 2.7, 0.75, 0.42, 0.8, 0.65
    n_rows, n_cols = len(dims), len(nets)
    fig = Figure(figsize=(left + n_cols * side + (n_cols - 1) * gap_x + 1.3,
                          top + n_rows * side + (n_rows - 1) * gap_y + 0.45))  # fmt: skip
    axes = _panel_grid(fig, n_rows, n_cols, side, left, gap_x, top, gap_y)
    rois = atlas["roi"].to_numpy(int)
    im = None
    for c, k in enumerate(nets):
        idx = np.asarray(networks[k])
        n = len(idx)
        fs = 3.6 if n > 24 else 4.5
        for r, q in enumerate(dims):
            ax = axes[r, c]
            if (k, q) not in logs:
                ax.set_axis_off()
                continue
            lg, p = logs[k, q]
            im = ax.imshow(lg, cmap=_pvalue_cmap(), vmin=0.0, vmax=vmax, interpolation="none")
            ii, jj = np.nonzero(p < alpha)
            ax.scatter(jj, ii, s=1.5, c="black", marker="o", linewidths=0)
            ax.set_xticks(range(n), rois[idx], rotation=90, fontsize=fs)
            ax.set_yticks(range(n), rois[idx], fontsize=fs)
            ax.tick_params(length=1, pad=0.5)
            n_sig = int(np.count_nonzero(np.triu(p < alpha, 1)))
            ax.set_title(f"{k} ({n} ROIs), H{q}: {n_sig} pairs", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"H{q}  (ROI number)", fontsize=8)
    cax = _colorbar_axes(fig, axes[0, -1])
    cax.set_position((cax.get_position().x0, axes[-1, -1].get_position().y0,
                      cax.get_position().width,
                      axes[0, -1].get_position().y1 - axes[-1, -1].get_position().y0))  # fmt: skip
    cbar = fig.colorbar(im, cax=cax)
    cbar.set_label(f"$-\\log_{{10}}\\,p$ (rank-sum test); line: p = {alpha:g}", fontsize=8)
    cbar.ax.axhline(-np.log10(alpha), color="black", linewidth=1.2)
    cbar.ax.tick_params(labelsize=7)
    fig.suptitle(
        f"{comparison}: rank-sum test per ROI pair within each network; "
        f"dots: p < {alpha:g}; colour scale shared by all panels",
        fontsize=10, y=1 - 0.15 / fig.get_size_inches()[1], va="top",
    )  # fmt: skip
    _save(fig, path)
    return fig


# --------------------------------------------------------------------------------------
# Hubs and connectomes
# --------------------------------------------------------------------------------------


def plot_hubs(
    hub_table: pd.DataFrame, path: str | Path, top: int = 20, title: str | None = None
) -> Figure:
    """Bar chart of the ROIs in most significant pairs (stacked by homology dimension).

    Parameters
    ----------
    hub_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.hub_table` (sorted; ``n_pairs_H<q>`` columns).
    path : str or Path
        Output file.
    top : int
        Number of ROIs shown (those with at least one significant pair).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; an empty chart with a note when no ROI is in a significant pair.
    """
    if int(top) < 1:
        raise ValueError(f"top must be >= 1; got {top!r}")
    need = {"label", "network", "n_pairs"}
    if not need <= set(hub_table.columns):
        raise ValueError(f"hub_table lacks columns {sorted(need - set(hub_table.columns))}")
    shown = hub_table[hub_table["n_pairs"] > 0].head(int(top))
    dim_cols = sorted(
        (c for c in hub_table.columns if re.fullmatch(r"n_pairs_H\d+", c)),
        key=lambda c: int(c[len("n_pairs_H") :]),
    )
    fig = Figure(figsize=(7.5, 0.28 * max(len(shown), 4) + 1.6), layout="constrained")
    ax = fig.subplots()
    if len(shown):
        y = np.arange(len(shown))[::-1]
        names = [
            f"{lab} ({network_key(net)})"
            for lab, net in zip(shown["label"], shown["network"], strict=True)
        ]
        left = np.zeros(len(shown))
        colors = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
        if dim_cols:
            for k, col in enumerate(dim_cols):
                vals = shown[col].to_numpy(float)
                ax.barh(y, vals, left=left, color=colors[k % len(colors)], label=col[8:])
                left += vals
            ax.legend(title="dimension", fontsize=7, title_fontsize=7, loc="lower right")
        else:
            ax.barh(y, shown["n_pairs"].to_numpy(float), color=colors[0])
        ax.set_yticks(y, names, fontsize=7)
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no significant pairs", ha="center", va="center",
                transform=ax.transAxes, fontsize=10)  # fmt: skip
    ax.set_xlabel("number of significant ROI pairs the ROI takes part in", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(title or f"Hub ROIs (top {int(top)})", fontsize=10)
    _save(fig, path)
    return fig


def plot_connectome_glass(
    sig_table: pd.DataFrame,
    atlas: pd.DataFrame,
    path: str | Path,
    weight: str = "neglog10p",
    title: str | None = None,
) -> Figure:
    """Glass-brain view of the significant pairs (nilearn ``plot_connectome``).

    Nodes sit at the atlas MNI coordinates, coloured by network; the node size grows
    with the number of significant pairs of the ROI (hubs); ROIs in no significant pair
    are small and grey. Edges are the significant pairs, coloured by ``-log10 p`` or by
    the rank-biserial effect (a pair significant in several dimensions keeps its
    strongest value).

    Parameters
    ----------
    sig_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.significant_pairs_table`.
    atlas : pandas.DataFrame
        Atlas table.
    path : str or Path
        Output file.
    weight : {"neglog10p", "effect"}
        Edge colour.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn import plotting

    adj, counts = _edge_weights(sig_table, atlas, weight)
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    colors = _network_colors(atlas)
    node_color = [
        colors[net] if c else "0.7" for net, c in zip(atlas["network"], counts, strict=True)
    ]
    node_size = np.where(counts > 0, 12.0 + 10.0 * np.sqrt(counts), 3.0)
    has_edges = bool(np.any(adj != 0))
    if weight == "effect":
        cmap, vmin, vmax = "RdBu_r", -1.0, 1.0
        unit = "rank-biserial effect (+: group a larger)"
    else:
        top = float(np.abs(adj).max()) if has_edges else 1.0
        cmap, vmin, vmax = PVALUE_CMAP, 0.0, top
        unit = "$-\\log_{10}\\,p$"
    fig = Figure(figsize=(12, 4.4))
    display = plotting.plot_connectome(
        adj, coords, node_color=node_color, node_size=node_size, edge_cmap=cmap,
        edge_vmin=vmin, edge_vmax=vmax, display_mode="lzry", figure=fig,
        colorbar=has_edges, edge_kwargs={"linewidth": 1.5}, node_kwargs={"linewidths": 0},
    )  # fmt: skip
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:  # nilearn puts the bar at the right edge: label it on the left
        cbar.set_label(unit, fontsize=8)
        cbar.ax.yaxis.set_label_position("left")
    n_pairs = int(np.count_nonzero(np.triu(adj != 0, 1)))
    head = title or "Significant ROI pairs"
    fig.suptitle(
        f"{head}: {n_pairs} pairs; edge colour {unit}; node size = number of pairs",
        fontsize=10,
    )
    present = [net for net in colors if (counts[atlas["network"].to_numpy() == net] > 0).any()]
    fig.legend(
        handles=[Patch(color=colors[n], label=n) for n in present]
        + [Patch(color="0.7", label="not in a significant pair")],
        loc="lower center", ncols=len(present) + 1, fontsize=8, frameon=False,
    )  # fmt: skip
    _save(fig, path)
    return fig


def write_connectome_html(
    sig_table: pd.DataFrame,
    atlas: pd.DataFrame,
    path: str | Path,
    weight: str = "neglog10p",
    title: str | None = None,
) -> str:
    """Interactive 3-D view of the significant pairs as one self-contained HTML file.

    Uses nilearn ``view_connectome``, which inlines its JavaScript (jQuery, plotly) and
    the fsaverage surface shipped with nilearn, so the page works offline. nilearn's
    template links a favicon on github.com; that link is removed, so opening the file
    makes no network request. Only ROIs in at least one significant pair are shown
    (hover shows their labels); with no significant pair, all ROIs are shown without
    edges.

    Parameters
    ----------
    sig_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.significant_pairs_table`.
    atlas : pandas.DataFrame
        Atlas table.
    path : str or Path
        Output ``.html`` file.
    weight : {"neglog10p", "effect"}
        Edge colour.
    title : str, optional
        Page title.

    Returns
    -------
    str
        The HTML written.
    """
    from nilearn import plotting

    adj, counts = _edge_weights(sig_table, atlas, weight)
    keep = np.flatnonzero(counts > 0)
    if not keep.size:
        keep = np.arange(len(atlas))
    labels = [
        f"{lab} ({network_key(net)}, {int(c)} pairs)"
        for lab, net, c in zip(atlas["label"], atlas["network"], counts, strict=True)
    ]
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    view = plotting.view_connectome(
        adj[np.ix_(keep, keep)], coords[keep],
        edge_cmap="RdBu_r" if weight == "effect" else PVALUE_CMAP,
        symmetric_cmap=weight == "effect", linewidth=4.0, node_size=4.0,
        colorbar=bool(np.any(adj != 0)), colorbar_fontsize=12,
        title=title or "Significant ROI pairs", title_fontsize=14,
        node_labels=[labels[k] for k in keep],
    )  # fmt: skip
    html = view.get_standalone()
    html = re.sub(r"<link\s+rel=\"icon\"[^>]*>", "", html, flags=re.S)
    atomic_write(path, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"), suffix=".html")
    return html


# --------------------------------------------------------------------------------------
# PS matrices
# --------------------------------------------------------------------------------------


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
    _save(fig, path)
    return fig


def plot_ps_brain_map(
    ps_table: pd.DataFrame,
    atlas: pd.DataFrame,
    path: str | Path,
    title: str | None = None,
    alpha: float = 0.05,
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
        FDR level for the large markers.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn import plotting

    alpha = _check_alpha(alpha)
    need = {"roi", "dim", "p", "p_bh"}
    if not need <= set(ps_table.columns):
        raise ValueError(f"ps_table lacks columns {sorted(need - set(ps_table.columns))}")
    pos = {int(r): k for k, r in enumerate(atlas["roi"])}
    unknown = sorted(set(ps_table["roi"].astype(int)) - set(pos))
    if unknown:
        raise ValueError(f"ps_table names ROIs not in the atlas: {unknown}")
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    dims = sorted(int(q) for q in pd.unique(ps_table["dim"]))
    values = np.nan_to_num(_neglog10(ps_table["p"].to_numpy(float)), nan=0.0)
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
    _save(fig, path)
    return fig


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------


def plot_accuracy_heatmap(
    table: pd.DataFrame, path: str | Path, metric: str = "accuracy"
) -> Figure:
    """Heatmap of cross-validated accuracy, laid out like the paper's Table 1.

    Parameters
    ----------
    table : pandas.DataFrame
        Mean scores: index (comparison, model, dimension), columns networks, as from
        ``tda_mci.model.tables.summary_table(records, formatted=False)``.
    path : str or Path
        Output file.
    metric : str
        Name of the score, for the colour bar.

    Returns
    -------
    matplotlib.figure.Figure
        One row per comparison x model x dimension, one column per network; colours on a
        fixed 0.3-1.0 scale centred on chance (0.5) and every cell annotated.
    """
    values = table.to_numpy(dtype=float)
    rows = [" | ".join(str(v) for v in (idx if isinstance(idx, tuple) else (idx,)))
            for idx in table.index]
    n_rows, n_cols = values.shape
    fig = Figure(figsize=(1.2 * n_cols + 3.5, 0.28 * n_rows + 1.5))
    ax = fig.add_axes([0.35, 0.08, 0.5, 0.86])
    image = ax.imshow(values, cmap="RdBu_r", vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(n_cols), [str(c) for c in table.columns])
    ax.set_yticks(range(n_rows), rows, fontsize=7)
    ax.xaxis.tick_top()
    cax = fig.add_axes([0.87, 0.3, 0.02, 0.4])
    fig.colorbar(image, cax=cax, label=f"mean {metric} over folds (0.5 = chance)")
    _save(fig, path)
    return fig


def plot_learning_curves(
    curves: Mapping[str, pd.DataFrame], path: str | Path, title: str = ""
) -> Figure:
    """CNN learning curves, one column per homology dimension.

    Parameters
    ----------
    curves : mapping of str to pandas.DataFrame
        Panel title (e.g. ``"H0"``) -> the ``learning_curves`` table of
        :func:`tda_mci.model.evaluate.cross_validate` (columns ``repeat, fold, epoch,
        train_loss, train_accuracy, val_loss, val_accuracy, test_loss,
        test_accuracy``). Empty tables are drawn as empty panels.
    path : str or Path
        Output file.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Top row cross-entropy, bottom row accuracy, against the epoch: the mean over
        folds and repeats with a band of ± 1 SD, for the training fold, the inner
        validation split (when used) and the test fold. The test-fold curve is drawn
        dashed: it is for reading only, no epoch or weight was chosen on it.
    """
    if not curves:
        raise ValueError("no learning curves to plot")
    styles = {
        "train": {"color": "#1f77b4", "ls": "-", "label": "training fold"},
        "val": {"color": "#2ca02c", "ls": "-", "label": "inner validation split"},
        "test": {"color": "#d62728", "ls": "--", "label": "test fold (monitor only)"},
    }
    n = len(curves)
    fig = Figure(figsize=(3.6 * n + 0.6, 5.6), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False, sharex="col")
    for j, (name, table) in enumerate(curves.items()):
        for i, (stat, label) in enumerate((("loss", "cross-entropy"), ("accuracy", "accuracy"))):
            ax = axes[i, j]
            for part, style in styles.items():
                col = f"{part}_{stat}"
                if table.empty or col not in table or not np.isfinite(table[col]).any():
                    continue
                by = table.groupby("epoch")[col]
                mean, sd = by.mean(), by.std(ddof=1).fillna(0.0)
                ax.plot(mean.index, mean, color=style["color"], ls=style["ls"], lw=1.5,
                        label=style["label"])
                ax.fill_between(mean.index, mean - sd, mean + sd, color=style["color"],
                                alpha=0.15, lw=0)
            if stat == "accuracy":
                ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
                ax.set_ylim(0.0, 1.02)
                ax.set_xlabel("epoch")
            else:
                ax.set_title(str(name))
            if j == 0:
                ax.set_ylabel(label)
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def plot_permutation_null(
    null: Sequence[float],
    observed: float,
    pvalue: float,
    path: str | Path,
    title: str = "",
    metric: str = "accuracy",
) -> Figure:
    """Histogram of a label-permutation null distribution with the observed score.

    Parameters
    ----------
    null : sequence of float
        Cross-validated scores under permuted labels.
    observed : float
        The score under the true labels.
    pvalue : float
        ``(1 + #{null >= observed}) / (1 + len(null))``, printed on the figure.
    path : str or Path
        Output file.
    title : str
        Figure title.
    metric : str
        Name of the score (x-axis label).

    Returns
    -------
    matplotlib.figure.Figure
        The null histogram on [0, 1], chance (0.5) dotted, the observed score as a
        red line, and the p-value with the number of permutations.
    """
    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or null.size == 0 or not np.isfinite(null).all():
        raise ValueError("null must be a non-empty 1-D sequence of finite scores")
    fig = Figure(figsize=(5.0, 3.4), layout="constrained")
    ax = fig.subplots()
    counts, _, _ = ax.hist(null, bins=np.linspace(0.0, 1.0, 26), color="0.6",
                           edgecolor="white", label=f"{null.size} label permutations")
    ax.axvline(0.5, color="0.3", ls=":", lw=0.8)
    ax.axvline(observed, color="#d62728", lw=2, label=f"true labels: {observed:.3f}")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1.45 * max(counts.max(), 1))  # room for the legend above the bars
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"cross-validated {metric}")
    ax.set_ylabel("permutations")
    ax.legend(loc="upper left", fontsize=8, title=f"p = {pvalue:.3g}", title_fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)
    return fig


def plot_group_diagrams(
    diagrams: Mapping[str, Sequence[Sequence[np.ndarray]]], path: str | Path, title: str = ""
) -> Figure:
    """Plot the persistence diagrams of one ROI, pooled over the subjects of each group.

    Parameters
    ----------
    diagrams : mapping of str to sequence
        Group -> one entry per subject, each the list over homology dimensions of
        ``(k, 2)`` arrays of finite ``(birth, death)`` bars (the layout of
        :func:`tda_mci.io.load_diagrams` for one ROI). Two or more groups, each with at
        least one subject, all with the same number of dimensions.
    path : str or Path
        Output file.
    title : str
        Figure title (e.g. the comparison and the ROI).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per dimension. H0 (every bar born at 0): the distribution of death
        values per group (density histograms on common bins). H1 and above: birth
        against death, each group's points in its colour, with the diagonal. Legends give
        each group's subject count and mean number of bars and total persistence
        (sum of death - birth) per subject.
    """
    groups = list(diagrams)
    if len(groups) < 2 or any(len(diagrams[g]) == 0 for g in groups):
        raise ValueError("need two or more groups, each with at least one subject")
    n_dims = {len(d) for g in groups for d in diagrams[g]}
    if len(n_dims) != 1:
        raise ValueError(f"subjects have different numbers of dimensions: {sorted(n_dims)}")
    n_dims = n_dims.pop()
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    fig = Figure(figsize=(3.8 * n_dims + 0.4, 3.9), layout="constrained")
    axes = fig.subplots(1, n_dims, squeeze=False)[0]
    for q, ax in enumerate(axes):
        pooled = {g: np.concatenate([np.asarray(d[q], float).reshape(-1, 2)
                                     for d in diagrams[g]]) for g in groups}
        top = max((p[:, 1].max() for p in pooled.values() if len(p)), default=1.0)
        for k, g in enumerate(groups):
            bars, n = pooled[g], len(diagrams[g])
            pers = bars[:, 1] - bars[:, 0]
            label = (f"{g} (n={n}), per subject: {len(bars) / n:.1f} bars, "
                     f"total persistence {pers.sum() / n:.2f}")
            color = colors[k % len(colors)]
            if q == 0:
                ax.hist(bars[:, 1], bins=np.linspace(0, top, 30), density=True, histtype="step",
                        lw=1.8, color=color, label=label)
            else:
                ax.scatter(bars[:, 0], bars[:, 1], s=6, alpha=0.35, color=color, lw=0,
                           label=label)
        if q == 0:
            ax.set_xlabel("death (H0 bars are born at 0)")
            ax.set_ylabel("density")
            ax.set_ylim(0, ax.get_ylim()[1] * 1.25)  # headroom for the legend
        else:
            ax.plot([0, top], [0, top], color="0.4", lw=0.8)
            ax.set_xlim(0, top * 1.02)
            ax.set_ylim(0, top * 1.02)
            ax.set_xlabel("birth")
            ax.set_ylabel("death")
        ax.set_title(f"H{q}")
        ax.legend(fontsize=6.5, loc="lower right" if q else "upper right", markerscale=2)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig
