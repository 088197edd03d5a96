"""The result of a cross-validation: assembled from its folds, and converted to JSON.

The keys of a result are listed in :mod:`tda_mci.model.evaluate` (section *Result*).
Predictions are thresholded at 0.5 (``y_pred = prob_1 > 0.5``); label 1 is the
comparison's second group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tda_mci.model.fitting import FoldFit
from tda_mci.model.folds import Fold
from tda_mci.model.metrics import confusion_counts, summarise_folds

__all__ = ["CURVE_COLUMNS", "assemble_result", "learning_curve", "result_to_json"]

#: Columns of the ``learning_curves`` table.
CURVE_COLUMNS = [
    "repeat", "fold", "epoch", "train_loss", "train_accuracy",
    "val_loss", "val_accuracy", "test_loss", "test_accuracy",
]  # fmt: skip


def learning_curve(repeat: int, fold: int, history: dict) -> pd.DataFrame:
    """Return one fold's per-epoch curves (:data:`CURVE_COLUMNS`) from a training history.

    Curves that were not recorded (no validation split, no test monitoring) are NaN;
    ``test_*`` come from the history's ``monitor_*`` lists.
    """
    n_ep = len(history["epoch"])
    return pd.DataFrame(
        {
            "repeat": repeat,
            "fold": fold,
            "epoch": history["epoch"],
            "train_loss": history["train_loss"],
            "train_accuracy": history["train_accuracy"],
            "val_loss": history["val_loss"] or [np.nan] * n_ep,
            "val_accuracy": history["val_accuracy"] or [np.nan] * n_ep,
            "test_loss": history["monitor_loss"] or [np.nan] * n_ep,
            "test_accuracy": history["monitor_accuracy"] or [np.nan] * n_ep,
        }
    )


def _fold_tables(
    ids: list[str], y: np.ndarray, folds: Sequence[Fold], fits: Sequence[FoldFit]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the predictions, fold metrics and learning curves of all folds."""
    pred_rows, metric_rows, curves = [], [], []
    for (repeat, fold, _, test), fit in zip(folds, fits, strict=True):
        metric_rows.append(
            {
                "repeat": repeat,
                "fold": fold,
                "n_train": fit.n_train,
                "n_val": fit.val.size,
                "n_test": test.size,
                "epochs_run": fit.epochs_run,
                "best_epoch": fit.best_epoch,
                **fit.metrics,
            }
        )
        pred_rows.append(
            pd.DataFrame(
                {
                    "repeat": repeat,
                    "fold": fold,
                    "subject_id": [ids[i] for i in test],
                    "y_true": y[test],
                    "prob_1": fit.prob,
                    "y_pred": (fit.prob > 0.5).astype(np.int64),
                }
            )
        )
        if fit.history is not None:
            curves.append(learning_curve(repeat, fold, fit.history))
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(pred_rows, ignore_index=True), pd.DataFrame(metric_rows), curves


def assemble_result(
    fits: Sequence[FoldFit],
    folds: list[Fold],
    ids: list[str],
    y: np.ndarray,
    *,
    model: str,
    protocol: str,
    seed: int,
    device: str,
) -> dict:
    """Return the result dict of a cross-validation from its folds' fits.

    Parameters
    ----------
    fits : sequence of FoldFit
        One per fold, in the order of ``folds``.
    folds : list of tuple
        The folds ``(repeat, fold, train_idx, test_idx)``.
    ids : list of str
        Subject ids, indexed like ``y``.
    y : numpy.ndarray
        Labels 0/1 of all subjects.
    model, protocol, seed
        As given to :func:`~tda_mci.model.evaluate.cross_validate`.
    device : str
        Device the model ran on.

    Returns
    -------
    dict
        See :mod:`tda_mci.model.evaluate`, section *Result*.
    """
    predictions, fold_metrics, curves = _fold_tables(ids, y, folds, fits)
    summary, ci_method = summarise_folds(
        fold_metrics,
        float(np.mean([fit.n_train for fit in fits])),
        float(np.mean([test.size for *_, test in folds])),
    )
    result = {
        "model": model,
        "protocol": protocol,
        "seed": int(seed),
        "n_subjects": int(y.size),
        "class_counts": np.bincount(y, minlength=2).tolist(),
        "device": device,
        "folds": folds,
        "predictions": predictions,
        "fold_metrics": fold_metrics,
        "summary": {
            metric: {k: (int(v) if k == "n_folds" else float(v)) for k, v in row.items()}
            for metric, row in summary.to_dict(orient="index").items()
        },
        "ci_method": ci_method,
        "confusion_matrix": confusion_counts(predictions["y_true"], predictions["y_pred"]),
        "learning_curves": curves,
    }
    if protocol == "paper" and model == "cnn":
        result["final_epoch_accuracy"] = float(fold_metrics["accuracy"].iloc[0])
        acc = curves["test_accuracy"].to_numpy(dtype=np.float64)
        result["best_epoch_accuracy_optimistic"] = (
            float(np.nanmax(acc)) if np.isfinite(acc).any() else float("nan")
        )
    return result


def _jsonable(value):
    """Convert tables, arrays and numpy scalars to plain Python; NaN and inf to None."""
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def result_to_json(result: dict) -> dict:
    """Return the JSON-serialisable part of a :func:`cross_validate` result.

    Predictions and learning curves (tables) are left out: write them as TSV.
    ``fold_metrics`` becomes a list of records, the folds lists of test subject ids
    under ``test_subjects``, arrays lists; NaN becomes ``null``.

    Parameters
    ----------
    result : dict
        Output of :func:`~tda_mci.model.evaluate.cross_validate` (extra keys such as
        ``comparison`` or ``permutation`` are kept).

    Returns
    -------
    dict
        Plain Python types only.
    """
    out = {}
    for key, value in result.items():
        if key in ("predictions", "learning_curves", "folds"):
            continue
        out[key] = _jsonable(value)
    if "predictions" in result:
        pred = result["predictions"]
        out["test_subjects"] = [
            {"repeat": int(r), "fold": int(f), "subject_ids": g["subject_id"].tolist()}
            for (r, f), g in pred.groupby(["repeat", "fold"], sort=True)
        ]
    return out
