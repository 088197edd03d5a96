"""ROI time series: sphere means of a 4D image, and validation of precomputed series.

Conventions
-----------
* ROI order is the atlas's row order (Dosenbach: the order of nilearn's CSV); column ``j``
  of every returned array is ROI ``atlas["roi"][j]``.
* A sphere is what :class:`nilearn.maskers.NiftiSpheresMasker` averages: every voxel
  whose centre lies within ``radius`` mm of the ROI coordinate (distance <= radius), plus
  the voxel nearest to the coordinate, restricted to ``mask_img`` when one is given.
  Spheres may overlap (``allow_overlap=True``); at 5 mm only Dosenbach ROIs 108 and 115
  (8.5 mm apart) share voxels.
* Rows are volumes (time), after ``sample_mask`` when one is given.

Every problem with one subject's input raises :class:`SubjectDataError` (a
:class:`ValueError`) with a message of the form ``"subject <id>, file <path>: <reason>"``;
a bad argument (a configuration error) raises a plain :class:`ValueError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Accepted values of ``standardize`` and what is passed to nilearn.
_STANDARDIZE = {
    "zscore_sample": "zscore_sample",
    "psc": "psc",
    None: None,
    True: "zscore_sample",
    False: None,
}

#: Relative tolerance below which a series counts as constant.
_CONSTANT_RTOL = 1e-10

_TIME_UNIT_SECONDS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6, "unknown": 1.0}


class SubjectDataError(ValueError):
    """A problem with one subject's input data (not with the configuration).

    The message reads ``"subject <id>, file <path>: <reason>"``; the three parts are
    also attributes, so a caller can record an exclusion as a table row.

    Parameters
    ----------
    subject : str or None
        Subject label (``None`` when unknown; shown as ``?``).
    file : str or Path
        The file at fault.
    reason : str
        What is wrong, in words.
    """

    def __init__(self, subject: str | None, file: Any, reason: str):
        self.subject = subject
        self.file = str(file)
        self.reason = reason
        super().__init__(f"{_where(subject, file)}: {reason}")

    def __reduce__(self):
        return type(self), (self.subject, self.file, self.reason)


def _where(subject: str | None, path: Any) -> str:
    return f"subject {subject if subject is not None else '?'}, file {path}"


def _roi_names(atlas: pd.DataFrame, cols: Sequence[int]) -> str:
    shown = [f"{int(atlas['roi'].iloc[c])} ({atlas['label'].iloc[c]})" for c in cols[:10]]
    more = f" and {len(cols) - 10} more" if len(cols) > 10 else ""
    return ", ".join(shown) + more


def _constant_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (all-zero columns, constant non-zero columns) of a finite 2D array."""
    scale = np.abs(x).max(axis=0)
    zero = scale == 0
    const = ~zero & (np.ptp(x, axis=0) <= _CONSTANT_RTOL * scale)
    return np.flatnonzero(zero), np.flatnonzero(const)


def _temporal_snr(raw: np.ndarray, sample_mask: Any) -> np.ndarray:
    """Mean over standard deviation of each raw sphere-mean series (kept volumes only)."""
    if sample_mask is not None:
        raw = raw[np.arange(raw.shape[0])[np.asarray(sample_mask)]]
    sd = raw.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, np.abs(raw.mean(axis=0)) / sd, np.inf)


def _normalise_standardize(standardize: Any) -> str | None:
    try:
        return _STANDARDIZE[standardize]
    except (KeyError, TypeError):
        raise ValueError(
            f"standardize = {standardize!r}; expected one of 'zscore_sample', 'psc', None "
            "(True means 'zscore_sample', False means None)"
        ) from None


def _load_image(img: Any, subject: str | None, source: str):
    """Load a 4D image fully into memory as float64 (nilearn averages in the data dtype)."""
    import nibabel as nib

    def fail(reason: str) -> SubjectDataError:
        return SubjectDataError(subject, source, reason)

    if isinstance(img, str | Path):
        if not Path(img).is_file():
            raise fail("file not found")
        try:
            img = nib.load(str(img))
        except Exception as err:  # nibabel raises many types for a bad file
            raise fail(f"unreadable image ({type(err).__name__}: {err})") from err
    if not hasattr(img, "dataobj") or not hasattr(img, "affine"):
        raise fail(f"not a NIfTI image (got {type(img).__name__})")
    if len(img.shape) != 4:
        raise fail(f"image is {len(img.shape)}D with shape {img.shape}; need 4D")
    try:
        data = np.asarray(img.dataobj, dtype=np.float64)
    except Exception as err:  # EOFError, zlib.error, OSError ... for a truncated file
        raise fail(
            f"cannot read image data, file truncated or corrupt ({type(err).__name__}: {err})"
        ) from err
    return img, data


def _header_tr(img: Any) -> float | None:
    zooms = img.header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    try:
        unit = img.header.get_xyzt_units()[1]
    except Exception:
        unit = "unknown"
    return float(zooms[3]) * _TIME_UNIT_SECONDS.get(unit, 1.0)


def _sphere_voxels(
    shape: tuple[int, ...],
    affine: np.ndarray,
    mask: np.ndarray | None,
    coords: np.ndarray,
    radius: float,
) -> list[np.ndarray]:
    """Flat (C-order) voxel indices of each sphere, with nilearn's inclusion rule."""
    from scipy.spatial import cKDTree

    shape = tuple(shape[:3])
    cand = np.flatnonzero(mask.ravel()) if mask is not None else np.arange(np.prod(shape))
    ijk = np.column_stack(np.unravel_index(cand, shape)).astype(float)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    inside = cKDTree(xyz).query_ball_point(coords, r=radius)
    inv = np.linalg.inv(affine)
    nearest = np.rint(coords @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    out = []
    for members, ijk_n in zip(inside, nearest, strict=True):
        idx = cand[np.asarray(members, dtype=int)]
        if np.all(ijk_n >= 0) and np.all(ijk_n < np.asarray(shape)):
            flat = np.ravel_multi_index(tuple(ijk_n), shape)
            if mask is None or mask.ravel()[flat]:
                idx = np.union1d(idx, [flat])
        out.append(np.unique(idx))
    return out


def extract_timeseries(
    img: Any,
    atlas: pd.DataFrame,
    *,
    radius: float = 5.0,
    standardize: str | bool | None = "zscore_sample",
    detrend: bool = True,
    low_pass: float | None = None,
    high_pass: float | None = None,
    t_r: float = 3.0,
    confounds: Any = None,
    sample_mask: Any = None,
    mask_img: Any = None,
    subject: str | None = None,
    min_volumes: int = 3,
    tr_tolerance: float = 0.01,
    atlas_name: str = "dosenbach160",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Extract the mean signal of a sphere around every atlas ROI.

    Uses :class:`nilearn.maskers.NiftiSpheresMasker` with ``allow_overlap=True`` and the
    given cleaning settings (detrending, then filtering and confound removal, then
    standardisation, as nilearn orders them).

    Parameters
    ----------
    img : str, Path or nibabel image
        Preprocessed 4D BOLD image in the atlas's space (MNI for Dosenbach).
    atlas : pandas.DataFrame
        Table from :func:`tda_mci.atlas.load_atlas`; its ``x, y, z`` columns are the
        sphere centres (mm), its row order the column order of the result.
    radius : float
        Sphere radius in mm (the paper: 5).
    standardize : {'zscore_sample', 'psc', None, True, False}
        nilearn's standardisation; ``True`` means ``'zscore_sample'`` and ``False``
        means ``None`` (no standardisation).
    detrend : bool
        Remove a linear trend from each ROI series.
    low_pass, high_pass : float, optional
        Butterworth filter cut-offs in Hz (need ``t_r``).
    t_r : float
        Repetition time in seconds. Must equal the TR in the image header within
        ``tr_tolerance`` seconds when the header records one.
    confounds : array, DataFrame, path or list, optional
        Confound regressors, passed to the masker (one row per volume).
    sample_mask : array, optional
        Indices (or boolean mask) of the volumes to keep, passed to the masker
        (e.g. from :func:`nilearn.interfaces.fmriprep.load_confounds_strategy`).
    mask_img : str, Path or nibabel image, optional
        Brain mask; sphere voxels outside it are ignored.
    subject : str, optional
        Subject id, used in error messages and the sidecar.
    min_volumes : int
        Fewest volumes (after ``sample_mask``) accepted.
    tr_tolerance : float
        Allowed absolute difference in seconds between ``t_r`` and the header's TR.
    atlas_name : str
        Name recorded in the sidecar.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
        ROI series, one column per atlas row, in atlas order.
    sidecar : dict
        ``RepetitionTime``, ``HeaderRepetitionTime``, ``NumberOfVolumes`` (kept),
        ``NumberOfVolumesInImage``, ``Source``, ``Subject``, ``Atlas``, ``ROIs`` (numbers
        in column order), ``VoxelsPerSphere`` (voxels averaged per ROI),
        ``TemporalSNR`` (per ROI: mean over standard deviation of the raw sphere mean
        across the kept volumes, before any cleaning) and ``Masker`` (class, nilearn
        version and every setting).

    Raises
    ------
    ValueError
        For a non-positive ``t_r`` or ``radius`` or an unknown ``standardize``.
    SubjectDataError
        Naming subject, file and reason, when the file is missing, unreadable or
        truncated; the image is not 4D; it holds NaN or Inf values; the header TR
        differs from ``t_r``; fewer than ``min_volumes`` volumes remain; a sphere holds
        no voxel (ROI outside the field of view or the brain mask); a raw ROI series is
        all zero or constant; a cleaned series is not finite or collapses to a constant
        (e.g. a pure linear trend removed by detrending); or nilearn rejects the input
        (e.g. confounds of the wrong length).
    """
    import nibabel as nib
    import nilearn
    from nilearn import signal
    from nilearn.image import resample_to_img
    from nilearn.maskers import NiftiSpheresMasker

    source = str(img) if isinstance(img, str | Path) else None
    shown = source if source is not None else "<in-memory image>"
    where = _where(subject, shown)

    def fail(reason: str, file: Any = shown) -> SubjectDataError:
        return SubjectDataError(subject, file, reason)

    std_mode = _normalise_standardize(standardize)
    if not t_r > 0:
        raise ValueError(f"{where}: t_r = {t_r!r} must be positive")
    if not radius > 0:
        raise ValueError(f"{where}: radius = {radius!r} must be positive")
    min_volumes = int(min_volumes)

    img, data = _load_image(img, subject, shown)
    n_total = data.shape[3]
    bad = ~np.isfinite(data)
    if bad.any():
        first = tuple(int(v) for v in np.argwhere(bad)[0])
        raise fail(
            f"image has {int(bad.sum())} NaN or Inf values (first at voxel "
            f"{first[:3]}, volume {first[3]})"
        )
    header_tr = _header_tr(img)
    if header_tr is not None and abs(header_tr - float(t_r)) > tr_tolerance:
        raise fail(
            f"repetition time in the image header is {header_tr:g} s but the "
            f"configuration says t_r = {float(t_r):g} s"
        )
    if n_total < min_volumes:
        raise fail(f"image has {n_total} volumes; need at least {min_volumes}")

    mask = None
    mask_source = None
    if mask_img is not None:
        mask_source = str(mask_img) if isinstance(mask_img, str | Path) else "<in-memory image>"
        try:
            m_img = nib.load(str(mask_img)) if isinstance(mask_img, str | Path) else mask_img
            if m_img.shape[:3] != data.shape[:3] or not np.allclose(m_img.affine, img.affine):
                m_img = resample_to_img(
                    m_img,
                    nib.Nifti1Image(data[..., 0], img.affine),
                    interpolation="nearest",
                    copy_header=True,
                    force_resample=True,
                )
            mask = np.asarray(m_img.dataobj).reshape(data.shape[:3]) != 0
        except Exception as err:
            raise fail(
                f"cannot use brain mask {mask_source} ({type(err).__name__}: {err})",
                file=mask_source,
            ) from err
        mask_img = nib.Nifti1Image(mask.astype(np.uint8), img.affine)

    coords = atlas[["x", "y", "z"]].to_numpy(float)
    spheres = _sphere_voxels(data.shape, img.affine, mask, coords, float(radius))
    sizes = np.array([len(s) for s in spheres])
    empty = np.flatnonzero(sizes == 0)
    if len(empty):
        raise fail(
            f"{len(empty)} ROI sphere(s) hold no voxel (outside the field of view"
            f"{' or brain mask' if mask is not None else ''}): {_roi_names(atlas, empty)}"
        )

    flat = data.reshape(-1, n_total)
    raw = np.column_stack([flat[s].mean(axis=0, dtype=np.float64) for s in spheres])
    zero, const = _constant_columns(raw)
    if len(zero):
        raise fail(
            f"{len(zero)} ROI series are all zero (no signal in the sphere, e.g. "
            f"outside the acquired field of view): {_roi_names(atlas, zero)}"
        )
    if len(const):
        raise fail(f"{len(const)} ROI series are constant: {_roi_names(atlas, const)}")

    settings = {
        "radius": float(radius),
        "allow_overlap": True,
        "standardize": std_mode,
        "detrend": bool(detrend),
        "low_pass": low_pass,
        "high_pass": high_pass,
        "t_r": float(t_r),
    }
    masker = NiftiSpheresMasker(seeds=[tuple(c) for c in coords], mask_img=mask_img, **settings)
    mem_img = nib.Nifti1Image(data, img.affine, img.header)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            out = masker.fit_transform(mem_img, confounds=confounds, sample_mask=sample_mask)
    except (ValueError, TypeError, IndexError) as err:
        raise fail(f"nilearn could not extract the series: {err}") from err
    out = np.asarray(out, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] != len(atlas):
        raise fail(f"masker returned shape {out.shape}; expected (T, {len(atlas)})")

    n_kept = out.shape[0]
    if n_kept < min_volumes:
        raise fail(f"{n_kept} volumes remain after the sample mask; need at least {min_volumes}")
    nonfinite = np.flatnonzero(~np.isfinite(out).all(axis=0))
    if len(nonfinite):
        raise fail(f"cleaned series are not finite for {_roi_names(atlas, nonfinite)}")
    # A series that cleaning reduces to rounding error (a pure linear trend when
    # detrending, a copy of a confound, ...) would be blown up to unit variance by
    # z-scoring. Clean the raw sphere means the way the masker does, without
    # standardising, and compare each column's spread with its raw spread.
    try:
        unscaled = signal.clean(
            raw,
            detrend=bool(detrend),
            standardize=None,
            sample_mask=sample_mask,
            confounds=confounds,
            low_pass=low_pass,
            high_pass=high_pass,
            t_r=float(t_r),
        )
    except (ValueError, TypeError, IndexError) as err:
        raise fail(f"nilearn could not clean the series: {err}") from err
    collapsed = np.flatnonzero(unscaled.std(axis=0) <= 1e-8 * raw.std(axis=0))
    if len(collapsed):
        raise fail(
            f"{len(collapsed)} ROI series are constant after detrending/filtering/"
            f"confound removal: {_roi_names(atlas, collapsed)}"
        )

    sidecar = {
        "Subject": subject,
        "Source": source,
        "RepetitionTime": float(t_r),
        "HeaderRepetitionTime": header_tr,
        "NumberOfVolumes": int(n_kept),
        "NumberOfVolumesInImage": int(n_total),
        "Atlas": atlas_name,
        "ROIs": [int(r) for r in atlas["roi"]],
        "VoxelsPerSphere": [int(s) for s in sizes],
        "TemporalSNR": [float(v) for v in _temporal_snr(raw, sample_mask)],
        "Masker": {
            "class": "nilearn.maskers.NiftiSpheresMasker",
            "nilearn_version": nilearn.__version__,
            **settings,
            "mask_img": mask_source,
            "confounds": confounds is not None,
            "sample_mask": sample_mask is not None,
        },
    }
    return out, sidecar


def validate_timeseries(
    data: np.ndarray,
    rois: Sequence[int],
    atlas: pd.DataFrame,
    *,
    subject: str | None,
    path: Any,
    min_volumes: int = 3,
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

    def fail(reason: str) -> SubjectDataError:
        return SubjectDataError(subject, path, reason)

    try:
        x = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise fail(f"time series are not numeric ({err})") from err
    if x.ndim != 2:
        raise fail(f"time series must be a 2D table; got shape {x.shape}")
    try:
        header = [int(r) for r in rois]
    except (TypeError, ValueError) as err:
        raise fail(f"header must hold integer ROI numbers ({err})") from err
    if len(header) != x.shape[1]:
        raise fail(f"{len(header)} header entries for {x.shape[1]} columns")
    expected = [int(r) for r in atlas["roi"]]
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
    if header != expected:
        pos = {r: j for j, r in enumerate(header)}
        x = x[:, [pos[r] for r in expected]]
    if x.shape[0] < int(min_volumes):
        raise fail(f"{x.shape[0]} volumes (rows); need at least {min_volumes}")
    bad = ~np.isfinite(x)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise fail(
            f"{int(bad.sum())} NaN or Inf values (first at row {int(r)}, ROI {expected[int(c)]})"
        )
    zero, const = _constant_columns(x)
    if len(zero):
        raise fail(f"{len(zero)} ROI series are all zero: {_roi_names(atlas, zero)}")
    if len(const):
        raise fail(f"{len(const)} ROI series are constant: {_roi_names(atlas, const)}")
    return x, expected
