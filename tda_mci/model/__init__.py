"""Classification of PR matrices: the paper's hybrid CNN, baselines, honest evaluation.

Modules (torch is imported only by ``cnn`` and ``train``, and lazily here):

* :mod:`~tda_mci.model.cnn`: :class:`HybridCNN` (docs/method.md, section 6);
* :mod:`~tda_mci.model.data`: validation, per-matrix standardisation, baseline features;
* :mod:`~tda_mci.model.train`: :func:`train_model`, :func:`predict_proba`,
  :func:`select_device`;
* :mod:`~tda_mci.model.baselines`: logistic regression / random forest pipelines;
* :mod:`~tda_mci.model.metrics`: per-fold metrics and their summary over folds;
* :mod:`~tda_mci.model.folds`: :func:`make_folds`, :func:`fold_seed`, inner validation
  splits and fold checks;
* :mod:`~tda_mci.model.harmonize`: ComBat across sites per fold (neuroHarmonize):
  :class:`Harmonization`, :func:`harmonize_fold`;
* :mod:`~tda_mci.model.fitting`: one model fitted on one fold (:func:`fit_fold`);
* :mod:`~tda_mci.model.results`: the result of a cross-validation, :func:`result_to_json`;
* :mod:`~tda_mci.model.evaluate`: :func:`cross_validate`, :func:`permutation_pvalue`
  (it also re-exports :func:`make_folds`, :func:`result_to_json` and ``MODELS``);
* :mod:`~tda_mci.model.tables`: :func:`summary_table` (paper's Table 1) and
  :func:`best_results_table` (Table 3).
"""

from __future__ import annotations

import importlib

_API = {
    "HybridCNN": "tda_mci.model.cnn",
    "count_parameters": "tda_mci.model.cnn",
    "standardise_matrices": "tda_mci.model.data",
    "upper_triangle": "tda_mci.model.data",
    "correlation_features": "tda_mci.model.data",
    "train_model": "tda_mci.model.train",
    "predict_proba": "tda_mci.model.train",
    "select_device": "tda_mci.model.train",
    "make_baseline": "tda_mci.model.baselines",
    "binary_metrics": "tda_mci.model.metrics",
    "make_folds": "tda_mci.model.folds",
    "fold_seed": "tda_mci.model.folds",
    "Harmonization": "tda_mci.model.harmonize",
    "harmonize_fold": "tda_mci.model.harmonize",
    "fit_fold": "tda_mci.model.fitting",
    "cross_validate": "tda_mci.model.evaluate",
    "permutation_pvalue": "tda_mci.model.evaluate",
    "result_to_json": "tda_mci.model.results",
    "summary_table": "tda_mci.model.tables",
    "best_results_table": "tda_mci.model.tables",
}

__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'tda_mci.model' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
