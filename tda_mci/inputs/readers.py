"""Reading a subject's input tables at job time, and checking ROI series against the atlas.

Series tables, network CSVs and confounds are read here; :func:`validate_timeseries`
checks a precomputed T x R table against the atlas (header, length, values). Each
reader checks what it reads and raises :class:`tda_mci.validation.SubjectDataError`
naming the subject, the file and the reason (unreadable, non-numeric, wrong shape ...).
The layouts are those of the input kinds described in :mod:`tda_mci.inputs.sources`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tda_mci.paths import bids_join, parse_bids_name
from tda_mci.validation import SubjectDataError, constant_columns, first_nonfinite

#: nilearn denoising strategies for fMRIPrep confounds, plus ``"none"``.
DENOISE_STRATEGIES = ("simple", "scrubbing", "compcor", "ica_aroma", "none")

#: Entities of a preprocessed image that its confounds file does not carry.
_NOT_IN_CONFOUNDS = ("space", "res", "den", "cohort", "desc")

#: Makes the error about one subject's file from a reason:
#: ``functools.partial(SubjectDataError, subject, file)``.
Fail = Callable[[str], SubjectDataError]


def roi_names(atlas: pd.DataFrame, cols: Sequence[int]) -> str:
    """Name the atlas rows ``cols`` as ``"<roi> (<label>), ..."`` (ten, then a count)."""
    shown = [f"{int(atlas['roi'].iloc[c])} ({atlas['label'].iloc[c]})" for c in cols[:10]]
    more = f" and {len(cols) - 10} more" if len(cols) > 10 else ""
    return ", ".join(shown) + more


def check_not_constant(
    x: np.ndarray, atlas: pd.DataFrame, fail: Fail, zero_note: str = ""
) -> None:
    """Raise for all-zero ROI series, then for constant ones.

    Parameters
    ----------
    x : numpy.ndarray, shape (T, R)
        Finite ROI series, columns in atlas order.
    atlas : pandas.DataFrame
        The atlas, to name the ROIs.
    fail : callable
        Makes the :class:`~tda_mci.validation.SubjectDataError` from a reason.
    zero_note : str
        Added to the reason for all-zero series (why they may be so).
    """
    zero, const = constant_columns(x)
    if len(zero):
        raise fail(f"{len(zero)} ROI series are all zero{zero_note}: {roi_names(atlas, zero)}")
    if len(const):
        raise fail(f"{len(const)} ROI series are constant: {roi_names(atlas, const)}")


def confounds_files(bold: str | Path) -> list[Path]:
    """List the fMRIPrep confounds files that may stand beside a preprocessed image.

    ``..._desc-confounds_timeseries.tsv``, then the older name
    ``..._desc-confounds_regressors.tsv``: the image's entities without ``space``,
    ``res``, ``den``, ``cohort`` and ``desc``.
    """
    bold = Path(bold)
    entities, _, _ = parse_bids_name(bold.name)
    base = {k: v for k, v in entities.items() if k not in _NOT_IN_CONFOUNDS}
    return [
        bold.with_name(bids_join({**base, "desc": "confounds"}, suffix, ".tsv"))
        for suffix in ("timeseries", "regressors")
    ]


def _read_table(path: str | Path, subject: str, header: bool) -> pd.DataFrame:
    """Read a TSV (a CSV by its extension); SubjectDataError when it cannot be read."""
    sep = "," if str(path).lower().endswith(".csv") else "\t"
    try:
        table = pd.read_csv(path, sep=sep, header=0 if header else None)
    except FileNotFoundError:
        raise SubjectDataError(subject, path, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SubjectDataError(subject, path, f"unreadable table ({err})") from err
    _check_row_lengths(path, sep, subject)
    return table


def _check_row_lengths(path: str | Path, sep: str, subject: str) -> None:
    """Raise when a line has fewer fields than the first (pandas would fill NaN)."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    width = lines[0].count(sep) + 1
    for number, line in enumerate(lines[1:], start=2):
        fields = line.count(sep) + 1
        if fields != width:
            raise SubjectDataError(subject, path, f"line {number} has {fields} fields where "
                                   f"the first line has {width} (a ragged or cut row)")


def _numeric(table: pd.DataFrame, subject: str, path: Any) -> np.ndarray:
    """Return a table's values as float64; SubjectDataError when they are not numeric."""
    try:
        return table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise SubjectDataError(subject, path, f"values are not numeric ({err})") from err


def read_series_table(path: str | Path, subject: str) -> tuple[np.ndarray, list[str], float | None]:
    """Read a precomputed T x R time-series table and its sidecar's repetition time.

    Parameters
    ----------
    path : str or Path
        ``.tsv`` (tab-separated) or ``.csv`` (comma-separated) with one header row of ROI
        numbers and one row per volume.
    subject : str
        Subject label, for error messages.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
    header : list of str
        Column names as written (checked against the atlas by
        :func:`tda_mci.inputs.extract.validate_timeseries`).
    repetition_time : float or None
        ``RepetitionTime`` from a JSON file of the same stem beside the table, if any.

    Raises
    ------
    SubjectDataError
        Unreadable file, non-numeric values, or an unreadable sidecar.
    """
    table = _read_table(path, subject, header=True)
    data = _numeric(table, subject, path)
    sidecar = Path(path).with_suffix(".json")
    tr = None
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise SubjectDataError(subject, sidecar, f"unreadable JSON sidecar ({err})") from err
        if isinstance(meta, dict) and meta.get("RepetitionTime") is not None:
            try:
                tr = float(meta["RepetitionTime"])
            except (TypeError, ValueError):
                raise SubjectDataError(
                    subject, sidecar, f"RepetitionTime = {meta['RepetitionTime']!r} is not a number"
                ) from None
    return data, [str(c) for c in table.columns], tr


def read_network_csvs(
    files: Sequence[str | Path], atlas: pd.DataFrame, subject: str
) -> tuple[np.ndarray, list[int]]:
    """Assemble a T x R table from the paper's layout: one CSV per network, rows = ROIs.

    Parameters
    ----------
    files : sequence of str or Path
        One CSV per network, in the order of :func:`tda_mci.atlas.networks` (sorted
        network keys). Each has no header, one row per ROI of the network in atlas order
        and one column per volume (as the released code reads them with
        ``pandas.read_csv(header=None)``).
    atlas : pandas.DataFrame
        From :func:`tda_mci.atlas.load_atlas`.
    subject : str
        Subject label, for error messages.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
        Columns in atlas order.
    rois : list of int
        The atlas's ROI numbers.

    Raises
    ------
    SubjectDataError
        Unreadable or non-numeric file, a row count other than the network's ROI count,
        or networks of different lengths.
    """
    from tda_mci.atlas import networks

    nets = networks(atlas)
    if len(files) != len(nets):
        raise ValueError(f"{len(files)} network files for {len(nets)} networks {list(nets)}")
    out = np.full((0, len(atlas)), np.nan)
    length = None
    for (key, idx), path in zip(nets.items(), files, strict=True):
        block = _numeric(_read_table(path, subject, header=False), subject, path)
        if block.shape[0] != len(idx):
            raise SubjectDataError(
                subject, path,
                f"{block.shape[0]} rows but network {key} has {len(idx)} ROIs in the atlas "
                "(expected one row per ROI, one column per volume, no header)",
            )
        if length is None:
            length = block.shape[1]
            out = np.full((length, len(atlas)), np.nan)
        elif block.shape[1] != length:
            raise SubjectDataError(
                subject, path,
                f"{block.shape[1]} volumes (columns) but the {list(nets)[0]} file has {length}",
            )
        out[:, idx] = block.T
    return out, [int(r) for r in atlas["roi"]]


def read_confounds_table(path: str | Path, subject: str) -> pd.DataFrame:
    """Read a plain confounds TSV (``nifti`` inputs): a header, one row per volume.

    Raises
    ------
    SubjectDataError
        Unreadable file, non-numeric values, or NaN/Inf (the message names the columns).
    """
    table = _read_table(path, subject, header=True)
    values = _numeric(table, subject, path)
    bad = ~np.isfinite(values).all(axis=0)
    if bad.any():
        raise SubjectDataError(
            subject, path, f"confounds hold NaN or Inf in column(s) {list(table.columns[bad])}"
        )
    return pd.DataFrame(values, columns=[str(c) for c in table.columns])


def load_fmriprep_confounds(
    bold: str | Path, strategy: str, subject: str
) -> tuple[pd.DataFrame | None, np.ndarray | None, dict[str, Any]]:
    """Confounds and sample mask of an fMRIPrep image through nilearn.

    Calls :func:`nilearn.interfaces.fmriprep.load_confounds_strategy` with
    ``denoise_strategy=strategy``, which finds the confounds file beside the image.

    Parameters
    ----------
    bold : str or Path
        The preprocessed image (fMRIPrep name).
    strategy : {'simple', 'scrubbing', 'compcor', 'ica_aroma', 'none'}
        nilearn's preset; ``'none'`` returns no confounds and no sample mask.
    subject : str
        Subject label, for error messages.

    Returns
    -------
    confounds : pandas.DataFrame or None
        One row per volume of the image.
    sample_mask : numpy.ndarray of int or None
        Indices of the volumes kept (non-steady-state and, for ``scrubbing``, high-motion
        volumes removed); ``None`` keeps all.
    info : dict
        ``DenoiseStrategy``, ``ConfoundColumns`` and ``MeanFramewiseDisplacement``
        (from the confounds file when it has ``framewise_displacement``, else ``None``).

    Raises
    ------
    ValueError
        For an unknown strategy.
    SubjectDataError
        When nilearn cannot find or use the confounds.
    """
    if strategy not in DENOISE_STRATEGIES:
        raise ValueError(f"denoise strategy {strategy!r}; expected one of {DENOISE_STRATEGIES}")
    info: dict[str, Any] = {"DenoiseStrategy": strategy, "ConfoundColumns": [],
                            "MeanFramewiseDisplacement": None}
    if strategy == "none":
        return None, None, info
    import warnings

    from nilearn.interfaces.fmriprep import load_confounds_strategy

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            confounds, sample_mask = load_confounds_strategy(str(bold), denoise_strategy=strategy)
    except (ValueError, KeyError, OSError, pd.errors.ParserError) as err:
        raise SubjectDataError(
            subject, bold, f"cannot load fMRIPrep confounds ({strategy}): {err}"
        ) from err
    info["ConfoundColumns"] = [str(c) for c in confounds.columns]
    raw = confounds_files(bold)[0]
    if raw.is_file():
        fd = pd.read_csv(raw, sep="\t", usecols=lambda c: c == "framewise_displacement")
        if "framewise_displacement" in fd:
            info["MeanFramewiseDisplacement"] = float(np.nanmean(fd["framewise_displacement"]))
    if sample_mask is not None:
        sample_mask = np.asarray(sample_mask, dtype=np.int64)
    return confounds, sample_mask, info


def _header_order(
    rois: Sequence[int], n_columns: int, expected: list[int], fail: Fail
) -> list[int] | None:
    """Check a table's header of ROI numbers against the atlas's.

    Returns the column of each atlas ROI, or ``None`` when the header is already in atlas
    order; raises for non-integers, a wrong length, duplicates, missing or unknown ROIs.
    """
    try:
        header = [int(r) for r in rois]
    except (TypeError, ValueError) as err:
        raise fail(f"header must hold integer ROI numbers ({err})") from err
    if len(header) != n_columns:
        raise fail(f"{len(header)} header entries for {n_columns} columns")
    dup = sorted({r for r in header if header.count(r) > 1})
    if dup:
        raise fail(f"duplicated ROI numbers in the header: {dup}")
    missing = sorted(set(expected) - set(header))
    unknown = sorted(set(header) - set(expected))
    if missing or unknown:
        raise fail(
            f"header does not match the atlas ({len(expected)} ROIs): missing "
            f"{missing[:20]}{' ...' if len(missing) > 20 else ''}, unknown "
            f"{unknown[:20]}{' ...' if len(unknown) > 20 else ''}"
        )
    if header == expected:
        return None
    pos = {r: j for j, r in enumerate(header)}
    return [pos[r] for r in expected]


def validate_timeseries(
    data: np.ndarray,
    rois: Sequence[int],
    atlas: pd.DataFrame,
    *,
    subject: str | None,
    path: Any,
    min_volumes: int = 20,
) -> tuple[np.ndarray, list[int]]:
    """Check a precomputed T x R time-series table against the atlas.

    Parameters
    ----------
    data : array-like, shape (T, R)
        One row per volume, one column per ROI.
    rois : sequence of int
        ROI numbers of the columns (the table's header).
    atlas : pandas.DataFrame
        Table from :func:`tda_mci.atlas.load_atlas`.
    subject : str or None
        Subject id for error messages.
    path : str or Path
        Source file for error messages.
    min_volumes : int
        Fewest rows accepted.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
        The series with columns in atlas order. A header that is a permutation of the
        atlas's ROI numbers is accepted and its columns are reordered to atlas order.
    rois : list of int
        The atlas's ROI numbers (the new header).

    Raises
    ------
    SubjectDataError
        Naming subject, file and reason, for a header with duplicated, missing or
        unknown ROI numbers, a shape that does not match the header, fewer than
        ``min_volumes`` rows, NaN/Inf values, or all-zero or constant columns.
    """
    fail = partial(SubjectDataError, subject, path)
    try:
        x = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise fail(f"time series are not numeric ({err})") from err
    if x.ndim != 2:
        raise fail(f"time series must be a 2D table; got shape {x.shape}")
    expected = [int(r) for r in atlas["roi"]]
    order = _header_order(rois, x.shape[1], expected, fail)
    if order is not None:
        x = x[:, order]
    if x.shape[0] < int(min_volumes):
        raise fail(f"{x.shape[0]} volumes (rows); need at least {min_volumes}")
    first = first_nonfinite(x)
    if first is not None:
        count = np.count_nonzero(~np.isfinite(x))
        raise fail(f"{count} NaN or Inf values (first at row {first[0]}, ROI {expected[first[1]]})")
    check_not_constant(x, atlas, fail)
    return x, expected
