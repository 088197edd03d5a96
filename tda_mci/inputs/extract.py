"""ROI time series of a 4D image: the mean signal of a sphere around every atlas ROI.

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

Checks, in order
----------------
The file exists, is readable, is not truncated and is 4D; it holds no NaN or Inf; the TR
in its header (if any) equals ``t_r``; it has at least ``min_volumes`` volumes; the brain
mask (if any) is usable; every sphere holds a voxel (ROI inside the field of view and
the brain mask); no raw sphere mean is all zero or constant; nilearn accepts the input
(e.g. confounds of the right length); at least ``min_volumes`` volumes remain after
``sample_mask``; the cleaned series are finite and none collapses to a constant (e.g. a
pure linear trend removed by detrending).

Every failed check raises :class:`~tda_mci.validation.SubjectDataError` (a
:class:`ValueError`) with a message of the form ``"subject <id>, file <path>: <reason>"``;
a bad argument (a configuration error) raises a plain :class:`ValueError`. Precomputed
series are checked by :func:`tda_mci.inputs.readers.validate_timeseries`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tda_mci.inputs.readers import Fail, check_not_constant, roi_names
from tda_mci.validation import SubjectDataError, first_nonfinite, tr_mismatch, where

#: Accepted values of ``standardize`` and what is passed to nilearn.
_STANDARDIZE = {
    "zscore_sample": "zscore_sample",
    "psc": "psc",
    None: None,
    True: "zscore_sample",
    False: None,
}

_TIME_UNIT_SECONDS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6, "unknown": 1.0}

#: How an image that is not a file is named in messages.
_IN_MEMORY = "<in-memory image>"

#: Why a raw sphere mean can be all zero, added to that error's reason.
_NO_SIGNAL = " (no signal in the sphere, e.g. outside the acquired field of view)"


@dataclass(frozen=True)
class _Image:
    """A loaded, checked 4D image and its brain mask on the image's grid."""

    img: Any
    data: np.ndarray
    header_tr: float | None
    mask: np.ndarray | None = None
    mask_source: str | None = None


@dataclass(frozen=True)
class _Cleaning:
    """What nilearn is asked to do: the masker's settings, confounds, volumes to keep."""

    settings: dict[str, Any]
    confounds: Any = None
    sample_mask: Any = None

    def record(self, mask_source: str | None) -> dict[str, Any]:
        """Describe the masker for the sidecar: class, nilearn version, every setting."""
        import nilearn

        return {
            "class": "nilearn.maskers.NiftiSpheresMasker",
            "nilearn_version": nilearn.__version__,
            **self.settings,
            "mask_img": mask_source,
            "confounds": self.confounds is not None,
            "sample_mask": self.sample_mask is not None,
        }


def _normalise_standardize(standardize: Any) -> str | None:
    """Translate a ``standardize`` argument into nilearn's value, or raise ValueError."""
    try:
        return _STANDARDIZE[standardize]
    except (KeyError, TypeError):
        raise ValueError(
            f"standardize = {standardize!r}; expected one of 'zscore_sample', 'psc', None "
            "(True means 'zscore_sample', False means None)"
        ) from None


def _masker_settings(
    loc: str,
    *,
    radius: Any,
    standardize: Any,
    detrend: Any,
    low_pass: Any,
    high_pass: Any,
    t_r: Any,
) -> dict[str, Any]:
    """Check the extraction arguments and return the masker's keyword arguments.

    A bad argument raises :class:`ValueError` whose message starts with ``loc``
    (subject and file).
    """
    std_mode = _normalise_standardize(standardize)
    if not t_r > 0:
        raise ValueError(f"{loc}: t_r = {t_r!r} must be positive")
    if not radius > 0:
        raise ValueError(f"{loc}: radius = {radius!r} must be positive")
    return {
        "radius": float(radius),
        "allow_overlap": True,
        "standardize": std_mode,
        "detrend": bool(detrend),
        "low_pass": low_pass,
        "high_pass": high_pass,
        "t_r": float(t_r),
    }


def _source(img: Any) -> str | None:
    """Return the path of an image given as a path, else ``None``."""
    return str(img) if isinstance(img, str | Path) else None


def _name(img: Any) -> str:
    """Name an image in messages: its path, or :data:`_IN_MEMORY`."""
    source = _source(img)
    return _IN_MEMORY if source is None else source


def _load_image(img: Any, fail: Fail):
    """Load a 4D image fully into memory as float64 (nilearn averages in the data dtype)."""
    import nibabel as nib

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
    """Return the repetition time in seconds recorded in the image header, or ``None``."""
    zooms = img.header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    try:
        unit = img.header.get_xyzt_units()[1]
    except Exception:
        unit = "unknown"
    return float(zooms[3]) * _TIME_UNIT_SECONDS.get(unit, 1.0)


def _checked_image(
    img: Any, fail: Fail, *, t_r: float, tr_tolerance: float, min_volumes: int,
    atlas: pd.DataFrame, radius: float,
) -> _Image:
    """Load the image; check that it is finite, has the configured TR and is long enough.

    A non-finite image is refused whole; the message names the first bad voxel and the
    ROIs whose spheres (before any brain mask) hold a bad voxel.
    """
    img, data = _load_image(img, fail)
    first = first_nonfinite(data)
    if first is not None:
        count = np.count_nonzero(~np.isfinite(data))
        bad = ~np.isfinite(data).all(axis=3).ravel()
        coords = atlas[["x", "y", "z"]].to_numpy(float)
        spheres = _sphere_voxels(data.shape, img.affine, None, coords, radius)
        reached = [i for i, sphere in enumerate(spheres) if bad[sphere].any()]
        where_ = (f"in the spheres of {len(reached)} ROI(s): {roi_names(atlas, reached)}"
                  if reached else "outside every ROI sphere")
        raise fail(
            f"image has {count} NaN or Inf values (first at voxel {first[:3]}, volume "
            f"{first[3]}; {where_})"
        )
    header_tr = _header_tr(img)
    mismatch = tr_mismatch(header_tr, t_r, tr_tolerance, "repetition time in the image header")
    if mismatch:
        raise fail(mismatch)
    if data.shape[3] < min_volumes:
        raise fail(f"image has {data.shape[3]} volumes; need at least {min_volumes}")
    return _Image(img, data, header_tr)


def _with_brain_mask(image: _Image, mask_img: Any, subject: str | None) -> _Image:
    """Add the brain mask, as booleans on the image's grid, and how it is named.

    A mask on another grid is resampled (nearest neighbour). A mask that cannot be used
    raises :class:`~tda_mci.validation.SubjectDataError` naming the mask.
    """
    if mask_img is None:
        return image
    import nibabel as nib
    from nilearn.image import resample_to_img

    img, data = image.img, image.data
    mask_source = _name(mask_img)
    try:
        m_img = nib.load(mask_source) if _source(mask_img) is not None else mask_img
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
        raise SubjectDataError(
            subject,
            mask_source,
            f"cannot use brain mask {mask_source} ({type(err).__name__}: {err})",
        ) from err
    return replace(image, mask=mask, mask_source=mask_source)


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


def _raw_sphere_means(
    image: _Image, atlas: pd.DataFrame, radius: float, fail: Fail
) -> tuple[np.ndarray, list[int]]:
    """Return the raw mean series of every sphere (T x R) and its number of voxels.

    Raises when a sphere holds no voxel, or a mean is all zero or constant.
    """
    data, mask = image.data, image.mask
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    spheres = _sphere_voxels(data.shape, image.img.affine, mask, coords, radius)
    sizes = [len(s) for s in spheres]
    empty = np.flatnonzero(np.array(sizes) == 0)
    if len(empty):
        raise fail(
            f"{len(empty)} ROI sphere(s) hold no voxel (outside the field of view"
            f"{' or brain mask' if mask is not None else ''}): {roi_names(atlas, empty)}"
        )
    flat = data.reshape(-1, data.shape[3])
    raw = np.column_stack([flat[s].mean(axis=0, dtype=np.float64) for s in spheres])
    check_not_constant(raw, atlas, fail, _NO_SIGNAL)
    return raw, sizes


def _temporal_snr(raw: np.ndarray, sample_mask: Any) -> np.ndarray:
    """Mean over standard deviation of each raw sphere-mean series (kept volumes only)."""
    if sample_mask is not None:
        raw = raw[np.arange(raw.shape[0])[np.asarray(sample_mask)]]
    sd = raw.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, np.abs(raw.mean(axis=0)) / sd, np.inf)


def _masker_series(
    image: _Image, atlas: pd.DataFrame, cleaning: _Cleaning, fail: Fail
) -> np.ndarray:
    """Run nilearn's sphere masker; return the cleaned series, one column per ROI."""
    import nibabel as nib
    from nilearn.maskers import NiftiSpheresMasker

    img, mask = image.img, image.mask
    coords = atlas[["x", "y", "z"]].to_numpy(float)
    mask_img = None if mask is None else nib.Nifti1Image(mask.astype(np.uint8), img.affine)
    masker = NiftiSpheresMasker(
        seeds=[tuple(c) for c in coords], mask_img=mask_img, **cleaning.settings
    )
    mem_img = nib.Nifti1Image(image.data, img.affine, img.header)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            out = masker.fit_transform(
                mem_img, confounds=cleaning.confounds, sample_mask=cleaning.sample_mask
            )
    except (ValueError, TypeError, IndexError) as err:
        raise fail(f"nilearn could not extract the series: {err}") from err
    out = np.asarray(out, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] != len(atlas):
        raise fail(f"masker returned shape {out.shape}; expected (T, {len(atlas)})")
    return out


def _collapsed(raw: np.ndarray, cleaning: _Cleaning, fail: Fail) -> np.ndarray:
    """Columns of ``raw`` that cleaning (without standardising) reduces to rounding error.

    Such a series (a pure linear trend when detrending, a copy of a confound ...) would
    be blown up to unit variance by z-scoring. The raw sphere means are cleaned the way
    the masker cleans them, and each column's spread is compared with its raw spread.
    """
    from nilearn import signal

    s = cleaning.settings
    try:
        unscaled = signal.clean(
            raw,
            detrend=s["detrend"],
            standardize=None,
            sample_mask=cleaning.sample_mask,
            confounds=cleaning.confounds,
            low_pass=s["low_pass"],
            high_pass=s["high_pass"],
            t_r=s["t_r"],
        )
    except (ValueError, TypeError, IndexError) as err:
        raise fail(f"nilearn could not clean the series: {err}") from err
    return np.flatnonzero(unscaled.std(axis=0) <= 1e-8 * raw.std(axis=0))


def _check_cleaned(
    out: np.ndarray,
    raw: np.ndarray,
    atlas: pd.DataFrame,
    cleaning: _Cleaning,
    min_volumes: int,
    fail: Fail,
) -> None:
    """Check the cleaned series: enough volumes kept, all finite, none collapsed."""
    if out.shape[0] < min_volumes:
        raise fail(
            f"{out.shape[0]} volumes remain after the sample mask; need at least {min_volumes}"
        )
    nonfinite = np.flatnonzero(~np.isfinite(out).all(axis=0))
    if len(nonfinite):
        raise fail(f"cleaned series are not finite for {roi_names(atlas, nonfinite)}")
    collapsed = _collapsed(raw, cleaning, fail)
    if len(collapsed):
        raise fail(
            f"{len(collapsed)} ROI series are constant after detrending/filtering/"
            f"confound removal: {roi_names(atlas, collapsed)}"
        )


def _extract(
    img: Any,
    atlas: pd.DataFrame,
    cleaning: _Cleaning,
    *,
    mask_img: Any,
    subject: str | None,
    min_volumes: int,
    tr_tolerance: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Run :func:`extract_timeseries` once its arguments are checked."""
    fail = partial(SubjectDataError, subject, _name(img))
    settings = cleaning.settings
    image = _checked_image(
        img, fail, t_r=settings["t_r"], tr_tolerance=tr_tolerance, min_volumes=min_volumes,
        atlas=atlas, radius=settings["radius"],
    )
    image = _with_brain_mask(image, mask_img, subject)
    raw, sizes = _raw_sphere_means(image, atlas, settings["radius"], fail)
    out = _masker_series(image, atlas, cleaning, fail)
    _check_cleaned(out, raw, atlas, cleaning, min_volumes, fail)
    return out, {
        "Subject": subject,
        "Source": _source(img),
        "RepetitionTime": settings["t_r"],
        "HeaderRepetitionTime": image.header_tr,
        "NumberOfVolumes": int(out.shape[0]),
        "NumberOfVolumesInImage": int(image.data.shape[3]),
        "ROIs": [int(r) for r in atlas["roi"]],
        "VoxelsPerSphere": sizes,
        "TemporalSNR": [float(v) for v in _temporal_snr(raw, cleaning.sample_mask)],
        "Masker": cleaning.record(image.mask_source),
    }


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
    min_volumes: int = 20,
    tr_tolerance: float = 0.01,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Extract the mean signal of a sphere around every atlas ROI.

    Uses :class:`nilearn.maskers.NiftiSpheresMasker` with ``allow_overlap=True`` and the
    given cleaning (detrending, then filtering and confound removal, then
    standardisation, as nilearn orders them), after the checks of the module docstring.

    Parameters
    ----------
    img : str, Path or nibabel image
        Preprocessed 4D BOLD image in the atlas's space (MNI for Dosenbach).
    atlas : pandas.DataFrame
        From :func:`tda_mci.atlas.load_atlas`; ``x, y, z`` are the sphere centres (mm).
    radius : float
        Sphere radius in mm (the paper: 5).
    standardize : {'zscore_sample', 'psc', None, True, False}
        nilearn's standardisation (``True``: ``'zscore_sample'``; ``False``: ``None``).
    detrend : bool
        Remove a linear trend from each ROI series.
    low_pass, high_pass : float, optional
        Butterworth filter cut-offs in Hz.
    t_r : float
        Repetition time in seconds.
    confounds : array, DataFrame, path or list, optional
        Confound regressors for the masker, one row per volume.
    sample_mask : array, optional
        Indices (or boolean mask) of the volumes to keep.
    mask_img : str, Path or nibabel image, optional
        Brain mask; sphere voxels outside it are ignored.
    subject : str, optional
        Subject id, for error messages and the sidecar.
    min_volumes : int
        Fewest volumes accepted, in the image and after ``sample_mask``.
    tr_tolerance : float
        Allowed absolute difference in seconds between ``t_r`` and the header's TR.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
        ROI series, one column per atlas row, in atlas order.
    sidecar : dict
        ``Subject``, ``Source``, ``RepetitionTime``, ``HeaderRepetitionTime``,
        ``NumberOfVolumes`` (kept), ``NumberOfVolumesInImage``, ``ROIs``,
        ``VoxelsPerSphere``, ``TemporalSNR`` (per ROI, over the kept volumes: mean over
        standard deviation of the raw sphere mean) and ``Masker`` (nilearn's settings).

    Raises
    ------
    ValueError
        For a non-positive ``t_r`` or ``radius`` or an unknown ``standardize``.
    SubjectDataError
        Naming subject, file and reason, when a check of the module docstring fails.
    """
    settings = _masker_settings(
        where(subject, _name(img)), radius=radius, standardize=standardize, detrend=detrend,
        low_pass=low_pass, high_pass=high_pass, t_r=t_r,
    )
    return _extract(
        img, atlas, _Cleaning(settings, confounds, sample_mask), mask_img=mask_img,
        subject=subject, min_volumes=int(min_volumes), tr_tolerance=tr_tolerance,
    )
