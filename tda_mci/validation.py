"""Checks shared by every stage: argument checks that echo the bad value, and data checks.

Two kinds of error, as everywhere in tda_mci:

* a bad argument or setting raises :class:`ValueError` with the argument's name and the
  value it got (the sklearn / nilearn habit);
* a problem with one subject's data raises :class:`SubjectDataError`, whose message
  reads ``"subject <id>, file <path>: <reason>"``, so that a run can stop with, or an
  exclusion table can record, exactly which subject, which file and why.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "SubjectDataError",
    "check_choice",
    "check_int",
    "check_level",
    "check_n_jobs",
    "constant_columns",
    "first_nonfinite",
    "tr_mismatch",
]

#: Relative spread below which a series counts as constant (see :func:`constant_columns`).
CONSTANT_RTOL = 1e-10


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
        super().__init__(f"{where(subject, file)}: {reason}")

    def __reduce__(self):
        return type(self), (self.subject, self.file, self.reason)


def where(subject: str | None, path: Any) -> str:
    """Return ``"subject <id>, file <path>"``, the prefix of every data error."""
    return f"subject {subject if subject is not None else '?'}, file {path}"


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as int if it is an integer >= ``minimum``, else raise.

    Parameters
    ----------
    name : str
        Argument name for the error message.
    value : object
        The value to check (bool is rejected).
    minimum : int
        Smallest allowed value.

    Returns
    -------
    int
        The value.

    Raises
    ------
    ValueError
        Naming the argument and echoing the bad value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_n_jobs(value: Any, name: str = "n_jobs") -> int:
    """Return the number of workers meant by ``value`` (``-1``: all cores; ``None``: 1).

    Raises
    ------
    ValueError
        For zero, a non-integer or a bool.
    """
    from joblib import effective_n_jobs

    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value == 0:
        raise ValueError(f"{name} must be a non-zero integer (-1 = all cores); got {value!r}")
    return int(effective_n_jobs(int(value)))


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise naming the choices."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def check_level(value: Any, name: str = "alpha") -> float:
    """Return a significance level in the open interval (0, 1) as float, else raise."""
    try:
        level = float(value)
    except (TypeError, ValueError):
        level = float("nan")
    if not 0 < level < 1:
        raise ValueError(f"{name} must be a number in (0, 1); got {value!r}")
    return level


def first_nonfinite(x: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN or infinite entry of ``x`` (C order), or ``None``."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def tr_mismatch(
    recorded: float | None, t_r: float, tolerance: float, what: str = "RepetitionTime"
) -> str | None:
    """Why a repetition time recorded with the data contradicts the configured one.

    Parameters
    ----------
    recorded : float or None
        Repetition time in seconds found in the data (image header, sidecar); ``None``
        when the data record none.
    t_r : float
        The configured repetition time in seconds.
    tolerance : float
        Allowed absolute difference in seconds.
    what : str
        Where ``recorded`` comes from, the subject of the reason.

    Returns
    -------
    str or None
        The reason, for a :class:`SubjectDataError`; ``None`` when they agree.
    """
    if recorded is None or not abs(recorded - float(t_r)) > tolerance:
        return None
    return f"{what} is {recorded:g} s but the configuration says t_r = {float(t_r):g} s"


def constant_columns(x: np.ndarray, rtol: float = CONSTANT_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """Columns of a finite 2-D array that are all zero, and those that are constant.

    A column is constant when its range is at most ``rtol`` times its largest absolute
    value (so rounding noise on a constant signal still counts as constant).

    Parameters
    ----------
    x : numpy.ndarray, shape (T, R)
        Finite values; rows are time points, columns series.
    rtol : float
        Relative tolerance.

    Returns
    -------
    zero, constant : numpy.ndarray of int
        Indices of all-zero columns, and of constant non-zero columns.
    """
    scale = np.abs(x).max(axis=0)
    zero = scale == 0
    const = ~zero & (np.ptp(x, axis=0) <= rtol * scale)
    return np.flatnonzero(zero), np.flatnonzero(const)
