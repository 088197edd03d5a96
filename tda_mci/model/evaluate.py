"""Honest evaluation: cross-validation protocols, label-permutation p-values.

Nothing is fitted on test subjects: the CNN's weights and its epoch choice (inner
validation split of the training fold, when early stopping is on) and the baselines'
scalers and classifiers see training-fold subjects only. Per-subject transforms
(per-matrix standardisation, Fisher-z correlation features) are computed once for all
subjects because they involve no other subject.

Protocols
---------
``"cv"`` (default)
    Repeated stratified k-fold (scikit-learn ``RepeatedStratifiedKFold`` seeded with
    ``seed``); metrics per fold, summarised by mean, SD and a corrected t-interval.
``"paper"``
    The paper's protocol: one stratified 80/20 split (``StratifiedShuffleSplit``,
    seeded), fixed epochs, accuracy of the final epoch. The best test-epoch accuracy
    the paper reported is stored as ``best_epoch_accuracy_optimistic``: it chooses the
    epoch on the test subjects and is biased upwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedShuffleSplit

from tda_mci.model.baselines import BASELINES, fit_predict_baseline
from tda_mci.model.data import (
    check_int,
    check_labels,
    check_matrices,
    check_subject_ids,
    correlation_features,
    upper_triangle,
)
from tda_mci.model.metrics import METRICS, binary_metrics, confusion_counts, summarise_folds
from tda_mci.model.tables import best_results_table, summary_table

__all__ = [
    "MODELS",
    "PROTOCOLS",
    "best_results_table",
    "cross_validate",
    "fold_seed",
    "make_folds",
    "permutation_pvalue",
    "result_to_json",
    "summary_table",
]

#: Model names accepted by :func:`cross_validate`.
MODELS = ("cnn", *BASELINES)
#: Evaluation protocols.
PROTOCOLS = ("cv", "paper")

Fold = tuple[int, int, np.ndarray, np.ndarray]


def make_folds(
    y,
    protocol: str = "cv",
    n_splits: int = 5,
    n_repeats: int = 3,
    seed: int = 0,
    test_size: float = 0.2,
) -> list[Fold]:
    """Return the train/test folds every model of a comparison shares.

    Parameters
    ----------
    y : array_like
        Labels 0/1 (folds are stratified on them).
    protocol : {"cv", "paper"}
        ``cv``: ``RepeatedStratifiedKFold(n_splits, n_repeats, random_state=seed)``;
        ``paper``: one ``StratifiedShuffleSplit(test_size=test_size, random_state=seed)``
        split (``n_splits`` and ``n_repeats`` ignored).
    n_splits, n_repeats : int
        Folds per repeat and repeats (``cv`` only).
    seed : int
        Seed of the split.
    test_size : float
        Test fraction of the ``paper`` protocol (paper: 0.2).

    Returns
    -------
    list of tuple
        ``(repeat, fold, train_idx, test_idx)`` with 0-based ``repeat`` and ``fold`` and
        sorted int64 index arrays into ``y``; within a repeat the test folds partition
        the subjects.

    Raises
    ------
    ValueError
        For an unknown protocol, bad counts, or a class with fewer members than
        ``n_splits`` (``cv``) or than 2 (``paper``).
    """
    y = check_labels(y)
    counts = np.bincount(y, minlength=2)
    if protocol == "cv":
        n_splits = check_int("n_splits", n_splits, 2)
        n_repeats = check_int("n_repeats", n_repeats, 1)
        if counts.min() < n_splits:
            raise ValueError(
                f"stratified {n_splits}-fold CV needs at least {n_splits} subjects per class, "
                f"got {counts[0]} of class 0 and {counts[1]} of class 1"
            )
        splitter = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=int(seed)
        )
        per_repeat = n_splits
    elif protocol == "paper":
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
        if counts.min() < 2:
            raise ValueError(
                f"a stratified split needs at least 2 subjects per class, got {counts.tolist()}"
            )
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=float(test_size), random_state=int(seed)
        )
        per_repeat = 1
    else:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    splits = splitter.split(np.zeros((y.size, 1)), y)
    return [
        (
            i // per_repeat,
            i % per_repeat,
            np.sort(tr).astype(np.int64),
            np.sort(te).astype(np.int64),
        )
        for i, (tr, te) in enumerate(splits)
    ]


def fold_seed(seed: int, repeat: int, fold: int) -> int:
    """Return the training seed of one fold, derived from the run's seed.

    Parameters
    ----------
    seed : int
        The run's seed.
    repeat, fold : int
        The fold's position.

    Returns
    -------
    int
        A 31-bit seed (``numpy.random.SeedSequence([seed, repeat, fold])``), the same on
        every platform.
    """
    state = np.random.SeedSequence([int(seed), int(repeat), int(fold)]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


def _inner_split(y_train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified inner train/validation split of a training fold (positions into it)."""
    counts = np.bincount(y_train, minlength=2)
    n_val = int(np.ceil(fraction * y_train.size))
    if counts.min() < 2 or n_val < 2 or y_train.size - n_val < 2:
        raise ValueError(
            f"inner_val_fraction={fraction} cannot carve a stratified validation split from a "
            f"training fold with {counts[0]} + {counts[1]} subjects"
        )
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    inner, val = next(splitter.split(np.zeros((y_train.size, 1)), y_train))
    return np.sort(inner), np.sort(val)


def _check_folds(folds: Sequence[Fold], n: int) -> list[Fold]:
    out = []
    for item in folds:
        repeat, fold, train, test = item
        train = np.asarray(train, dtype=np.int64)
        test = np.asarray(test, dtype=np.int64)
        if np.intersect1d(train, test).size:
            raise ValueError(f"fold (repeat {repeat}, fold {fold}) has subjects in train and test")
        if (
            min(train.min(initial=0), test.min(initial=0)) < 0
            or max(train.max(initial=0), test.max(initial=0)) >= n
        ):
            raise ValueError(f"fold (repeat {repeat}, fold {fold}) indexes outside 0..{n - 1}")
        if train.size == 0 or test.size == 0:
            raise ValueError(f"fold (repeat {repeat}, fold {fold}) has an empty train or test set")
        out.append((int(repeat), int(fold), train, test))
    if not out:
        raise ValueError("folds is empty")
    return out


def _prepare(X, model: str, ids: list[str] | None) -> tuple[np.ndarray, int]:
    """Validate inputs once; return the model's per-subject input and the subject count."""
    if model == "cnn":
        Xc = check_matrices(X, ids)
        return Xc, Xc.shape[0]
    if model in ("logreg", "rf"):
        feats = upper_triangle(X, ids)
        return feats, feats.shape[0]
    if model == "corr_logreg":
        feats = correlation_features(X, ids)
        return feats, feats.shape[0]
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def cross_validate(
    X,
    y,
    subject_ids: Sequence[str] | None = None,
    *,
    protocol: str = "cv",
    n_splits: int = 5,
    n_repeats: int = 3,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    model: str = "cnn",
    inner_val_fraction: float = 0.0,
    early_stopping: int | None = None,
    folds: Sequence[Fold] | None = None,
    test_curves: bool = True,
    callback: Callable[[dict], None] | None = None,
) -> dict:
    """Evaluate one model on one network x homology dimension under a protocol.

    Parameters
    ----------
    X : array_like or sequence of array_like
        ``cnn``, ``logreg``, ``rf``: raw PR matrices ``(subjects, n, n)`` (atlas ROI
        order). ``corr_logreg``: one ``(T, n)`` ROI time-series array per subject, same
        network and subject order.
    y : array_like
        Labels: 0 = the comparison's first group (e.g. HC), 1 = the second.
    subject_ids : sequence of str, optional
        Ids written with the predictions (default ``"0", "1", ...``).
    protocol : {"cv", "paper"}
        See the module docstring and :func:`make_folds`.
    n_splits, n_repeats : int
        Folds and repeats of ``cv``.
    epochs, batch_size, lr : int, int, float
        CNN training (see :func:`tda_mci.model.train.train_model`).
    seed : int
        Seed of the folds and, through :func:`fold_seed`, of each fold's model.
    device : str
        CNN device: ``auto``, ``cpu``, ``cuda``.
    threads : int, optional
        Torch threads of the CNN; random-forest jobs.
    model : {"cnn", "logreg", "rf", "corr_logreg"}
        Which classifier.
    inner_val_fraction : float
        CNN only: fraction of each training fold held out (stratified) as an inner
        validation set for early stopping; 0 (default) trains ``epochs`` epochs on
        the whole training fold and keeps the final epoch, as the paper does.
    early_stopping : int, optional
        CNN only: patience in epochs on the inner validation loss (default 10 when
        ``inner_val_fraction > 0``).
    folds : sequence of tuple, optional
        Precomputed ``(repeat, fold, train_idx, test_idx)`` from :func:`make_folds`, so
        that all models of a comparison share the same folds. Default: computed here
        from ``y``, ``protocol``, ``n_splits``, ``n_repeats`` and ``seed``.
    test_curves : bool
        CNN only: record the test fold's loss and accuracy per epoch, for plotting
        only; they never choose an epoch. Needed for
        ``best_epoch_accuracy_optimistic``.
    callback : callable, optional
        Called after each fold with a dict ``repeat, fold, n_folds, train_idx,
        val_idx, test_idx, metrics`` (e.g. for progress logging).

    Returns
    -------
    dict
        ``model``, ``protocol``, ``seed``, ``n_subjects``, ``class_counts``,
        ``device`` (CNN), ``folds`` (the folds used);
        ``predictions``: DataFrame ``repeat, fold, subject_id, y_true, prob_1, y_pred``
        (``y_pred = prob_1 > 0.5``), one row per test subject per repeat;
        ``fold_metrics``: DataFrame ``repeat, fold, n_train, n_val, n_test,
        epochs_run, best_epoch`` + the metrics of
        :data:`~tda_mci.model.metrics.METRICS`;
        ``summary``: ``{metric: {"mean", "sd", "ci_low", "ci_high", "n_folds"}}``
        (floats, NaN where undefined) and ``ci_method`` (str, see
        :func:`~tda_mci.model.metrics.summarise_folds`);
        ``confusion_matrix``: ``[[TN, FP], [FN, TP]]`` summed over all folds and
        repeats (each subject counted once per repeat);
        ``learning_curves``: DataFrame ``repeat, fold, epoch, train_loss,
        train_accuracy, val_loss, val_accuracy, test_loss, test_accuracy`` (CNN; empty
        for baselines; ``test_*`` are for plotting only);
        protocol ``paper`` with the CNN adds ``final_epoch_accuracy`` and
        ``best_epoch_accuracy_optimistic`` (max over epochs of the test accuracy:
        optimistic, it selects on the test subjects).

    Raises
    ------
    ValueError
        On malformed inputs (naming the subject), an unknown model or protocol, or
        folds too small for the requested split.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    n_guess = len(X)
    ids = check_subject_ids(subject_ids, n_guess)
    data, n = _prepare(X, model, ids)
    y = check_labels(y, n)
    if not 0.0 <= float(inner_val_fraction) < 1.0:
        raise ValueError(f"inner_val_fraction must be in [0, 1), got {inner_val_fraction!r}")
    if threads is not None:
        threads = check_int("threads", threads, 1)
    use_val = model == "cnn" and inner_val_fraction > 0
    if use_val and early_stopping is None:
        early_stopping = 10
    if folds is None:
        folds = make_folds(y, protocol, n_splits, n_repeats, seed)
    folds = _check_folds(folds, n)

    if model == "cnn":
        from tda_mci.model.train import predict_proba, select_device, train_model

        dev = select_device(device)

    pred_rows, metric_rows, curves = [], [], []
    n_train_sizes, n_test_sizes = [], []
    for repeat, fold, train, test in folds:
        fseed = fold_seed(seed, repeat, fold)
        val = np.empty(0, dtype=np.int64)
        epochs_run = best_epoch = np.nan
        if model == "cnn":
            fit = train
            kwargs = {}
            if use_val:
                inner, val_pos = _inner_split(y[train], float(inner_val_fraction), fseed)
                fit, val = train[inner], train[val_pos]
                kwargs.update(X_val=data[val], y_val=y[val], early_stopping=early_stopping)
            if test_curves:
                kwargs.update(X_monitor=data[test], y_monitor=y[test])
            net, hist = train_model(
                data[fit],
                y[fit],
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=fseed,
                device=dev,
                threads=threads,
                **kwargs,
            )
            prob = predict_proba(net, data[test], dev)[:, 1]
            epochs_run, best_epoch = hist["epochs_run"], hist["best_epoch"]
            n_ep = len(hist["epoch"])
            curve = pd.DataFrame(
                {
                    "repeat": repeat,
                    "fold": fold,
                    "epoch": hist["epoch"],
                    "train_loss": hist["train_loss"],
                    "train_accuracy": hist["train_accuracy"],
                    "val_loss": hist["val_loss"] or [np.nan] * n_ep,
                    "val_accuracy": hist["val_accuracy"] or [np.nan] * n_ep,
                    "test_loss": hist["monitor_loss"] or [np.nan] * n_ep,
                    "test_accuracy": hist["monitor_accuracy"] or [np.nan] * n_ep,
                }
            )
            curves.append(curve)
            n_fit = fit.size
        else:
            prob = fit_predict_baseline(
                model, data[train], y[train], data[test], seed=fseed, n_jobs=threads
            )
            n_fit = train.size
        m = binary_metrics(y[test], prob)
        n_train_sizes.append(n_fit)
        n_test_sizes.append(test.size)
        metric_rows.append(
            {
                "repeat": repeat,
                "fold": fold,
                "n_train": n_fit,
                "n_val": val.size,
                "n_test": test.size,
                "epochs_run": epochs_run,
                "best_epoch": best_epoch,
                **m,
            }
        )
        pred_rows.append(
            pd.DataFrame(
                {
                    "repeat": repeat,
                    "fold": fold,
                    "subject_id": [ids[i] for i in test],
                    "y_true": y[test],
                    "prob_1": prob,
                    "y_pred": (prob > 0.5).astype(np.int64),
                }
            )
        )
        if callback is not None:
            callback(
                {
                    "repeat": repeat,
                    "fold": fold,
                    "n_folds": len(folds),
                    "train_idx": train,
                    "val_idx": val,
                    "test_idx": test,
                    "metrics": m,
                }
            )

    predictions = pd.concat(pred_rows, ignore_index=True)
    fold_metrics = pd.DataFrame(metric_rows)
    summary, ci_method = summarise_folds(
        fold_metrics, float(np.mean(n_train_sizes)), float(np.mean(n_test_sizes))
    )
    curve_cols = [
        "repeat", "fold", "epoch", "train_loss", "train_accuracy",
        "val_loss", "val_accuracy", "test_loss", "test_accuracy",
    ]  # fmt: skip
    result = {
        "model": model,
        "protocol": protocol,
        "seed": int(seed),
        "n_subjects": int(n),
        "class_counts": np.bincount(y, minlength=2).tolist(),
        "device": str(dev) if model == "cnn" else "cpu",
        "folds": folds,
        "predictions": predictions,
        "fold_metrics": fold_metrics,
        "summary": {
            metric: {k: (int(v) if k == "n_folds" else float(v)) for k, v in row.items()}
            for metric, row in summary.to_dict(orient="index").items()
        },
        "ci_method": ci_method,
        "confusion_matrix": confusion_counts(predictions["y_true"], predictions["y_pred"]),
        "learning_curves": (
            pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=curve_cols)
        ),
    }
    if protocol == "paper" and model == "cnn":
        result["final_epoch_accuracy"] = float(fold_metrics["accuracy"].iloc[0])
        acc = result["learning_curves"]["test_accuracy"].to_numpy(dtype=np.float64)
        result["best_epoch_accuracy_optimistic"] = (
            float(np.nanmax(acc)) if np.isfinite(acc).any() else float("nan")
        )
    return result


def permutation_pvalue(
    X,
    y,
    subject_ids: Sequence[str] | None = None,
    *,
    n_permutations: int = 100,
    seed: int = 0,
    metric: str = "accuracy",
    observed: float | None = None,
    folds: Sequence[Fold] | None = None,
    protocol: str = "cv",
    n_splits: int = 5,
    n_repeats: int = 3,
    callback: Callable[[int, float], None] | None = None,
    **cv_kwargs,
) -> dict:
    """Label-permutation p-value of a model's cross-validated score.

    The folds are fixed (computed once from the true labels, or given); each
    permutation shuffles the labels of all subjects (``numpy.random.default_rng(seed)``)
    and reruns :func:`cross_validate` with the same folds and the same model seeds.
    ``p = (1 + #{null score >= observed}) / (1 + n_permutations)``.

    Parameters
    ----------
    X, y, subject_ids
        As for :func:`cross_validate`.
    n_permutations : int
        Number of label permutations (>= 1).
    seed : int
        Seed of the folds, the models and the permutations.
    metric : str
        Fold-mean metric used as the score (one of
        :data:`~tda_mci.model.metrics.METRICS`).
    observed : float, optional
        The observed score if already computed with the same folds and settings;
        computed here otherwise.
    folds : sequence of tuple, optional
        Folds from :func:`make_folds`; default computed from ``y``.
    protocol, n_splits, n_repeats
        Used to compute the folds when ``folds`` is None.
    callback : callable, optional
        Called as ``callback(i, score)`` after permutation ``i``.
    **cv_kwargs
        Passed on to :func:`cross_validate` (``model``, ``epochs``, ``device``, ...).

    Returns
    -------
    dict
        ``observed`` (float), ``null`` (array of permutation scores), ``pvalue``,
        ``n_permutations``, ``metric``.
    """
    n_permutations = check_int("n_permutations", n_permutations, 1)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    y = check_labels(y)
    if folds is None:
        folds = make_folds(y, protocol, n_splits, n_repeats, seed)

    def score(labels: np.ndarray) -> float:
        res = cross_validate(
            X, labels, subject_ids, protocol=protocol, seed=seed, folds=folds,
            test_curves=False, **cv_kwargs,
        )  # fmt: skip
        return float(res["summary"][metric]["mean"])

    if observed is None:
        observed = score(y)
    rng = np.random.default_rng(seed)
    null = np.empty(int(n_permutations))
    for i in range(int(n_permutations)):
        null[i] = score(rng.permutation(y))
        if callback is not None:
            callback(i, float(null[i]))
    pvalue = (1 + int(np.sum(null >= observed))) / (1 + null.size)
    return {
        "observed": float(observed),
        "null": null,
        "pvalue": float(pvalue),
        "n_permutations": int(n_permutations),
        "metric": metric,
    }


def _jsonable(value):
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
        Output of :func:`cross_validate` (extra keys such as ``comparison`` or
        ``permutation`` are kept).

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
