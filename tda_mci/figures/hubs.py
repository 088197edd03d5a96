"""Hub ROIs and connectomes: bar chart of hubs, glass-brain and interactive 3-D views.

The inputs are the significant-pairs and hub tables of :mod:`tda_mci.stats.tables`.
Conventions: nodes sit at the atlas MNI coordinates and are coloured by network
(:data:`tda_mci.figures._base.NETWORK_COLORS`, in atlas network order); edges are
coloured by ``-log10 p`` (scale from 0) or by the rank-biserial effect (-1..1);
raster figures are written at 150 dpi.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tda_mci.atlas import network_key
from tda_mci.figures._base import PVALUE_CMAP, neglog10, network_colors, save_figure
from tda_mci.io import atomic_write

#: Edge weights of the connectome views.
_WEIGHTS = ("neglog10p", "effect")


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
            w = float(neglog10(np.array([row.p]))[0]) if row.p > 0 else 300.0
        if abs(w) > abs(adj[i, j]):
            adj[i, j] = adj[j, i] = w
        counts[i] += 1
        counts[j] += 1
    return adj, counts


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
    save_figure(fig, path)
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
    colors = network_colors(atlas)
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
    save_figure(fig, path)
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

