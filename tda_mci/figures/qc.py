"""Quality-control figures: the carpet plot of one subject and the cohort QC strip plots.

Conventions: carpet plots show each ROI series z-scored over time (rows = ROIs grouped by
network in :func:`tda_mci.atlas.networks` order, atlas order within a network; columns =
kept volumes). QC figures are written at :data:`QC_DPI` (120) dpi, the other figures of
the pipeline at 150.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tda_mci.atlas import networks
from tda_mci.figures._base import save_figure

#: Resolution of the QC figures.
QC_DPI = 120


def carpet_plot(
    data: np.ndarray,
    atlas: pd.DataFrame,
    path: str | Path,
    *,
    title: str = "",
    t_r: float | None = None,
) -> None:
    """Draw a carpet plot of one subject's ROI series and write it atomically.

    Top panel: the mean over ROIs of the z-scored series and its root-mean-square
    frame-to-frame change (a DVARS-like trace). Bottom: every ROI series z-scored over
    time (colour range -3..3), rows grouped by network (:func:`tda_mci.atlas.networks`
    order, atlas order within a network) with the network keys at the left.

    Parameters
    ----------
    data : numpy.ndarray, shape (T, R)
        ROI series, columns in atlas order.
    atlas : pandas.DataFrame
        The atlas the columns follow.
    path : str or Path
        Output figure (``.png``, ``.pdf`` or ``.svg``).
    title : str
        Figure title.
    t_r : float, optional
        Repetition time; the time axis is in seconds when given, else in volumes.

    Raises
    ------
    ValueError
        When the column count differs from the atlas or the data are not finite.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(atlas):
        raise ValueError(f"data of shape {x.shape}; expected (T, {len(atlas)}) for the atlas")
    if not np.isfinite(x).all():
        raise ValueError("data hold NaN or Inf")
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    nets = networks(atlas)
    order = np.concatenate(list(nets.values()))
    carpet = z[:, order].T
    n_t = x.shape[0]
    scale = float(t_r) if t_r else 1.0
    extent = (0.0, n_t * scale, len(order), 0.0)

    fig = Figure(figsize=(8.0, 5.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 3]})
    t = (np.arange(n_t) + 0.5) * scale
    top.plot(t, z.mean(axis=1), lw=1.0, color="#1f77b4", label="mean z")
    dv = np.r_[np.nan, np.sqrt(np.mean(np.diff(z, axis=0) ** 2, axis=1))]
    top.plot(t, dv, lw=1.0, color="#d62728", label="RMS change")
    top.legend(loc="upper right", fontsize=7, frameon=False)
    top.set_ylabel("z", fontsize=8)
    top.tick_params(labelsize=7)
    im = bottom.imshow(carpet, aspect="auto", cmap="gray", vmin=-3, vmax=3,
                       interpolation="nearest", extent=extent)
    start = 0
    ticks, labels = [], []
    for key, idx in nets.items():
        ticks.append(start + len(idx) / 2)
        labels.append(key)
        start += len(idx)
        if start < len(order):
            bottom.axhline(start, color="#ff7f0e", lw=0.8)
    bottom.set_yticks(ticks, labels, fontsize=7)
    bottom.set_xlabel("time (s)" if t_r else "volume", fontsize=8)
    bottom.tick_params(axis="x", labelsize=7)
    cbar = fig.colorbar(im, ax=[top, bottom], fraction=0.03, pad=0.02)
    cbar.set_label("z-scored ROI signal", fontsize=7)
    cbar.ax.tick_params(labelsize=7)
    fig.suptitle(title or f"{len(order)} ROIs x {n_t} volumes", fontsize=9)
    save_figure(fig, path, dpi=QC_DPI)


def plot_cohort_qc(table: pd.DataFrame, path: str | Path) -> None:
    """Per-group strip plots of volumes kept and median temporal SNR; writes ``path``.

    Three panels: volumes kept, median tSNR and the fewest voxels in an ROI sphere, one
    column of points per group (groups sorted by name, points jittered sideways).
    Excluded participants are counted in the title; subjects without a value (e.g. no
    tSNR for imported series) are left out of that panel.

    Parameters
    ----------
    table : pandas.DataFrame
        The cohort QC table of :func:`tda_mci.inputs.qc.cohort_qc_table` (columns
        ``group``, ``status``, ``volumes_kept``, ``median_tsnr`` and
        ``min_voxels_per_sphere`` are read).
    path : str or Path
        Output figure (``.png``, ``.pdf`` or ``.svg``).
    """
    inc = table[table["status"] == "included"]
    groups = sorted(inc["group"].unique())
    fig = Figure(figsize=(8.0, 3.2))
    axes = fig.subplots(1, 3)
    for ax, col, name in zip(
        axes,
        ("volumes_kept", "median_tsnr", "min_voxels_per_sphere"),
        ("volumes kept", "median tSNR", "fewest voxels in a sphere"),
        strict=True,
    ):
        for i, g in enumerate(groups):
            vals = pd.to_numeric(inc.loc[inc["group"] == g, col], errors="coerce").dropna()
            jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(len(vals))
            ax.plot(i + jitter, vals.to_numpy(), "o", ms=3, alpha=0.7)
        ax.set_xticks(range(len(groups)), groups, fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    n_exc = int((table["status"] == "excluded").sum())
    fig.suptitle(f"{len(inc)} included, {n_exc} excluded", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=QC_DPI)
