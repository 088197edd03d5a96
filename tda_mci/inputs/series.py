"""One subject's checked ROI time series, from any input kind.

Images (demo, fMRIPrep, NIfTI pattern) are extracted with
:func:`tda_mci.inputs.extract.extract_timeseries`; precomputed tables (one per subject,
or the authors' one CSV per network) are read with :mod:`tda_mci.inputs.readers` and
checked against the atlas with :func:`tda_mci.inputs.readers.validate_timeseries`.
Every problem raises :class:`tda_mci.validation.SubjectDataError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tda_mci.inputs.extract import extract_timeseries
from tda_mci.inputs.readers import (
    load_fmriprep_confounds,
    read_confounds_table,
    read_network_csvs,
    read_series_table,
    roi_names,
    validate_timeseries,
)
from tda_mci.inputs.sources import INPUT_KINDS
from tda_mci.topology.windows import min_series_length
from tda_mci.validation import SubjectDataError, tr_mismatch

#: Input kinds whose files are 4D images (``demo`` images are read as ``nifti``).
_IMAGE_KINDS = ("fmriprep", "nifti", "demo")

#: Input kinds whose files are precomputed ROI series.
_TABLE_KINDS = ("timeseries", "network_csv")


def _image_confounds(
    kind: str, sources: Mapping[str, Any], denoise_strategy: str, subject: str
) -> tuple[Any, Any, dict[str, Any]]:
    """Return the confounds, sample mask and their sidecar entries of an image input.

    fMRIPrep confounds come through nilearn's ``denoise_strategy`` preset; other images
    use the plain confounds table of ``sources["confounds"]``, if any.
    """
    if kind == "fmriprep":
        return load_fmriprep_confounds(str(sources["bold"]), denoise_strategy, subject)
    if sources.get("confounds"):
        confounds = read_confounds_table(sources["confounds"], subject)
        info = {
            "ConfoundColumns": list(confounds.columns),
            "ConfoundsFile": str(sources["confounds"]),
        }
        return confounds, None, info
    return None, None, {}


def _image_series(
    kind: str,
    sources: Mapping[str, Any],
    atlas: pd.DataFrame,
    *,
    subject: str,
    denoise_strategy: str,
    **extract_kwargs: Any,
) -> tuple[np.ndarray, dict[str, Any], str]:
    """Extract an image input's series; return them, the sidecar and the image path.

    ``extract_kwargs`` go to :func:`~tda_mci.inputs.extract.extract_timeseries` (checks
    and cleaning settings).
    """
    bold = str(sources["bold"])
    confounds, sample_mask, info = _image_confounds(kind, sources, denoise_strategy, subject)
    data, sidecar = extract_timeseries(
        bold, atlas, confounds=confounds, sample_mask=sample_mask,
        mask_img=sources.get("mask"), subject=subject, **extract_kwargs,
    )
    sidecar.update(info)
    return data, sidecar, bold


def _read_series_file(
    path: str, subject: str, t_r: float, tr_tolerance: float
) -> tuple[np.ndarray, list[str], float | None]:
    """Read a time-series table; the TR in its JSON sidecar, if any, must equal ``t_r``."""
    raw, header, file_tr = read_series_table(path, subject)
    mismatch = tr_mismatch(file_tr, t_r, tr_tolerance)
    if mismatch:
        raise SubjectDataError(subject, Path(path).with_suffix(".json"), mismatch)
    return raw, header, file_tr


#: Import scalings: ``import_standardize`` values and what nilearn's ``signal.clean`` gets.
IMPORT_STANDARDIZE = {"none": None, "zscore_sample": "zscore_sample"}


def scale_imported(
    data: np.ndarray,
    atlas: pd.DataFrame,
    *,
    standardize: str,
    detrend: bool,
    subject: str,
    path: Any,
) -> np.ndarray:
    """Detrend and/or standardise imported ROI series, as the masker cleans image series.

    Parameters
    ----------
    data : numpy.ndarray, shape (T, R)
        Checked series (:func:`tda_mci.inputs.readers.validate_timeseries`), atlas order.
    atlas : pandas.DataFrame
        The atlas of the columns (names ROIs in errors).
    standardize : {"none", "zscore_sample"}
        ``inputs.import_standardize``: ``zscore_sample`` gives each column mean 0 and
        sample SD 1 (ddof 1); ``none`` leaves the scale alone.
    detrend : bool
        ``inputs.import_detrend``: remove each column's least-squares linear trend
        first.
    subject : str
        Subject label, for errors.
    path : str or Path
        The imported file, for errors.

    Returns
    -------
    numpy.ndarray, shape (T, R), float64
        ``data`` itself when nothing is asked for; else ``nilearn.signal.clean(data,
        detrend=detrend, standardize=...)``.

    Raises
    ------
    SubjectDataError
        When detrending leaves a column constant (a pure linear trend), which
        standardising would blow up to unit variance; the message names the ROIs.
    ValueError
        For an unknown ``standardize``.
    """
    if standardize not in IMPORT_STANDARDIZE:
        raise ValueError(f"import standardize = {standardize!r}; expected one of "
                         f"{list(IMPORT_STANDARDIZE)}")
    if standardize == "none" and not detrend:
        return data
    from nilearn import signal

    if detrend:
        flat = signal.clean(data, detrend=True, standardize=None)
        collapsed = np.flatnonzero(flat.std(axis=0) <= 1e-8 * data.std(axis=0))
        if collapsed.size:
            raise SubjectDataError(
                subject, path, f"{collapsed.size} ROI series are constant after detrending: "
                f"{roi_names(atlas, collapsed)}")
    out = signal.clean(data, detrend=detrend, standardize=IMPORT_STANDARDIZE[standardize])
    return np.asarray(out, dtype=np.float64)


def _table_series(
    kind: str,
    sources: Mapping[str, Any],
    atlas: pd.DataFrame,
    *,
    subject: str,
    t_r: float,
    min_volumes: int,
    tr_tolerance: float,
    scaling: Mapping[str, Any],
) -> tuple[np.ndarray, dict[str, Any], str]:
    """Import a table input's series; return them, the sidecar and the (first) file."""
    if kind == "timeseries":
        source = where = str(sources["timeseries"])
        raw, header, file_tr = _read_series_file(source, subject, t_r, tr_tolerance)
    else:
        source = [str(p) for p in sources["network_csv"]]
        where, file_tr = source[0], None
        raw, header = read_network_csvs(source, atlas, subject)
    data, rois = validate_timeseries(
        raw, header, atlas, subject=subject, path=where, min_volumes=min_volumes
    )
    scaling = {"standardize": scaling.get("standardize", "none"),
               "detrend": bool(scaling.get("detrend", False))}
    data = scale_imported(data, atlas, subject=subject, path=where, **scaling)
    sidecar = {
        "Subject": subject,
        "Source": source,
        "RepetitionTime": float(t_r),
        "SourceRepetitionTime": file_tr,
        "NumberOfVolumes": int(data.shape[0]),
        "ROIs": rois,
        "Imported": True,
        "ImportScaling": scaling,
    }
    return data, sidecar, where


def load_subject_series(
    kind: str,
    sources: Mapping[str, Any],
    atlas: pd.DataFrame,
    *,
    subject: str,
    t_r: float,
    min_volumes: int = 20,
    embedding: tuple[int, int] = (3, 1),
    extraction: Mapping[str, Any] | None = None,
    denoise_strategy: str = "simple",
    atlas_name: str = "dosenbach160",
    tr_tolerance: float = 0.01,
    import_scaling: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One subject's checked T x R ROI series and sidecar, from any input kind.

    Parameters
    ----------
    kind : {'fmriprep', 'nifti', 'timeseries', 'network_csv'}
        Input kind (``demo`` images are ``nifti``).
    sources : mapping
        Files as returned by :func:`resolve_subject_inputs`: ``bold`` (and optional
        ``mask``, ``confounds``), ``timeseries``, or ``network_csv`` (list in network
        order).
    atlas : pandas.DataFrame
        From :func:`tda_mci.atlas.load_atlas`; columns of the result follow its rows.
    subject : str
        Subject label.
    t_r : float
        Repetition time in seconds expected of the data (checked against the image
        header, or a time-series sidecar's ``RepetitionTime``).
    min_volumes : int
        Fewest volumes (after removal of censored volumes) accepted.
    embedding : (int, int)
        Window length and delay of the embedding; fewer volumes than
        :func:`tda_mci.topology.windows.min_series_length` (two points) is an error.
    extraction : mapping, optional
        Keyword arguments of :func:`tda_mci.inputs.extract.extract_timeseries` (radius,
        standardize, detrend, low_pass, high_pass) for image inputs.
    denoise_strategy : str
        nilearn preset for fMRIPrep confounds (see :func:`load_fmriprep_confounds`).
    atlas_name : str
        Recorded in the sidecar.
    tr_tolerance : float
        Allowed absolute TR difference in seconds.
    import_scaling : mapping, optional
        Imported kinds only: ``standardize`` (``"none"`` or ``"zscore_sample"``) and
        ``detrend`` (bool), see :func:`scale_imported`; default: the series as given.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
    sidecar : dict
        ``Subject``, ``Source``, ``InputKind``, ``RepetitionTime``, ``NumberOfVolumes``,
        ``Atlas``, ``ROIs``; for imported kinds ``ImportScaling`` (what
        :func:`scale_imported` did); for images everything
        :func:`tda_mci.inputs.extract.extract_timeseries` records (plus ``DenoiseStrategy``,
        ``ConfoundColumns``, ``MeanFramewiseDisplacement`` for fMRIPrep).

    Raises
    ------
    SubjectDataError
        Naming subject, file and reason, for any problem with the subject's data.
    ValueError
        For a bad argument.
    """
    needed = min_series_length(*embedding, n_points=2)
    checks = {"subject": subject, "t_r": t_r, "min_volumes": min_volumes,
              "tr_tolerance": tr_tolerance}
    if kind in _IMAGE_KINDS:
        data, sidecar, where = _image_series(
            kind, sources, atlas, denoise_strategy=denoise_strategy, **checks, **(extraction or {})
        )
    elif kind in _TABLE_KINDS:
        data, sidecar, where = _table_series(kind, sources, atlas, **checks,
                                             scaling=dict(import_scaling or {}))
    else:
        raise ValueError(f"kind = {kind!r}; expected one of {INPUT_KINDS}")
    if data.shape[0] < needed:
        raise SubjectDataError(
            subject, where,
            f"{data.shape[0]} volumes kept; the embedding (window {embedding[0]}, delay "
            f"{embedding[1]}) needs at least {needed}",
        )
    sidecar.update(Atlas=atlas_name, InputKind=kind, MinimumVolumes=max(int(min_volumes), needed))
    return data, sidecar
