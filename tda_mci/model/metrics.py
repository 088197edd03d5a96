"""Binary classification metrics per fold and their summary over folds.

Label 1 (the comparison's second group, e.g. the patients) is the positive class:
sensitivity is the recall of class 1, specificity the recall of class 0. Metrics are
computed from confusion counts (and ranks for the ROC AUC) here, independently of
scikit-learn, and the tests check them against scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["METRICS", "binary_metrics", "confusion_counts", "roc_auc", "summarise_folds"]

#: Metrics reported per fold, in table order.
METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "sensitivity", "specificity", "f1")

#: How the 95% interval over folds is computed (stored with every summary).
CI_METHOD_CV = (
    "Nadeau-Bengio corrected resampled t-interval over folds: mean +- t(0.975, K-1) * "
    "sqrt((1/K + n_test/n_train) * SD^2), K = folds x repeats, clipped to [0, 1]"
)
CI_METHOD_SINGLE = (
    "single split: Clopper-Pearson exact binomial interval of the test accuracy; "
    "no interval for the other metrics"
)


def confusion_counts(y_true, y_pred) -> np.ndarray:
    """Return the 2 x 2 confusion matrix ``[[TN, FP], [FN, TP]]`` (rows: true class).

    Parameters
    ----------
    y_true, y_pred : array_like
        Labels 0/1 of equal length.

    Returns
    -------
    numpy.ndarray
        int64 array of shape (2, 2), scikit-learn's layout for labels ``[0, 1]``.
    """
    t = np.asarray(y_true).astype(np.int64)
    p = np.asarray(y_pred).astype(np.int64)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {t.shape}, {p.shape}")
    if not (np.isin(t, (0, 1)).all() and np.isin(p, (0, 1)).all()):
        raise ValueError("y_true and y_pred must hold only 0 and 1")
    return np.bincount(2 * t + p, minlength=4).reshape(2, 2)


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney) formula.

    ``AUC = (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0)`` with ``R_1`` the sum of the average
    ranks of the class-1 scores; ties count one half.

    Parameters
    ----------
    y_true : array_like
        Labels 0/1.
    score : array_like
        Higher means more likely class 1.

    Returns
    -------
    float
        The AUC, or NaN when ``y_true`` holds a single class.
    """
    t = np.asarray(y_true).astype(bool)
    n1 = int(t.sum())
    n0 = t.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(np.asarray(score, dtype=np.float64))
    return float((ranks[t].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def binary_metrics(y_true, prob_1, threshold: float = 0.5) -> dict[str, float]:
    """Return the metrics of :data:`METRICS` for one fold.

    Parameters
    ----------
    y_true : array_like
        Labels 0/1.
    prob_1 : array_like
        Predicted probability of class 1; the predicted label is ``prob_1 > threshold``.
    threshold : float
        Decision threshold (fixed; never tuned on test subjects).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (mean of sensitivity and specificity),
        ``roc_auc`` (NaN for a one-class fold), ``sensitivity`` (TP / (TP + FN)),
        ``specificity`` (TN / (TN + FP)) and ``f1`` (2TP / (2TP + FP + FN), 0 when
        undefined). A rate whose denominator is 0 is NaN.
    """
    prob = np.asarray(prob_1, dtype=np.float64)
    pred = (prob > threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_counts(y_true, pred)
    total = tn + fp + fn + tp
    sens = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    if tp + fn and tn + fp:
        bal = (sens + spec) / 2
    else:
        bal = sens if tp + fn else spec
    return {
        "accuracy": float((tp + tn) / total) if total else float("nan"),
        "balanced_accuracy": float(bal),
        "roc_auc": roc_auc(y_true, prob),
        "sensitivity": float(sens),
        "specificity": float(spec),
        "f1": float(2 * tp / (2 * tp + fp + fn)) if 2 * tp + fp + fn else 0.0,
    }


def summarise_folds(
    fold_metrics: pd.DataFrame,
    n_train: float,
    n_test: float,
    metrics=METRICS,
) -> tuple[pd.DataFrame, str]:
    """Mean, SD and 95% interval of each metric over folds.

    With K >= 2 folds (all repeats together) the interval is the Nadeau-Bengio
    corrected resampled t-interval ``mean +- t(0.975, K-1) * sqrt((1/K + n_test/n_train)
    * SD^2)``, which widens the naive interval to allow for the overlap of training
    sets between folds; it is clipped to [0, 1]. With one fold (the paper's single
    80/20 split) the accuracy gets the Clopper-Pearson exact binomial interval over the
    ``n_test`` test subjects and the other metrics none.

    Parameters
    ----------
    fold_metrics : pandas.DataFrame
        One row per fold with a column per metric (NaN values are skipped).
    n_train, n_test : float
        Mean training and test fold sizes.
    metrics : sequence of str
        Columns to summarise.

    Returns
    -------
    summary : pandas.DataFrame
        Index: metric; columns ``mean``, ``sd`` (ddof 1; NaN for one fold), ``ci_low``,
        ``ci_high``, ``n_folds`` (folds with a finite value).
    ci_method : str
        Description of the interval.
    """
    rows = {}
    single = len(fold_metrics) == 1
    for name in metrics:
        v = fold_metrics[name].to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        k = v.size
        mean = float(v.mean()) if k else float("nan")
        sd = float(v.std(ddof=1)) if k >= 2 else float("nan")
        lo = hi = float("nan")
        if k >= 2:
            half = stats.t.ppf(0.975, k - 1) * np.sqrt((1 / k + n_test / n_train) * sd**2)
            lo, hi = max(0.0, mean - half), min(1.0, mean + half)
        elif single and k == 1 and name == "accuracy":
            n = int(round(n_test))
            ci = stats.binomtest(int(round(mean * n)), n).proportion_ci(
                confidence_level=0.95, method="exact"
            )
            lo, hi = float(ci.low), float(ci.high)
        rows[name] = {"mean": mean, "sd": sd, "ci_low": lo, "ci_high": hi, "n_folds": k}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "metric"
    return summary, CI_METHOD_SINGLE if single else CI_METHOD_CV
