"""Hub ROIs and connectomes: bar chart of hubs, glass-brain and interactive 3-D views.

The inputs are the significant-pairs and hub tables of :mod:`tda_mci.stats.tables`.
Conventions: the pairs drawn are those of the raw criterion ``p < alpha`` (the paper's);
which of them survive FDR (the table's ``fdr`` column: Benjamini-Hochberg ``p_bh <
fdr_level`` over the pairs of one network and dimension) is drawn distinctly and counted
in every title. Nodes sit at the atlas MNI coordinates and are coloured by network
(:data:`tda_mci.figures._base.NETWORK_COLORS`, in atlas network order); edges are
coloured by ``-log10 p`` (scale from 0) or by the rank-biserial effect (-1..1); raster
figures are written at 150 dpi.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tda_mci.atlas import network_key
from tda_mci.figures._base import (
    PVALUE_CMAP,
    count_pairs,
    fdr_phrase,
    neglog10,
    network_colors,
    save_figure,
)
from tda_mci.io import atomic_write
from tda_mci.validation import check_level

#: Edge weights of the connectome views.
_WEIGHTS = ("neglog10p", "effect")
#: Colours of the homology dimensions in the hub chart (cycled).
_DIM_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def _edge_weights(
    sig_table: pd.DataFrame, atlas: pd.DataFrame, weight: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency, FDR mask and per-ROI pair counts (atlas rows) from a pairs table.

    Returns ``(adj, fdr, counts, counts_fdr)``: ``adj`` (n, n) holds each listed pair's
    weight (a pair listed in several dimensions keeps the weight of largest magnitude);
    ``fdr`` (n, n) is true for a pair that survives FDR in at least one dimension;
    ``counts`` and ``counts_fdr`` are the number of rows (pair x dimension) each ROI
    takes part in, all and surviving FDR.
    """
    if weight not in _WEIGHTS:
        raise ValueError(f"weight must be one of {list(_WEIGHTS)}; got {weight!r}")
    if "fdr" not in sig_table.columns:
        raise ValueError("sig_table lacks the column 'fdr' (significant_pairs_table makes it)")
    rois = atlas["roi"].to_numpy(int)
    pos = {r: k for k, r in enumerate(rois)}
    n = len(rois)
    adj = np.zeros((n, n))
    fdr = np.zeros((n, n), dtype=bool)
    counts = np.zeros((2, n), dtype=np.int64)
    for row in sig_table.itertuples(index=False):
        if int(row.roi_i) not in pos or int(row.roi_j) not in pos:
            raise ValueError(f"sig_table names ROI pair ({row.roi_i}, {row.roi_j}) not in atlas")
        i, j = pos[int(row.roi_i)], pos[int(row.roi_j)]
        if weight == "effect":
            w = float(row.effect)
        else:
            w = float(neglog10(np.array([row.p]))[0]) if row.p > 0 else 300.0
        if abs(w) > abs(adj[i, j]):
            adj[i, j] = adj[j, i] = w
        survives = bool(row.fdr)
        fdr[i, j] = fdr[j, i] = fdr[i, j] or survives
        counts[:, [i, j]] += np.array([[1], [int(survives)]])
    return adj, fdr, counts[0], counts[1]


# --------------------------------------------------------------------------------------
# Hub bar chart
# --------------------------------------------------------------------------------------


def _hub_segments(hub_table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(label, raw column, FDR column)`` of the bar segments: one per dimension, else one."""
    dims = sorted(int(m.group(1)) for c in hub_table.columns
                  if (m := re.fullmatch(r"n_pairs_H(\d+)", c)))  # fmt: skip
    segments = [(f"H{q}", f"n_pairs_H{q}", f"n_pairs_fdr_H{q}") for q in dims]
    segments = segments or [("all dimensions", "n_pairs", "n_pairs_fdr")]
    need = {"label", "network", "n_pairs", "n_pairs_fdr"} | {c for s in segments for c in s[1:]}
    if not need <= set(hub_table.columns):
        raise ValueError(f"hub_table lacks columns {sorted(need - set(hub_table.columns))}")
    return segments


def _draw_hub_bars(ax, shown: pd.DataFrame, segments: list[tuple[str, str, str]]) -> list:
    """Stacked light bars (raw counts) with dark inner bars (FDR counts); legend handles.

    The raw segments are bar patches; the FDR segments of each dimension are one
    :class:`~matplotlib.collections.PolyCollection` with ``gid`` ``"fdr"``, drawn from
    the left end of the dimension's raw segment.
    """
    y = np.arange(len(shown))[::-1]
    left = np.zeros(len(shown))
    handles = []
    for k, (label, raw_col, fdr_col) in enumerate(segments):
        dark = np.array(to_rgb(_DIM_COLORS[k % len(_DIM_COLORS)]))
        light = 0.4 * dark + 0.6
        raw, fdr = shown[raw_col].to_numpy(float), shown[fdr_col].to_numpy(float)
        ax.barh(y, raw, left=left, height=0.8, color=light, edgecolor=dark, linewidth=0.5)
        boxes = [[(x0, yy - 0.22), (x0 + w, yy - 0.22), (x0 + w, yy + 0.22), (x0, yy + 0.22)]
                 for x0, w, yy in zip(left, fdr, y, strict=True) if w > 0]  # fmt: skip
        ax.add_collection(PolyCollection(boxes, facecolors=[dark], edgecolors="none",
                                         gid="fdr"))  # fmt: skip
        handles.append(Patch(facecolor=light, edgecolor=dark, label=label))
        left += raw
    return handles


def plot_hubs(
    hub_table: pd.DataFrame, path: str | Path, top: int = 20, title: str | None = None, *,
    alpha: float, fdr_level: float,
) -> Figure:
    """Bar chart of the ROIs in most significant pairs, with the pairs surviving FDR.

    Each ROI's bar is stacked by homology dimension: the light segment of a dimension is
    its number of pairs at raw ``p < alpha`` (``n_pairs_H<q>``), the dark inner bar
    drawn over it the number of those that survive FDR (``n_pairs_fdr_H<q>``). ROIs are
    shown in the table's order (by raw count). The title states both criteria and the
    totals (pair x dimension rows of the pairs table).

    Parameters
    ----------
    hub_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.hub_table` (sorted; ``n_pairs``,
        ``n_pairs_fdr`` and, per dimension, ``n_pairs_H<q>``, ``n_pairs_fdr_H<q>``).
    path : str or Path
        Output file.
    top : int
        Number of ROIs shown (those with at least one significant pair).
    title : str, optional
        First line of the title (the second states the criteria).
    alpha : float
        Raw level of the pairs counted (``statistics.alpha``; for the title).
    fdr_level : float
        Benjamini-Hochberg level of the FDR counts (``statistics.fdr_level``).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; an empty chart with a note when no ROI is in a significant pair.
    """
    if int(top) < 1:
        raise ValueError(f"top must be >= 1; got {top!r}")
    alpha, fdr_level = check_level(alpha), check_level(fdr_level, "fdr_level")
    segments = _hub_segments(hub_table)
    shown = hub_table[hub_table["n_pairs"] > 0].head(int(top))
    fig = Figure(figsize=(7.5, 0.28 * max(len(shown), 4) + 1.9), layout="constrained")
    ax = fig.subplots()
    if len(shown):
        handles = _draw_hub_bars(ax, shown, segments)
        handles += [Patch(color="0.8", label=f"light: raw p < {alpha:g}"),
                    Patch(color="0.3", label=f"dark: survives FDR (BH q < {fdr_level:g})")]
        ax.legend(handles=handles, fontsize=7, loc="lower right")
        names = [f"{lab} ({network_key(net)})"
                 for lab, net in zip(shown["label"], shown["network"], strict=True)]
        ax.set_yticks(np.arange(len(shown))[::-1], names, fontsize=7)
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no significant pairs", ha="center", va="center",
                transform=ax.transAxes, fontsize=10)  # fmt: skip
    ax.set_xlabel("number of significant ROI pairs the ROI takes part in "
                  "(light: raw; dark: surviving FDR)", fontsize=8)  # fmt: skip
    ax.tick_params(axis="x", labelsize=7)
    n_raw, n_fdr = (int(hub_table[c].sum()) // 2 for c in ("n_pairs", "n_pairs_fdr"))
    ax.set_title(f"{title or f'Hub ROIs (top {int(top)})'}\nraw p < {alpha:g}: {n_raw} pairs; "
                 f"{fdr_phrase(n_fdr, fdr_level)}", fontsize=10)  # fmt: skip
    save_figure(fig, path)
    return fig


# --------------------------------------------------------------------------------------
# Connectomes
# --------------------------------------------------------------------------------------


def _edge_scale(adj: np.ndarray, weight: str) -> tuple[str, float, float, str]:
    """Colour map, limits and unit of the edge colours of the glass brain."""
    if weight == "effect":
        return "RdBu_r", -1.0, 1.0, "rank-biserial effect (+: group a larger)"
    top = float(np.abs(adj).max()) if np.any(adj != 0) else 1.0
    return PVALUE_CMAP, 0.0, top, "$-\\log_{10}\\,p$"


def plot_connectome_glass(
    sig_table: pd.DataFrame,
    atlas: pd.DataFrame,
    path: str | Path,
    weight: str = "neglog10p",
    title: str | None = None,
    *,
    alpha: float,
    fdr_level: float,
) -> Figure:
    """Glass-brain view of the significant pairs (nilearn ``plot_connectome``).

    Nodes sit at the atlas MNI coordinates, coloured by network; the node size grows
    with the number of significant pairs of the ROI (hubs); ROIs in no significant pair
    are small and grey. Edges are the pairs of ``sig_table`` (raw ``p < alpha``),
    coloured by ``-log10 p`` or by the rank-biserial effect (a pair significant in
    several dimensions keeps its strongest value): **solid and thick** when the pair
    survives FDR in at least one dimension (``fdr`` column), **thin and dashed** when it
    is significant only by the raw criterion. The title counts both.

    Parameters
    ----------
    sig_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.significant_pairs_table` (with ``fdr``).
    atlas : pandas.DataFrame
        Atlas table.
    path : str or Path
        Output file.
    weight : {"neglog10p", "effect"}
        Edge colour.
    title : str, optional
        Start of the figure title.
    alpha : float
        Raw level of the pairs drawn (``statistics.alpha``; for the title).
    fdr_level : float
        Benjamini-Hochberg level of the ``fdr`` column (``statistics.fdr_level``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn import plotting

    alpha, fdr_level = check_level(alpha), check_level(fdr_level, "fdr_level")
    adj, fdr, counts, _ = _edge_weights(sig_table, atlas, weight)
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    colors = network_colors(atlas)
    nodes = {
        "node_color": [colors[net] if c else "0.7"
                       for net, c in zip(atlas["network"], counts, strict=True)],
        "node_size": np.where(counts > 0, 12.0 + 10.0 * np.sqrt(counts), 3.0),
        "node_kwargs": {"linewidths": 0},
    }  # fmt: skip
    cmap, vmin, vmax, unit = _edge_scale(adj, weight)
    edges = {"edge_cmap": cmap, "edge_vmin": vmin, "edge_vmax": vmax}
    fig = Figure(figsize=(12, 4.6))
    display = plotting.plot_connectome(
        np.where(fdr, 0.0, adj), coords, display_mode="lzry", figure=fig, colorbar=False,
        edge_kwargs={"linewidth": 0.8, "linestyle": (0, (3, 2)), "alpha": 0.7},
        **nodes, **edges,
    )  # fmt: skip
    display.add_graph(np.where(fdr, adj, 0.0), coords, colorbar=bool(np.any(adj != 0)),
                      edge_kwargs={"linewidth": 2.4, "zorder": 40}, **nodes, **edges)
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:  # nilearn puts the bar at the right edge: label it on the left
        cbar.set_label(unit, fontsize=8)
        cbar.ax.yaxis.set_label_position("left")
    fig.suptitle(
        f"{title or 'Significant ROI pairs'}: {count_pairs(adj != 0)} pairs at raw p < {alpha:g} "
        f"(ROI pairs, any dimension); {fdr_phrase(count_pairs(fdr), fdr_level)}\n"
        f"solid: survives FDR; dashed: raw only; edge colour {unit}; "
        "node size = number of pairs", fontsize=10,
    )  # fmt: skip
    _glass_legend(fig, atlas, counts, alpha, fdr_level)
    save_figure(fig, path)
    return fig


def _glass_legend(
    fig: Figure, atlas: pd.DataFrame, counts: np.ndarray, alpha: float, fdr_level: float
) -> None:
    """Legend of the glass brain: networks with a significant pair, grey nodes, edge styles."""
    colors = network_colors(atlas)
    present = [net for net in colors if (counts[atlas["network"].to_numpy() == net] > 0).any()]
    handles = [Patch(color=colors[n], label=n) for n in present]
    handles += [Patch(color="0.7", label="not in a significant pair"),
                Line2D([], [], color="0.2", linewidth=2.4,
                       label=f"survives FDR (BH q < {fdr_level:g})"),
                Line2D([], [], color="0.2", linewidth=0.8, linestyle=(0, (3, 2)),
                       label=f"raw p < {alpha:g} only")]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 5), fontsize=8,
               frameon=False)  # fmt: skip


def _status_cmap():
    """Edge colours of the HTML view: blues below 0 (raw only), -log10 p reds above (FDR)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    low = colormaps["Blues"](np.linspace(0.9, 0.35, 128))
    high = colormaps[PVALUE_CMAP](np.linspace(0.25, 1.0, 128))
    return ListedColormap(np.vstack([low, high]), name="raw_blue_fdr_red")


def write_connectome_html(
    sig_table: pd.DataFrame,
    atlas: pd.DataFrame,
    path: str | Path,
    weight: str = "neglog10p",
    title: str | None = None,
    *,
    alpha: float,
    fdr_level: float,
) -> str:
    """Interactive 3-D view of the significant pairs as one self-contained HTML file.

    Uses nilearn ``view_connectome``, which inlines its JavaScript (jQuery, plotly) and
    the fsaverage surface shipped with nilearn, so the page works offline. nilearn's
    template links a favicon on github.com; that link is removed, so opening the file
    makes no network request. Only ROIs in at least one significant pair are shown,
    labelled ``"<label> (<network>, <k> pairs, <m> FDR)"``; with no significant pair,
    all ROIs are shown without edges.

    The FDR status of each edge is its colour. With ``weight="neglog10p"`` an edge that
    survives FDR (in at least one dimension) is drawn in the -log10 p reds at
    ``+(-log10 p)``, an edge significant only by the raw criterion in blues at
    ``-(-log10 p)`` (the colour bar is symmetric; darker = smaller p either way). With
    ``weight="effect"`` the colour is the effect (-1..1) and the FDR status is in the
    node labels only. The title states both criteria and counts.

    Parameters
    ----------
    sig_table : pandas.DataFrame
        Output of :func:`tda_mci.stats.significant_pairs_table` (with ``fdr``).
    atlas : pandas.DataFrame
        Atlas table.
    path : str or Path
        Output ``.html`` file.
    weight : {"neglog10p", "effect"}
        Edge colour.
    title : str, optional
        Start of the page title.
    alpha : float
        Raw level of the pairs drawn (``statistics.alpha``; for the title).
    fdr_level : float
        Benjamini-Hochberg level of the ``fdr`` column (``statistics.fdr_level``).

    Returns
    -------
    str
        The HTML written.
    """
    from nilearn import plotting

    alpha, fdr_level = check_level(alpha), check_level(fdr_level, "fdr_level")
    adj, fdr, counts, counts_fdr = _edge_weights(sig_table, atlas, weight)
    keep = np.flatnonzero(counts > 0)
    if not keep.size:
        keep = np.arange(len(atlas))
    labels = [f"{lab} ({network_key(net)}, {int(c)} pairs, {int(f)} FDR)"
              for lab, net, c, f in zip(atlas["label"], atlas["network"], counts, counts_fdr,
                                        strict=True)]  # fmt: skip
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    if weight == "effect":
        values, cmap, key = adj, "RdBu_r", "edge colour: effect"
    else:
        values, cmap = np.where(fdr, adj, -adj), _status_cmap()
        key = "edge colour: red = survives FDR, blue = raw only (shade: -log10 p)"
    head = (f"{title or 'Significant ROI pairs'}: {count_pairs(adj != 0)} pairs at raw "
            f"p < {alpha:g}, {fdr_phrase(count_pairs(fdr), fdr_level)}; {key}")  # fmt: skip
    view = plotting.view_connectome(
        values[np.ix_(keep, keep)], coords[keep], edge_cmap=cmap, symmetric_cmap=True,
        linewidth=4.0, node_size=4.0, colorbar=bool(np.any(adj != 0)), colorbar_fontsize=12,
        title=head, title_fontsize=12, node_labels=[labels[k] for k in keep],
    )  # fmt: skip
    html = view.get_standalone()
    html = re.sub(r"<link\s+rel=\"icon\"[^>]*>", "", html, flags=re.S)
    atomic_write(path, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"), suffix=".html")
    return html
