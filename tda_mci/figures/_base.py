"""Shared parts of the figures: resolution, colours, the atomic writer and layout helpers.

Conventions: -log10 p colour scales start at 0 and are shared by all panels of a figure
(:func:`shared_vmax`); a p of exactly 0 (underflow) is drawn at the top of the scale,
not as infinity (:func:`neglog10`); NaN cells are grey. ROI pairs that survive FDR
(Benjamini-Hochberg, ``p_bh < fdr_level``) are marked by an open black ring
(:func:`mark_fdr_cells`, :func:`fdr_legend_handle`) and counted in the words of
:func:`fdr_phrase`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tda_mci.io import atomic_write

#: Resolution of raster figures (the QC figures use their own, see :mod:`tda_mci.figures.qc`).
DPI = 150
#: Colour map of -log10 p (light = large p, dark red = small p); NaN cells grey.
PVALUE_CMAP = "YlOrRd"
#: Colour of significant cells in masks.
SIGNIFICANT_COLOR = "#b2182b"
#: Colours of the networks, in :func:`tda_mci.atlas.networks` order (cycled).
NETWORK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")  # fmt: skip


def save_figure(fig: Figure, path: str | Path, dpi: float = DPI) -> None:
    """Write ``fig`` atomically; the format follows the extension.

    The figure is saved to a temporary file in the destination folder and renamed into
    place, so a killed job never leaves a half-written figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        Output file, ending in ``.png``, ``.pdf`` or ``.svg``.
    dpi : float
        Resolution of raster output.

    Raises
    ------
    ValueError
        When ``path`` has another extension (nothing is written).
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"figure path {str(path)!r} must end in .png, .pdf or .svg")
    atomic_write(
        path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi), suffix=f".{fmt}"
    )


def neglog10(p: np.ndarray) -> np.ndarray:
    """Return ``-log10 p``; p = 0 (underflow) maps to the largest finite value, NaN stays NaN.

    Parameters
    ----------
    p : array_like
        p-values.

    Returns
    -------
    numpy.ndarray
        Float array of the shape of ``p``.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log10(p)
    # p = 0 can only come from underflow; show it at the top of the scale, not as inf.
    finite_max = np.nanmax(np.where(np.isfinite(out), out, np.nan)) if np.isfinite(out).any() else 0
    return np.where(np.isposinf(out), finite_max, out)


def pvalue_cmap():
    """Return the -log10 p colour map (:data:`PVALUE_CMAP`) with NaN cells grey."""
    from matplotlib import colormaps

    return colormaps[PVALUE_CMAP].with_extremes(bad="0.8")


def shared_vmax(values: Sequence[np.ndarray], alpha: float) -> float:
    """Top of a shared -log10 p scale: the largest value, at least 1 above the threshold.

    Parameters
    ----------
    values : sequence of numpy.ndarray
        The -log10 p arrays of all panels (NaN allowed).
    alpha : float
        Significance threshold.

    Returns
    -------
    float
        ``max(max of values, -log10 alpha + 1)``.
    """
    top = [np.nanmax(v) for v in values if np.isfinite(v).any()]
    return float(max([*top, -np.log10(alpha) + 1.0]))


def panel_grid(
    fig: Figure, n_rows: int, n_cols: int, side: float, left: float, gap_x: float,
    top: float, gap_y: float,
) -> np.ndarray:
    """Square panels of ``side`` inches at fixed margins (inches); returns (rows, cols) axes.

    A fixed layout instead of constrained layout: with hundreds of tick labels the
    layout solver costs seconds per figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (its size is already set).
    n_rows, n_cols : int
        Grid shape.
    side : float
        Side of each panel.
    left, top : float
        Margins at the left and top of the figure.
    gap_x, gap_y : float
        Space between columns and between rows.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (n_rows, n_cols)
    """  # fmt: skip
    w, h = fig.get_size_inches()
    axes = np.empty((n_rows, n_cols), dtype=object)
    for r in range(n_rows):
        for c in range(n_cols):
            x0 = left + c * (side + gap_x)
            y0 = h - top - side - r * (side + gap_y)
            axes[r, c] = fig.add_axes((x0 / w, y0 / h, side / w, side / h))
    return axes


def colorbar_axes(fig: Figure, ref, width: float = 0.14, pad: float = 0.15):
    """Add an axes for a colour bar right of the axes ``ref`` (same height; sizes in inches)."""
    w, h = fig.get_size_inches()
    box = ref.get_position()
    return fig.add_axes((box.x1 + pad / w, box.y0, width / w, box.height))


def tick_fontsize(n: int) -> float:
    """Font size of the tick labels of an ``n`` x ``n`` matrix panel."""
    return 6.0 if n <= 20 else 5.0 if n <= 28 else 4.2


def network_colors(atlas: pd.DataFrame) -> dict[str, str]:
    """Colour of each network of ``atlas``, in order of first appearance in the atlas."""
    names = list(dict.fromkeys(atlas["network"].astype(str)))
    return {name: NETWORK_COLORS[k % len(NETWORK_COLORS)] for k, name in enumerate(names)}


def count_pairs(mask: np.ndarray) -> int:
    """Count the ROI pairs (strict upper triangle) of a mirrored boolean (n, n) matrix."""
    return int(np.count_nonzero(np.triu(np.asarray(mask, dtype=bool), 1)))


def fdr_phrase(n_pairs: int, fdr_level: float) -> str:
    """Say how many pairs survive FDR: ``"3 pairs survive FDR (BH q < 0.05)"``.

    Parameters
    ----------
    n_pairs : int
        Number of pairs with ``p_bh < fdr_level``.
    fdr_level : float
        Benjamini-Hochberg level ``q``.

    Returns
    -------
    str
        The phrase (``"1 pair survives ..."`` for one pair).
    """
    verb = "pair survives" if int(n_pairs) == 1 else "pairs survive"
    return f"{int(n_pairs)} {verb} FDR (BH q < {fdr_level:g})"


def mark_fdr_cells(ax, mask: np.ndarray, cell_pt: float):
    """Draw an open black ring on every true cell of a matrix panel.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Panel showing a matrix with ``imshow`` (row ``i`` at y = i, column ``j`` at x = j).
    mask : numpy.ndarray of bool, shape (n, n)
        Cells to mark (pairs surviving FDR, both triangles).
    cell_pt : float
        Side of one cell in points; the ring's diameter is about half of it.

    Returns
    -------
    matplotlib.collections.PathCollection
        The rings, with ``gid`` ``"fdr"`` (one offset per marked cell; none when the
        mask is empty).
    """
    ii, jj = np.nonzero(np.asarray(mask, dtype=bool))
    diameter = max(0.5 * cell_pt, 2.5)
    return ax.scatter(jj, ii, s=diameter**2, facecolors="none", edgecolors="black",
                      linewidths=min(0.8, 0.15 * diameter), gid="fdr", zorder=3)  # fmt: skip


def fdr_legend_handle(fdr_level: float, label: str | None = None) -> Line2D:
    """Legend entry of the FDR ring: ``"survives FDR (BH q < <level>)"`` unless ``label``."""
    return Line2D([], [], linestyle="none", marker="o", markersize=6, markerfacecolor="none",
                  markeredgecolor="black",
                  label=label or f"survives FDR (BH q < {fdr_level:g})")  # fmt: skip
