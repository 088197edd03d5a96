"""Persistence diagrams of one ROI, pooled over the subjects of each group.

Conventions: ``H<q>`` is homology dimension ``q``; bars are finite ``(birth, death)``
pairs; written at 150 dpi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tda_mci.figures._base import save_figure


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
    save_figure(fig, path)
    return fig
