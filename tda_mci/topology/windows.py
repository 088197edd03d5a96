"""Sliding-window (time-delay) embedding of one ROI time series into a point cloud."""

from __future__ import annotations

import numpy as np

from tda_mci.validation import check_int, first_nonfinite

__all__ = ["min_series_length", "sliding_window"]


def min_series_length(dimension: int, delay: int, n_points: int = 1) -> int:
    """Fewest samples whose delay embedding has ``n_points`` points.

    A series of ``T`` samples has ``T - (dimension - 1) * delay`` windows, so it needs
    ``(dimension - 1) * delay + n_points`` samples.

    Examples
    --------
    >>> min_series_length(3, 1, n_points=2)  # the paper's window: two points need 4
    4
    """
    return (int(dimension) - 1) * int(delay) + int(n_points)


def sliding_window(x, dimension: int = 3, delay: int = 1) -> np.ndarray:
    """Embed a time series as the point cloud of its delay vectors.

    Row ``t`` is ``(x[t], x[t + delay], ..., x[t + (dimension - 1) * delay])`` for
    ``t = 0 .. T - (dimension - 1) * delay - 1``: every window that fits, aligned on its
    first sample.  With the paper's settings (window 3, delay 1) a series of ``T``
    volumes gives ``T - 2`` points in R^3 (the released code's ``T - 3`` was an
    off-by-one).

    Parameters
    ----------
    x : array_like, shape (T,)
        One ROI's time series; finite values.
    dimension : int, default 3
        Window length (embedding dimension), >= 1.
    delay : int, default 1
        Lag between consecutive coordinates, in samples, >= 1.

    Returns
    -------
    numpy.ndarray, shape (T - (dimension - 1) * delay, dimension), float64
        A new C-contiguous array (not a view of ``x``).

    Raises
    ------
    ValueError
        If ``x`` is not one-dimensional, has a non-finite value (the message gives its
        index), or is shorter than ``(dimension - 1) * delay + 1`` samples (the message
        gives the number needed), or if ``dimension`` or ``delay`` is not a positive
        integer.

    Examples
    --------
    >>> sliding_window([1.0, 2.0, 3.0, 4.0])
    array([[1., 2., 3.],
           [2., 3., 4.]])
    >>> sliding_window(range(6), dimension=2, delay=3)
    array([[0., 3.],
           [1., 4.],
           [2., 5.]])
    """
    dimension = check_int("dimension", dimension, 1)
    delay = check_int("delay", delay, 1)
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("time series must be numeric") from None
    if arr.ndim != 1:
        raise ValueError(f"time series must be one-dimensional; got shape {arr.shape}")
    bad = first_nonfinite(arr)
    if bad is not None:
        k = bad[0]
        raise ValueError(
            f"time series has {int((~np.isfinite(arr)).sum())} non-finite value(s), "
            f"first at index {k} "
            f"({float(arr[k])!r})"
        )
    span = min_series_length(dimension, delay)
    if arr.size < span:
        raise ValueError(
            f"time series too short: dimension={dimension}, delay={delay} need at least "
            f"{span} points; got {arr.size}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(arr, span)[:, ::delay]
    return np.ascontiguousarray(windows)
