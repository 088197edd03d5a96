"""Honest evaluation: cross-validation protocols, label-permutation p-values.

Nothing is fitted on test subjects: the CNN's weights and its epoch choice (inner
validation split of the training fold, when early stopping is on) and the baselines'
scalers and classifiers see training-fold subjects only. Per-subject transforms
(per-matrix standardisation, Fisher-z correlation features) are computed once for all
subjects because they involve no other subject. ComBat harmonisation across sites
(optional, :mod:`tda_mci.model.harmonize`) is fitted on each training fold and applied
to its test fold; it protects the given covariates, not the diagnosis (that would need
the test subjects' labels), and never sees the labels. Folds are built in
:mod:`tda_mci.model.folds`, each fold is fitted by :mod:`tda_mci.model.fitting`, the
result is assembled by :mod:`tda_mci.model.results`.

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

Result
------
:func:`cross_validate` returns a dict with

* ``model``, ``protocol``, ``seed``, ``n_subjects``, ``class_counts``, ``device``
  (``"cpu"`` for baselines), ``folds`` (the folds used);
* ``predictions``: DataFrame ``repeat, fold, subject_id, y_true, prob_1, y_pred``
  (``y_pred = prob_1 > 0.5``), one row per test subject per repeat;
* ``fold_metrics``: DataFrame ``repeat, fold, n_train, n_val, n_test, epochs_run,
  best_epoch`` + the metrics of :data:`~tda_mci.model.metrics.METRICS`
  (``epochs_run``, ``best_epoch`` NaN for baselines);
* ``summary``: ``{metric: {"mean", "sd", "ci_low", "ci_high", "n_folds"}}`` (floats,
  NaN where undefined) and ``ci_method`` (str, see
  :func:`~tda_mci.model.metrics.summarise_folds`);
* ``confusion_matrix``: ``[[TN, FP], [FN, TP]]`` summed over all folds and repeats
  (each subject counted once per repeat);
* ``learning_curves``: DataFrame ``repeat, fold, epoch, train_loss, train_accuracy,
  val_loss, val_accuracy, test_loss, test_accuracy`` (CNN; empty for baselines;
  ``test_*`` are for plotting only);
* protocol ``paper`` with the CNN adds ``final_epoch_accuracy`` and
  ``best_epoch_accuracy_optimistic`` (max over epochs of the test accuracy:
  optimistic, it selects on the test subjects).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tda_mci.model.data import check_labels, check_subject_ids
from tda_mci.model.fitting import MODELS, CNNTraining, FoldFit, fit_fold, model_inputs
from tda_mci.model.folds import PROTOCOLS, Fold, check_folds, fold_seed, make_folds
from tda_mci.model.harmonize import Harmonization, HarmonizationError
from tda_mci.model.metrics import METRICS
from tda_mci.model.results import assemble_result, result_to_json
from tda_mci.validation import check_int

__all__ = [
    "MODELS",
    "PROTOCOLS",
    "cross_validate",
    "make_folds",
    "permutation_pvalue",
    "result_to_json",
]


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
    early_stopping: int | None = 10,
    folds: Sequence[Fold] | None = None,
    test_curves: bool = True,
    callback: Callable[[dict], None] | None = None,
    harmonization: Harmonization | None = None,
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
    protocol, n_splits, n_repeats, folds
        The folds: ``folds`` from :func:`make_folds` (so that all models of a
        comparison share them), else ``make_folds(y, protocol, n_splits, n_repeats,
        seed)``. ``protocol`` also decides the paper-only keys of the result.
    epochs, batch_size, lr, device, threads : int, int, float, str, int or None
        CNN training (see :func:`tda_mci.model.train.train_model`; ``device``: ``auto``,
        ``cpu`` or ``cuda``); ``threads`` are also the random forest's jobs.
    seed : int
        Seed of the folds and, through :func:`~tda_mci.model.folds.fold_seed`, of each
        fold's model.
    model : {"cnn", "logreg", "rf", "corr_logreg"}
        Which classifier.
    inner_val_fraction, early_stopping : float, int or None
        CNN only: fraction of each training fold held out (stratified) as inner
        validation subjects, and the patience in epochs on their loss (default 10; None
        records the validation curves without stopping early).
        ``inner_val_fraction=0`` (default): train ``epochs`` epochs on the whole
        training fold and keep the final epoch, as the paper does.
    test_curves : bool
        CNN only: record the test fold's loss and accuracy per epoch, for plotting
        only (they never choose an epoch); needed for ``best_epoch_accuracy_optimistic``.
    callback : callable, optional
        Called after each fold with a dict ``repeat, fold, n_folds, train_idx,
        val_idx, test_idx, metrics`` (e.g. for progress logging).
    harmonization : Harmonization, optional
        Sites and protected covariates of the subjects (same order): ComBat
        (neuroHarmonize, empirical Bayes) is fitted on every training fold with the
        fold's seed and applied to its test fold, before the model is fitted (see
        :func:`~tda_mci.model.fitting.fit_fold`). The diagnosis is not protected.
        None (default): no harmonisation.

    Returns
    -------
    dict
        See the module docstring, section *Result*.

    Raises
    ------
    ValueError
        On malformed inputs (naming the subject), an unknown model or protocol,
        folds too small for the requested split, or a fold where ComBat cannot be
        fitted (:class:`~tda_mci.model.harmonize.HarmonizationError`, naming the repeat
        and fold).
    """
    data, y, ids, threads = _check_inputs(
        X, y, subject_ids, model, protocol, inner_val_fraction, threads
    )
    if folds is None:
        folds = make_folds(y, protocol, n_splits, n_repeats, seed)
    folds = check_folds(folds, y.size)
    if harmonization is not None and harmonization.n_subjects != y.size:
        raise ValueError(
            f"harmonization has {harmonization.n_subjects} subjects, the inputs {y.size}"
        )
    cnn = None
    if model == "cnn":
        cnn = CNNTraining(
            epochs, batch_size, lr, device, threads, inner_val_fraction, early_stopping, test_curves
        ).resolved()
    fits = _run_folds(model, data, y, folds, seed, cnn, threads, callback, harmonization)
    device = str(cnn.device) if cnn is not None else "cpu"
    return assemble_result(
        fits, folds, ids, y, model=model, protocol=protocol, seed=seed, device=device
    )


def _check_inputs(X, y, subject_ids, model, protocol, inner_val_fraction, threads):
    """Validate :func:`cross_validate`'s inputs; return ``(data, y, ids, threads)``.

    ``data`` is the model's per-subject input (:func:`~tda_mci.model.fitting.model_inputs`),
    ``y`` int64 labels, ``ids`` the subject ids, ``threads`` an int or None.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    ids = check_subject_ids(subject_ids, len(X))
    data = model_inputs(X, model, ids)
    y = check_labels(y, data.shape[0])
    if not 0.0 <= float(inner_val_fraction) < 1.0:
        raise ValueError(f"inner_val_fraction must be in [0, 1), got {inner_val_fraction!r}")
    if threads is not None:
        threads = check_int("threads", threads, 1)
    return data, y, ids, threads


def _run_folds(
    model: str,
    data: np.ndarray,
    y: np.ndarray,
    folds: list[Fold],
    seed: int,
    cnn: CNNTraining | None,
    threads: int | None,
    callback: Callable[[dict], None] | None,
    harmonization: Harmonization | None = None,
) -> list[FoldFit]:
    """Fit and score every fold in order, calling ``callback`` after each."""
    fits = []
    for repeat, fold, train, test in folds:
        try:
            fit = fit_fold(
                model, data, y, train, test, fold_seed(seed, repeat, fold), cnn=cnn,
                n_jobs=threads, harmonization=harmonization,
            )  # fmt: skip
        except HarmonizationError as err:
            raise HarmonizationError(f"repeat {repeat}, fold {fold}: {err}") from None
        fits.append(fit)
        if callback is not None:
            callback(
                {
                    "repeat": repeat,
                    "fold": fold,
                    "n_folds": len(folds),
                    "train_idx": train,
                    "val_idx": fit.val,
                    "test_idx": test,
                    "metrics": fit.metrics,
                }
            )
    return fits


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
    harmonization: Harmonization | None = None,
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
    harmonization : Harmonization, optional
        Passed on to :func:`cross_validate`: ComBat per training fold. Sites and
        covariates stay with their subjects (only the labels are permuted) and ComBat
        does not see the labels, so every permutation harmonises each fold exactly as
        the observed run does.
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
    settings = dict(protocol=protocol, seed=seed, folds=folds, test_curves=False, **cv_kwargs)
    if harmonization is not None:
        settings["harmonization"] = harmonization
    if observed is None:
        observed = _mean_score(X, y, subject_ids, metric, settings)
    rng = np.random.default_rng(seed)
    null = np.empty(int(n_permutations))
    for i in range(int(n_permutations)):
        null[i] = _mean_score(X, rng.permutation(y), subject_ids, metric, settings)
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


def _mean_score(X, labels, subject_ids, metric: str, settings: dict) -> float:
    """Fold-mean ``metric`` of :func:`cross_validate` with ``settings`` on ``labels``."""
    res = cross_validate(X, labels, subject_ids, **settings)
    return float(res["summary"][metric]["mean"])
