"""Figures of the classification: accuracy heatmap, CNN learning curves, permutation null.

Conventions: scores are on [0, 1] with chance (0.5) marked; written at 150 dpi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tda_mci.figures._base import save_figure


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
    save_figure(fig, path)
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
    save_figure(fig, path)
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
    save_figure(fig, path)
    return fig
