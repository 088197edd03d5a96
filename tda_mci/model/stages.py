"""Workflow stages of the classification: training, permutation test, summary tables.

Each function is one rule of the workflow and one ``tda-mci`` subcommand. Which models
and dimensions a training job evaluates is read from the names of the metrics files it
is asked to write (``dim-`` and ``model-`` entities, :meth:`tda_mci.paths.Layout.metrics`),
never from their position in a list.

A metrics record (JSON, one per comparison x network x dimension x model) holds the
:func:`tda_mci.model.evaluate.result_to_json` summary of the cross-validation, the
``predictions`` and ``learning_curves`` tables (as column lists) and ``settings``: the
comparison, network, dimension, model, every training setting (``harmonize``,
``site_column`` and ``covariates`` included), the device used, the threads and the wall
time.

With ``classification.harmonize: combat`` the features are ComBat-harmonised across the
sites of ``statistics.site_column`` in every fold (:mod:`tda_mci.model.harmonize`),
``statistics.covariates`` protected, the diagnosis not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tda_mci import io
from tda_mci.atlas import load_atlas, networks
from tda_mci.cohort import comparison_subjects, files_by_subject
from tda_mci.covariates import covariate_design, site_labels
from tda_mci.figures import (
    plot_accuracy_heatmap,
    plot_learning_curves,
    plot_permutation_null,
)
from tda_mci.model.evaluate import (
    MODELS,
    cross_validate,
    make_folds,
    permutation_pvalue,
    result_to_json,
)
from tda_mci.model.harmonize import Harmonization
from tda_mci.model.tables import best_records, best_results_table, record_key, summary_table
from tda_mci.paths import entities, model_entity
from tda_mci.settings import PermutationSettings, SummarySettings, TrainingSettings

log = logging.getLogger(__name__)


def _classification_data(
    atlas: str | None,
    cohort: str,
    comparison: Sequence[str],
    network: str,
    pr: Sequence[str],
    timeseries: Sequence[str],
) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray], pd.DataFrame]:
    """Read compared subjects, 0/1 labels, PR ``(subjects, dims, n, n)``, series ``(T, n)``.

    The network's ROIs are in atlas order in both the PR matrices and the series. The
    last item is the cohort table's rows of the subjects (same order, values as text).
    """
    idx = networks(load_atlas(atlas))[network]
    table = io.read_cohort(cohort)
    subjects, y = comparison_subjects(table, comparison)
    rows = table[table["group"].isin(list(comparison))].reset_index(drop=True)
    if rows["subject"].astype(str).tolist() != subjects:
        raise ValueError(f"{cohort}: the cohort rows do not match the compared subjects")
    pr_files = files_by_subject(pr, subjects, "PR")
    series_files = files_by_subject(timeseries, subjects, "time-series")
    stack = np.stack([io.read_pr(pr_files[s])[0][network] for s in subjects])
    series = [io.read_timeseries(series_files[s])[0][:, idx] for s in subjects]
    return subjects, y, stack, series, rows


def _harmonization(
    harmonize: str, site_column: str | None, covariates: Sequence[str],
    rows: pd.DataFrame, cohort: str,
) -> Harmonization | None:
    """Return the ComBat sites and covariates of the compared subjects (None for ``none``).

    Sites from ``site_column``, covariates (``statistics.covariates``) as design columns,
    both through :mod:`tda_mci.covariates` from the cohort table's text.
    """
    if harmonize == "none":
        return None
    if harmonize != "combat":
        raise ValueError(f"classification.harmonize must be none or combat, got {harmonize!r}")
    if not site_column:
        raise ValueError("classification.harmonize: combat needs statistics.site_column")
    sites = site_labels(rows, site_column, cohort)
    design, names = covariate_design(rows, list(covariates), cohort)
    return Harmonization(sites, design, names)


def _harmonization_line(harmonization: Harmonization | None, site_column: str | None,
                        dim: int | None, model: str) -> str:
    """Return what is harmonised in one job, for the log."""
    if harmonization is None:
        return "no harmonisation"
    what = ("Fisher-z correlation features" if dim is None
            else "PR upper triangle (matrices rebuilt symmetric)" if model == "cnn"
            else "PR upper-triangle features")
    return (f"ComBat (neuroHarmonize, empirical Bayes) of the {what}, fitted per training "
            f"fold across {site_column!r}: {harmonization.describe()}")


def _jobs(outputs: Sequence[str]) -> list[tuple[int | None, str, str]]:
    """``(dim, model, path)`` of every metrics file to write, from the file names.

    Sorted by dimension (``None``, the models of no dimension, last), then model order.
    """
    by_entity = {model_entity(m): m for m in MODELS}
    jobs = []
    for path in outputs:
        found = entities(path)
        if found.get("model") not in by_entity:
            raise ValueError(f"{path}: no model- entity naming one of {MODELS}")
        dim = int(found["dim"]) if "dim" in found else None
        jobs.append((dim, by_entity[found["model"]], str(path)))
    return sorted(jobs, key=lambda j: (j[0] is None, j[0] or 0, MODELS.index(j[1])))


def train_classifiers(
    settings: TrainingSettings,
    *,
    cohort: str,
    comparison: Sequence[str],
    network: str,
    pr: Sequence[str],
    timeseries: Sequence[str],
    outputs: Sequence[str],
    curves: str | None = None,
    threads: int = 1,
) -> None:
    """Cross-validated classifiers of one comparison and network, every dimension.

    Every model of ``outputs`` is evaluated in the same folds. ``corr_logreg`` reads
    the ROI series (no homology dimension); the others the PR matrices of their
    dimension. With ``curves``, the CNN's learning curves are drawn. With
    ``settings.harmonize == "combat"`` every model's features are ComBat-harmonised per
    fold across the sites of ``settings.site_column``, ``settings.covariates``
    protected (the diagnosis is not); one log line per job says so.
    """
    subjects, y, pr_stack, series, rows = _classification_data(
        settings.atlas, cohort, comparison, network, pr, timeseries)
    harmonization = _harmonization(settings.harmonize, settings.site_column,
                                   settings.covariates, rows, cohort)
    folds = make_folds(y, protocol=settings.protocol, n_splits=settings.n_splits,
                       n_repeats=settings.n_repeats, seed=settings.seed,
                       sites=None if harmonization is None else harmonization.sites)
    learning = {}
    for dim, model, output in _jobs(outputs):
        if harmonization is not None:
            log.info("%s %s %s: %s", network, "correlation" if dim is None else f"H{dim}",
                     model, _harmonization_line(harmonization, settings.site_column, dim,
                                                model))
        t0 = time.perf_counter()
        result = cross_validate(
            series if dim is None else pr_stack[:, dim], y, subjects,
            protocol=settings.protocol, n_splits=settings.n_splits,
            n_repeats=settings.n_repeats, epochs=settings.epochs,
            batch_size=settings.batch_size, lr=settings.learning_rate, seed=settings.seed,
            device=settings.device, threads=threads, model=model,
            inner_val_fraction=settings.inner_val_fraction,
            early_stopping=settings.early_stopping_patience, folds=folds,
            harmonization=harmonization,
        )
        seconds = time.perf_counter() - t0
        record = result_to_json(result)
        record["predictions"] = result["predictions"].to_dict(orient="list")
        record["learning_curves"] = result["learning_curves"].to_dict(orient="list")
        record["settings"] = {
            "comparison": list(comparison), "network": network, "dim": dim, "model": model,
            "protocol": settings.protocol, "n_splits": settings.n_splits,
            "n_repeats": settings.n_repeats, "epochs": settings.epochs,
            "batch_size": settings.batch_size, "learning_rate": settings.learning_rate,
            "inner_val_fraction": settings.inner_val_fraction,
            "early_stopping_patience": settings.early_stopping_patience,
            "seed": settings.seed, "harmonize": settings.harmonize,
            "site_column": settings.site_column, "covariates": list(settings.covariates),
            "device": result["device"], "threads": threads, "wall_seconds": seconds,
        }
        io.write_record(output, record, "metrics")
        log.info("%s %s %s: accuracy %.3f (%.1f s)", network,
                 "correlation" if dim is None else f"H{dim}", model,
                 result["summary"]["accuracy"]["mean"], seconds)
        if model == "cnn":
            learning[f"H{dim}"] = result["learning_curves"]
    if curves:
        if not learning:
            raise ValueError("learning curves need the cnn among the models")
        plot_learning_curves(learning, curves,
                             title=f"{' vs '.join(comparison)}, {network}: hybrid CNN")


def _check_folds_match(record: dict, folds: list, subjects: list[str], source: str) -> None:
    """Raise unless ``folds`` test the same subjects, fold by fold, as ``record`` did."""
    recorded = [(t["repeat"], t["fold"], t["subject_ids"]) for t in record["test_subjects"]]
    rebuilt = [(r, f, [subjects[i] for i in test]) for r, f, _, test in folds]
    if recorded != rebuilt:
        raise ValueError(
            f"{source}: its folds differ from the folds rebuilt from its settings and "
            "subjects (were subjects excluded since?); rerun the classifiers first"
        )


def permutation_test(
    settings: PermutationSettings,
    *,
    cohort: str,
    comparison: Sequence[str],
    records: Sequence[str],
    pr: Sequence[str],
    timeseries: Sequence[str],
    output: str,
    figure: str,
    threads: int = 1,
) -> None:
    """Label-permutation p-value of the best classifier of one comparison.

    The best model (highest mean accuracy among ``records``) is re-evaluated with the
    labels of all compared subjects permuted, in the same folds and with the same
    settings as recorded (ComBat harmonisation included, rebuilt from the record's
    ``harmonize``, ``site_column`` and ``covariates``; a record without them was not
    harmonised); ``p = (1 + #{null >= observed}) / (1 + permutations)``.
    """
    comp = " vs ".join(comparison)
    loaded = [io.read_record(p, "metrics") for p in records]
    best = best_records(loaded, "accuracy")
    if list(best) != [(comp,)]:
        raise ValueError(f"the records must be those of {comp} only; got {list(best)}")
    source, record = records[best[(comp,)]], loaded[best[(comp,)]]
    s = record["settings"]
    subjects, y, pr_stack, series, rows = _classification_data(
        settings.atlas, cohort, comparison, s["network"], pr, timeseries)
    harmonization = _harmonization(s.get("harmonize", "none"), s.get("site_column"),
                                   s.get("covariates", []), rows, cohort)
    folds = make_folds(y, protocol=s["protocol"], n_splits=s["n_splits"],
                       n_repeats=s["n_repeats"], seed=s["seed"],
                       sites=None if harmonization is None else harmonization.sites)
    _check_folds_match(record, folds, subjects, source)
    observed = float(record["summary"]["accuracy"]["mean"])
    dim = "correlation" if s["dim"] is None else f"H{s['dim']}"
    label = f"{comp}: {s['model']} on {s['network']} {dim}"
    n_perm = settings.permutations
    log.info("%s (accuracy %.3f, %s): %d permutations", label, observed, source, n_perm)
    if harmonization is not None:
        log.info("%s: %s", label, _harmonization_line(harmonization, s.get("site_column"),
                                                      s["dim"], s["model"]))
    t0 = time.perf_counter()
    step = max(1, n_perm // 10)

    def progress(i: int, score: float) -> None:
        if (i + 1) % step == 0 or i + 1 == n_perm:
            log.info("permutation %d/%d: accuracy %.3f (%.1f s)", i + 1, n_perm, score,
                     time.perf_counter() - t0)

    result = permutation_pvalue(
        series if s["dim"] is None else pr_stack[:, s["dim"]], y, subjects,
        n_permutations=n_perm, seed=s["seed"], metric="accuracy", observed=observed,
        folds=folds, protocol=s["protocol"], model=s["model"], epochs=s["epochs"],
        batch_size=s["batch_size"], lr=s["learning_rate"],
        inner_val_fraction=s["inner_val_fraction"], early_stopping=s["early_stopping_patience"],
        device=settings.device, threads=threads, callback=progress,
        harmonization=harmonization,
    )
    seconds = time.perf_counter() - t0
    log.info("%s: p = %.4g (%.1f s)", label, result["pvalue"], seconds)
    io.write_record(output, {
        "comparison": list(comparison), "network": s["network"], "dim": s["dim"],
        "model": s["model"], "metric": "accuracy", "observed": observed,
        "pvalue": result["pvalue"], "n_permutations": result["n_permutations"],
        "null": result["null"].tolist(), "seed": s["seed"], "source": source,
        "settings": s, "wall_seconds": seconds,
        "method": "labels of all compared subjects permuted; same folds and model seeds; "
                  "p = (1 + #{null >= observed}) / (1 + permutations)",
    }, "permutation")
    plot_permutation_null(result["null"], observed, result["pvalue"], figure,
                          title=f"{label}: label permutations")


def summarize_classification(
    settings: SummarySettings,
    *,
    records: Sequence[str],
    permutation_tests: Sequence[str],
    outputs: dict[str, str],
) -> None:
    """Write the paper's Table 1 and Table 3 layouts and the accuracy heatmap.

    ``outputs`` holds ``summary``, ``best`` and ``heatmap``
    (:meth:`tda_mci.paths.Layout.classification_summary`).
    """
    results = [io.read_record(p, "metrics") for p in records]
    tested = {}
    for path in permutation_tests:
        perm = io.read_record(path, "permutation")
        tested[record_key({**perm, "summary": {}})] = perm
    for record in results:
        if record_key(record) in tested:
            record["permutation"] = tested.pop(record_key(record))
    if tested:
        raise ValueError(f"permutation results match no classifier record: {list(tested)}")
    io.write_tsv(outputs["summary"], summary_table(results).reset_index())
    io.write_tsv(outputs["best"], best_results_table(results))
    plot_accuracy_heatmap(summary_table(results, formatted=False), outputs["heatmap"])
