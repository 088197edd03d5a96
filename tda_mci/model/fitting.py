"""Fit one model on one training fold and score it on the test fold.

Models: ``cnn``, the hybrid CNN of :mod:`tda_mci.model.train` (torch is imported on
first use), and the baselines of :mod:`tda_mci.model.baselines`. Everything fitted
sees training-fold subjects only: the CNN's weights and, with early stopping, its epoch
choice (an inner validation split carved from the training fold), the baselines'
scalers and classifiers. The test fold is only predicted, and, for plotting, monitored
per epoch. With a :class:`~tda_mci.model.harmonize.Harmonization`, ComBat is fitted on
the training fold (all of it, the CNN's inner validation subjects included: they are
training subjects) and applied to the test fold before anything else is fitted
(:func:`~tda_mci.model.harmonize.harmonize_inputs`); the diagnosis is not protected.

Conventions: ``data`` is the per-subject model input of all subjects
(:func:`model_inputs`), ``y`` their labels 0/1, ``train`` and ``test`` sorted int64
subject indices into both; a fold's ``seed`` comes from
:func:`tda_mci.model.folds.fold_seed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tda_mci.model.baselines import BASELINES, fit_predict_baseline
from tda_mci.model.data import check_matrices, correlation_features, upper_triangle
from tda_mci.model.folds import inner_split
from tda_mci.model.harmonize import Harmonization, harmonize_inputs
from tda_mci.model.metrics import binary_metrics

__all__ = ["MODELS", "CNNTraining", "FoldFit", "fit_fold", "model_inputs"]

#: Model names accepted by :func:`tda_mci.model.evaluate.cross_validate`.
MODELS = ("cnn", *BASELINES)

@dataclass(frozen=True)
class CNNTraining:
    """CNN training settings shared by every fold of a cross-validation.

    Attributes
    ----------
    epochs, batch_size, lr : int, int, float
        See :func:`tda_mci.model.train.train_model` (checked there).
    device : str or torch.device
        ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``; a torch.device once
        :meth:`resolved`.
    threads : int or None
        Torch threads during training (``None``: torch's setting).
    inner_val_fraction : float
        Fraction of each training fold held out (stratified) as inner validation
        subjects; 0: none, train on the whole fold and keep the final epoch.
    early_stopping : int or None
        Patience on the inner validation loss (used only with a validation split; None
        records the validation curves without stopping early).
    test_curves : bool
        Record the test fold's loss and accuracy per epoch (plotting only).
    """

    epochs: int
    batch_size: int
    lr: float
    device: Any
    threads: int | None
    inner_val_fraction: float
    early_stopping: int | None
    test_curves: bool

    def resolved(self) -> CNNTraining:
        """Return a copy with the device resolved.

        ``device`` goes through :func:`tda_mci.model.train.select_device` (which raises
        for an unavailable device).
        """
        from tda_mci.model.train import select_device

        return replace(self, device=select_device(self.device))


@dataclass(frozen=True)
class FoldFit:
    """What one fold's model gave: test probabilities, metrics, training record.

    Attributes
    ----------
    prob : numpy.ndarray
        P(label 1) per test subject, in the order of the fold's ``test`` indices.
    metrics : dict
        :func:`~tda_mci.model.metrics.binary_metrics` of the test fold.
    n_train : int
        Subjects the model was fitted on (the training fold less any validation split).
    val : numpy.ndarray
        int64 indices of the inner validation subjects (empty when none).
    history : dict or None
        :func:`~tda_mci.model.train.train_model`'s history (CNN); None for baselines.
    """

    prob: np.ndarray
    metrics: dict
    n_train: int
    val: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    history: dict | None = None

    @property
    def epochs_run(self):
        """Epochs trained (int; NaN for a baseline)."""
        return np.nan if self.history is None else self.history["epochs_run"]

    @property
    def best_epoch(self):
        """Epoch whose weights were kept (int; NaN for a baseline)."""
        return np.nan if self.history is None else self.history["best_epoch"]


def model_inputs(X, model: str, ids: list[str] | None) -> np.ndarray:
    """Validate the raw inputs once; return the model's per-subject input.

    Parameters
    ----------
    X : array_like or sequence of array_like
        PR matrices ``(subjects, n, n)`` (``cnn``, ``logreg``, ``rf``) or one ``(T, n)``
        ROI time series per subject (``corr_logreg``).
    model : str
        One of :data:`MODELS`.
    ids : list of str, optional
        Subject ids, to name a bad subject in errors.

    Returns
    -------
    numpy.ndarray
        ``cnn``: the float64 matrices; ``logreg``, ``rf``: their upper triangles;
        ``corr_logreg``: Fisher-z correlation features. One row per subject.
    """
    if model == "cnn":
        return check_matrices(X, ids)
    if model in ("logreg", "rf"):
        return upper_triangle(X, ids)
    if model == "corr_logreg":
        return correlation_features(X, ids)
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def fit_fold(
    model: str,
    data: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    *,
    cnn: CNNTraining | None = None,
    n_jobs: int | None = None,
    harmonization: Harmonization | None = None,
) -> FoldFit:
    """Fit ``model`` on the training fold and score it on the test fold.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    data, y, train, test
        See the module docstring.
    seed : int
        The fold's seed (weights, dropout, shuffling, inner split; classifier seed).
    cnn : CNNTraining, optional
        CNN settings, :meth:`CNNTraining.resolved` (required when ``model == "cnn"``).
    n_jobs : int, optional
        Random-forest jobs.
    harmonization : Harmonization, optional
        Sites and covariates of all subjects: ComBat is fitted on the training fold
        (seed ``seed``) and applied to the test fold first, on the baselines' feature
        matrix (before their pipeline, whose scaler stays in it) or on the strict upper
        triangle of the CNN's PR matrices (rebuilt symmetric, diagonal unchanged, then
        standardised per matrix in training as without it). The diagnosis is not
        protected. None (default): no harmonisation, inputs used as they are.

    Returns
    -------
    FoldFit

    Raises
    ------
    tda_mci.model.harmonize.HarmonizationError
        If ComBat cannot be fitted or applied in this fold (a ValueError).
    """
    if harmonization is not None:
        data = harmonize_inputs(data, train, test, harmonization, seed)
    if model == "cnn":
        return _fit_cnn(data, y, train, test, seed, cnn)
    prob = fit_predict_baseline(model, data[train], y[train], data[test], seed=seed, n_jobs=n_jobs)
    return FoldFit(prob, binary_metrics(y[test], prob), train.size)


def _fit_cnn(data, y, train, test, seed: int, cnn: CNNTraining) -> FoldFit:
    """Train the CNN on one fold (with inner validation split if asked) and predict."""
    from tda_mci.model.train import predict_proba, train_model

    fit, val = train, np.empty(0, dtype=np.int64)
    kwargs = {}
    if cnn.inner_val_fraction > 0:
        inner, val_pos = inner_split(y[train], float(cnn.inner_val_fraction), seed)
        fit, val = train[inner], train[val_pos]
        kwargs.update(X_val=data[val], y_val=y[val], early_stopping=cnn.early_stopping)
    if cnn.test_curves:
        kwargs.update(X_monitor=data[test], y_monitor=y[test])
    net, history = train_model(
        data[fit],
        y[fit],
        epochs=cnn.epochs,
        batch_size=cnn.batch_size,
        lr=cnn.lr,
        seed=seed,
        device=cnn.device,
        threads=cnn.threads,
        **kwargs,
    )
    prob = predict_proba(net, data[test], cnn.device)[:, 1]
    return FoldFit(prob, binary_metrics(y[test], prob), fit.size, val, history)
