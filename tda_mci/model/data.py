"""Classifier inputs: validation, per-matrix standardisation and baseline features.

Every transform here acts on one subject at a time (nothing is estimated across
subjects), so applying it before the cross-validation split leaks nothing. Anything
fitted across subjects (feature scaling of the baselines) lives inside the fold, in
:mod:`tda_mci.model.baselines`.

Conventions: a PR stack ``X`` has shape ``(subjects, n, n)``, rows and columns in atlas
ROI order of one network; labels ``y`` are 0 for the comparison's first group (e.g. HC)
and 1 for its second; ROI time series are ``(T, n)`` arrays (time down the rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "check_labels",
    "check_matrices",
    "check_subject_ids",
    "correlation_features",
    "standardise_matrices",
    "upper_triangle",
]


def _name(index: int, subject_ids: Sequence[str] | None) -> str:
    if subject_ids is None:
        return f"subject index {index}"
    return f"subject index {index} ({subject_ids[index]})"


def check_matrices(X, subject_ids: Sequence[str] | None = None) -> np.ndarray:
    """Validate a stack of square matrices and return it as float64.

    Parameters
    ----------
    X : array_like
        Shape ``(subjects, n, n)`` with ``n >= 2``, finite values.
    subject_ids : sequence of str, optional
        Used only to name the offending subject in errors.

    Returns
    -------
    numpy.ndarray
        ``X`` as a C-contiguous float64 array.

    Raises
    ------
    ValueError
        If ``X`` is not a non-empty 3-D stack of square matrices, or a subject's
        matrix holds NaN or infinity (the message names the subject).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 3 or X.shape[1] != X.shape[2] or X.shape[0] == 0 or X.shape[1] < 2:
        raise ValueError(
            f"X must be a non-empty stack of square matrices (subjects, n, n) with n >= 2, "
            f"got shape {X.shape}"
        )
    bad = ~np.isfinite(X).all(axis=(1, 2))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"PR matrix of {_name(i, subject_ids)} has NaN or infinite values")
    return X


def check_labels(y, n_subjects: int | None = None) -> np.ndarray:
    """Validate binary labels and return them as int64.

    Parameters
    ----------
    y : array_like
        One label per subject, each 0 (first group) or 1 (second group); both must occur.
    n_subjects : int, optional
        Expected number of labels.

    Returns
    -------
    numpy.ndarray
        ``y`` as a 1-D int64 array.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, has the wrong length, holds a value other than 0/1, or
        lacks one of the two classes.
    """
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y_arr.shape}")
    if n_subjects is not None and y_arr.shape[0] != n_subjects:
        raise ValueError(f"y has {y_arr.shape[0]} labels for {n_subjects} subjects")
    values = set(np.unique(y_arr).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"y must hold only 0 and 1, got values {sorted(values, key=str)}")
    if values != {0, 1}:
        raise ValueError(f"y must contain both classes 0 and 1, got only {sorted(values)}")
    return y_arr.astype(np.int64)


def check_subject_ids(subject_ids, n_subjects: int) -> list[str]:
    """Validate subject ids (default: ``"0", "1", ...``) and return them as strings.

    Parameters
    ----------
    subject_ids : sequence or None
        One unique id per subject; ``None`` numbers the subjects from 0.
    n_subjects : int
        Expected number of ids.

    Returns
    -------
    list of str
        The ids.

    Raises
    ------
    ValueError
        If the number of ids is wrong or an id repeats (the message names it).
    """
    if subject_ids is None:
        return [str(i) for i in range(n_subjects)]
    ids = [str(s) for s in subject_ids]
    if len(ids) != n_subjects:
        raise ValueError(f"got {len(ids)} subject ids for {n_subjects} subjects")
    seen: set[str] = set()
    for s in ids:
        if s in seen:
            raise ValueError(f"subject id {s!r} occurs more than once")
        seen.add(s)
    return ids


def standardise_matrices(X, subject_ids: Sequence[str] | None = None) -> np.ndarray:
    """Standardise each matrix by its own mean and standard deviation.

    ``Z[i] = (X[i] - mean(X[i])) / std(X[i])`` over all ``n * n`` entries of subject
    ``i``'s matrix (diagonal included; population SD, ``ddof=0``), as the paper's input
    normalisation. It is a per-sample transform: no statistic crosses subjects, so it
    is leakage-free before any train/test split.

    Parameters
    ----------
    X : array_like
        Shape ``(subjects, n, n)``, finite.
    subject_ids : sequence of str, optional
        Used only to name the offending subject in errors.

    Returns
    -------
    numpy.ndarray
        float64 array of the same shape; every matrix has mean 0 and SD 1.

    Raises
    ------
    ValueError
        If ``X`` is malformed (see :func:`check_matrices`) or a matrix is constant
        (SD 0); the message names the subject index (and id when given).
    """
    X = check_matrices(X, subject_ids)
    mean = X.mean(axis=(1, 2), keepdims=True)
    sd = X.std(axis=(1, 2), keepdims=True)
    scale = np.abs(mean) + 1.0
    flat = (sd <= 1e-12 * scale).ravel()
    if flat.any():
        i = int(np.flatnonzero(flat)[0])
        raise ValueError(
            f"PR matrix of {_name(i, subject_ids)} is constant (standard deviation 0); "
            "it cannot be standardised"
        )
    return (X - mean) / sd


def upper_triangle(X, subject_ids: Sequence[str] | None = None) -> np.ndarray:
    """Return the strict upper triangle of each matrix as a feature vector.

    Parameters
    ----------
    X : array_like
        Shape ``(subjects, n, n)``, finite.
    subject_ids : sequence of str, optional
        Used only to name the offending subject in errors.

    Returns
    -------
    numpy.ndarray
        Shape ``(subjects, n * (n - 1) // 2)``, entries ``X[:, i, j]`` for ``i < j`` in
        row-major order (``numpy.triu_indices(n, k=1)``).
    """
    X = check_matrices(X, subject_ids)
    rows, cols = np.triu_indices(X.shape[1], k=1)
    return X[:, rows, cols]


def correlation_features(
    series, subject_ids: Sequence[str] | None = None, clip: float = 1e-7
) -> np.ndarray:
    """Fisher-z Pearson connectivity of each subject's ROI time series.

    For subject ``i`` with series ``S`` of shape ``(T, n)`` (time down the rows, ROIs in
    atlas order), the features are ``arctanh(r_jk)`` for ``j < k`` where ``r`` is the
    Pearson correlation matrix of the columns, clipped to ``[-1 + clip, 1 - clip]``
    so that identical series give a finite value. Per subject, so leakage-free.

    Parameters
    ----------
    series : sequence of array_like or array_like
        One ``(T_i, n)`` array per subject (``T_i`` may differ between subjects, ``n``
        may not), or a stack ``(subjects, T, n)``.
    subject_ids : sequence of str, optional
        Used only to name the offending subject in errors.
    clip : float
        Distance of the clipped correlation from +-1.

    Returns
    -------
    numpy.ndarray
        Shape ``(subjects, n * (n - 1) // 2)``, float64, ordered as
        ``numpy.triu_indices(n, k=1)``.

    Raises
    ------
    ValueError
        If a subject's series is not 2-D, has fewer than 3 time points, a different
        number of ROIs than the first subject, non-finite values or a constant ROI
        (the message names the subject and the ROI column).
    """
    if len(series) == 0:
        raise ValueError("series is empty: need one (T, n) array per subject")
    n = None
    out = []
    for i, s in enumerate(series):
        s = np.asarray(s, dtype=np.float64)
        if s.ndim != 2 or s.shape[0] < 3 or s.shape[1] < 2:
            raise ValueError(
                f"time series of {_name(i, subject_ids)} must be (T, n) with T >= 3 and "
                f"n >= 2, got shape {s.shape}"
            )
        if n is None:
            n = s.shape[1]
        elif s.shape[1] != n:
            raise ValueError(
                f"time series of {_name(i, subject_ids)} has {s.shape[1]} ROIs, "
                f"the first subject has {n}"
            )
        if not np.isfinite(s).all():
            raise ValueError(f"time series of {_name(i, subject_ids)} has NaN or infinite values")
        centred = s - s.mean(axis=0)
        norm = np.sqrt((centred**2).sum(axis=0))
        const = norm <= 1e-12 * (np.abs(s).max(axis=0) + 1.0)
        if const.any():
            j = int(np.flatnonzero(const)[0])
            raise ValueError(
                f"time series of {_name(i, subject_ids)} is constant in ROI column {j}; "
                "its correlation is undefined"
            )
        unit = centred / norm
        r = unit.T @ unit
        rows, cols = np.triu_indices(n, k=1)
        out.append(np.arctanh(np.clip(r[rows, cols], -1.0 + clip, 1.0 - clip)))
    return np.stack(out)
