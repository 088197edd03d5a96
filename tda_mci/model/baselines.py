"""Baseline classifiers, fitted inside each fold like the CNN.

* ``logreg``: PR upper triangle -> ``StandardScaler`` -> ``LogisticRegression`` (L2, C=1);
* ``rf``: PR upper triangle -> ``StandardScaler`` -> ``RandomForestClassifier``;
* ``corr_logreg``: Pearson-correlation connectivity of the ROI time series (upper
  triangle, Fisher z; see :func:`tda_mci.model.data.correlation_features`) ->
  ``StandardScaler`` -> ``LogisticRegression``.

Every fitted statistic (feature means and SDs, weights, trees) is a step of one
scikit-learn ``Pipeline`` fitted on the training fold only.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["BASELINES", "make_baseline"]

#: Baseline model names.
BASELINES = ("logreg", "rf", "corr_logreg")

#: Trees of the random forest.
RF_TREES = 300


def make_baseline(model: str, seed: int = 0, n_jobs: int | None = None) -> Pipeline:
    """Return an unfitted baseline pipeline.

    Parameters
    ----------
    model : {"logreg", "rf", "corr_logreg"}
        Which baseline (``corr_logreg`` is ``logreg`` on correlation features).
    seed : int
        ``random_state`` of the classifier.
    n_jobs : int, optional
        Parallel jobs of the random forest (``None``: 1).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` (StandardScaler) and ``clf``.

    Raises
    ------
    ValueError
        If ``model`` is not a baseline name.
    """
    seed = int(seed) % 2**32
    if model in ("logreg", "corr_logreg"):
        clf = LogisticRegression(C=1.0, max_iter=10_000, random_state=seed)
    elif model == "rf":
        clf = RandomForestClassifier(n_estimators=RF_TREES, random_state=seed, n_jobs=n_jobs or 1)
    else:
        raise ValueError(f"baseline model must be one of {BASELINES}, got {model!r}")
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def fit_predict_baseline(
    model: str,
    features_train: np.ndarray,
    y_train: np.ndarray,
    features_test: np.ndarray,
    seed: int = 0,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Fit a baseline on one training fold and return P(class 1) for the test fold.

    A training fold with a single class (possible only under label permutation) gets
    the constant prediction of that class.

    Parameters
    ----------
    model : str
        See :func:`make_baseline`.
    features_train, features_test : numpy.ndarray
        ``(subjects, features)`` of the training and test subjects.
    y_train : numpy.ndarray
        Labels 0/1 of the training subjects.
    seed : int
        Classifier seed.
    n_jobs : int, optional
        Random-forest jobs.

    Returns
    -------
    numpy.ndarray
        Probability of class 1 per test subject.
    """
    classes = np.unique(y_train)
    if classes.size == 1:
        return np.full(features_test.shape[0], float(classes[0]))
    pipe = make_baseline(model, seed=seed, n_jobs=n_jobs)
    pipe.fit(features_train, y_train)
    col = list(pipe.classes_).index(1)
    return pipe.predict_proba(features_test)[:, col]
