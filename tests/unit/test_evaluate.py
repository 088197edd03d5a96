import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn import metrics as skm
from sklearn.preprocessing import StandardScaler
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook

from tda_mci.model import baselines
from tda_mci.model.cnn import HybridCNN
from tda_mci.model.data import standardise_matrices, upper_triangle
from tda_mci.model.evaluate import (
    cross_validate,
    make_folds,
    permutation_pvalue,
    result_to_json,
)
from tda_mci.model.folds import fold_seed
from tda_mci.model.metrics import binary_metrics, roc_auc, summarise_folds
from tda_mci.model.tables import best_records, best_results_table, record_key, summary_table

N_ROIS = 8
CNN = dict(model="cnn", epochs=3, batch_size=64, device="cpu", threads=1)


def symmetric_stack(rng, n_subjects, n=N_ROIS):
    a = rng.random((n_subjects, n, n))
    a = (a + a.transpose(0, 2, 1)) / 2
    a[:, np.arange(n), np.arange(n)] = 0.0
    return a


def planted(rng, n_per_class=15, n=N_ROIS, shift=1.0):
    """Class 1 matrices have a brighter 3 x 3 block; subjects interleaved by class."""
    X = symmetric_stack(rng, 2 * n_per_class, n)
    y = np.tile([0, 1], n_per_class)
    X[y == 1, :3, :3] += shift
    return X, y


def ids(n):
    return [f"sub-{i:03d}" for i in range(n)]


# --- folds -----------------------------------------------------------------------


def test_make_folds_cv_partitions_and_stratifies(rng):
    y = np.repeat([0, 1], [13, 17])
    folds = make_folds(y, "cv", n_splits=5, n_repeats=3, seed=4)
    assert [(r, f) for r, f, _, _ in folds] == [(r, f) for r in range(3) for f in range(5)]
    for r in range(3):
        tests = [te for rr, _, _, te in folds if rr == r]
        np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(30))
        for _, _, tr, te in (f for f in folds if f[0] == r):
            assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == 30
            assert abs(y[te].sum() - 17 / 5) < 1 and abs((1 - y[te]).sum() - 13 / 5) < 1
    # Repeats differ; the same seed gives the same folds.
    assert not np.array_equal(folds[0][3], folds[5][3])
    again = make_folds(y, "cv", n_splits=5, n_repeats=3, seed=4)
    assert all(np.array_equal(a[3], b[3]) for a, b in zip(folds, again, strict=True))


def test_make_folds_paper_is_one_stratified_80_20_split():
    y = np.repeat([0, 1], [20, 30])
    (fold,) = make_folds(y, "paper", seed=1)
    r, f, tr, te = fold
    assert (r, f) == (0, 0) and te.size == 10 and tr.size == 40
    assert y[te].sum() == 6  # 20% of each class


def test_folds_stratified_on_site_put_every_site_in_every_training_fold():
    # 3 sites of 4 subjects (2 per label): stratified on the label alone, 2-fold CV leaves
    # some site out of a training fold for some seeds; on label x site it never does
    y = np.tile([0, 1], 6)
    sites = np.repeat(["002", "011", "023"], 4)
    missed = 0
    for seed in range(20):
        for folds, spread in ((make_folds(y, "cv", 2, 1, seed), False),
                              (make_folds(y, "cv", 2, 1, seed, sites=sites), True)):
            for _, _, tr, te in folds:
                counts = {s: int((sites[tr] == s).sum()) for s in set(sites)}
                if spread:
                    assert counts == {"002": 2, "011": 2, "023": 2}
                    assert y[te].sum() == 3  # labels still balanced
                else:
                    missed += min(counts.values()) < 2
    assert missed > 0  # the label-only folds do hit the problem the sites solve
    # the same labels, sites and seed give the same folds; sites must match the labels
    a, b = (make_folds(y, "cv", 2, 2, 3, sites=sites) for _ in range(2))
    assert all(np.array_equal(f[3], g[3]) for f, g in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="11 sites for 12 subjects"):
        make_folds(y, "cv", 2, sites=sites[:11])


def test_make_folds_errors():
    with pytest.raises(ValueError, match="at least 5 subjects per class, got 4 of class 0"):
        make_folds(np.repeat([0, 1], [4, 10]), "cv", n_splits=5)
    with pytest.raises(ValueError, match="protocol must be one of"):
        make_folds(np.repeat([0, 1], 10), "loo")


# --- metrics ---------------------------------------------------------------------


def test_metrics_equal_sklearn(rng):
    for _ in range(20):
        y = rng.integers(0, 2, size=15)
        y[:2] = [0, 1]
        prob = np.round(rng.random(15), 1)  # ties in the scores
        m = binary_metrics(y, prob)
        pred = (prob > 0.5).astype(int)
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, prob))
        assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred, pos_label=1))
        assert m["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert np.isnan(roc_auc([1, 1, 1], [0.2, 0.4, 0.9]))


def test_summary_interval_formula():
    folds = pd.DataFrame({"accuracy": [0.5, 0.7, 0.6, 0.8, 0.65]})
    summary, method = summarise_folds(folds, n_train=40, n_test=10, metrics=["accuracy"])
    v = folds["accuracy"].to_numpy()
    half = stats.t.ppf(0.975, 4) * v.std(ddof=1) * np.sqrt(1 / 5 + 10 / 40)
    row = summary.loc["accuracy"]
    assert row["mean"] == pytest.approx(v.mean())
    assert row["sd"] == pytest.approx(v.std(ddof=1))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((v.mean() - half, v.mean() + half))
    assert "Nadeau-Bengio" in method
    # One split: Clopper-Pearson interval of 7/10 from beta quantiles.
    single, method = summarise_folds(pd.DataFrame({"accuracy": [0.7]}), 40, 10, ["accuracy"])
    lo, hi = stats.beta.ppf(0.025, 7, 4), stats.beta.ppf(0.975, 8, 3)
    assert (single.loc["accuracy", "ci_low"], single.loc["accuracy", "ci_high"]) == pytest.approx(
        (lo, hi)
    )
    assert "Clopper-Pearson" in method


# --- cross-validation ------------------------------------------------------------


def test_cross_validate_outputs_consistent_with_sklearn(rng):
    X, y = planted(rng, n_per_class=10)
    res = cross_validate(X, y, ids(20), n_splits=5, n_repeats=2, **CNN)
    pred = res["predictions"]
    assert list(pred.columns) == ["repeat", "fold", "subject_id", "y_true", "prob_1", "y_pred"]
    assert len(pred) == 40  # each subject once per repeat
    for r in range(2):
        assert sorted(pred.loc[pred["repeat"] == r, "subject_id"]) == ids(20)
    fm = res["fold_metrics"].set_index(["repeat", "fold"])
    for (r, f), g in pred.groupby(["repeat", "fold"]):
        assert fm.loc[(r, f), "accuracy"] == pytest.approx(skm.accuracy_score(g.y_true, g.y_pred))
        assert fm.loc[(r, f), "roc_auc"] == pytest.approx(skm.roc_auc_score(g.y_true, g.prob_1))
        assert fm.loc[(r, f), "f1"] == pytest.approx(skm.f1_score(g.y_true, g.y_pred))
    np.testing.assert_array_equal(
        res["confusion_matrix"], skm.confusion_matrix(pred.y_true, pred.y_pred)
    )
    assert res["summary"]["accuracy"]["mean"] == pytest.approx(fm["accuracy"].mean())
    curves = res["learning_curves"]
    assert len(curves) == 10 * 3 and curves["test_loss"].notna().all()
    json.dumps(result_to_json(res))  # serialisable


def test_cross_validate_deterministic(rng):
    X, y = planted(rng, n_per_class=8)
    a = cross_validate(X, y, n_splits=4, n_repeats=1, seed=2, **CNN)
    b = cross_validate(X, y, n_splits=4, n_repeats=1, seed=2, **CNN)
    pd.testing.assert_frame_equal(a["predictions"], b["predictions"])


def test_baselines_share_the_folds(rng):
    X, y = planted(rng, n_per_class=10)
    series = [rng.standard_normal((30, N_ROIS)) for _ in range(20)]
    folds = make_folds(y, "cv", 5, 2, seed=3)
    expected = {(r, f): sorted(np.asarray(ids(20))[te]) for r, f, _, te in folds}
    for model, data in (("cnn", X), ("logreg", X), ("rf", X), ("corr_logreg", series)):
        kw = CNN | {"model": model}
        res = cross_validate(data, y, ids(20), n_splits=5, n_repeats=2, seed=3, **kw)
        got = {
            k: sorted(g["subject_id"]) for k, g in res["predictions"].groupby(["repeat", "fold"])
        }
        assert got == expected, model


class SpyRecorder:
    """Global torch hooks: which subjects' matrices reach an optimiser step."""

    def __init__(self, X):
        Z = standardise_matrices(X).astype(np.float32)
        self.lookup = {m.tobytes(): i for i, m in enumerate(Z)}
        self.pending, self.stepped, self.per_fold = [], set(), []

    def forward_pre(self, module, args):
        if isinstance(module, HybridCNN) and module.training and torch.is_grad_enabled():
            self.pending.extend(self.lookup[r.numpy().tobytes()] for r in args[0].detach().cpu())

    def step_pre(self, optimiser, args, kwargs):
        self.stepped.update(self.pending)
        self.pending = []

    def fold_done(self, info):
        self.per_fold.append((info, self.stepped))
        self.stepped = set()


@pytest.mark.parametrize("inner_val_fraction", [0.0, 0.25])
def test_no_test_subject_reaches_the_optimiser(rng, inner_val_fraction):
    X, y = planted(rng, n_per_class=10)
    spy = SpyRecorder(X)
    h1 = register_module_forward_pre_hook(spy.forward_pre)
    h2 = register_optimizer_step_pre_hook(spy.step_pre)
    try:
        cross_validate(
            X, y, n_splits=5, n_repeats=1, inner_val_fraction=inner_val_fraction,
            early_stopping=2, callback=spy.fold_done, **CNN,
        )  # fmt: skip
    finally:
        h1.remove()
        h2.remove()
    assert len(spy.per_fold) == 5
    for info, stepped in spy.per_fold:
        test, val = set(info["test_idx"].tolist()), set(info["val_idx"].tolist())
        assert stepped.isdisjoint(test)
        # Exactly the training fold minus the inner validation subjects is fitted.
        assert stepped == set(info["train_idx"].tolist()) - val
        assert val.isdisjoint(test) and val <= set(info["train_idx"].tolist())
        assert len(val) == (0 if inner_val_fraction == 0 else 4)


def test_epoch_choice_ignores_test_subjects(rng):
    # Early stopping on the inner validation split: changing the test fold's matrices and
    # labels changes neither the chosen epoch nor the training/validation curves, and
    # changing only its labels leaves its predictions identical.
    X, y = planted(rng, n_per_class=10, shift=0.0)  # nothing to learn: val loss soon rises
    folds = make_folds(y, "cv", 5, 1, seed=0)
    kw = CNN | dict(epochs=15, lr=1e-2, inner_val_fraction=0.25, early_stopping=2, folds=folds[1:2])
    ref = cross_validate(X, y, **kw)
    test = folds[1][3]
    X2, y2 = X.copy(), y.copy()
    y2[test] = 1 - y2[test]
    flipped = cross_validate(X2, y2, **kw)
    X2[test] = symmetric_stack(rng, test.size)
    changed = cross_validate(X2, y2, **kw)
    for other in (flipped, changed):
        cols = ["epochs_run", "best_epoch"]
        pd.testing.assert_frame_equal(ref["fold_metrics"][cols], other["fold_metrics"][cols])
        for c in ("train_loss", "val_loss"):
            np.testing.assert_array_equal(ref["learning_curves"][c], other["learning_curves"][c])
    np.testing.assert_array_equal(ref["predictions"]["prob_1"], flipped["predictions"]["prob_1"])
    assert ref["fold_metrics"]["epochs_run"].iloc[0] < 15  # early stopping did stop


def test_scaler_is_fitted_on_training_fold_only(rng, monkeypatch):
    X, y = planted(rng, n_per_class=10)
    feats = upper_triangle(X)
    lookup = {f.tobytes(): i for i, f in enumerate(feats)}
    fitted = []

    class SpyScaler(StandardScaler):
        def fit(self, X, y=None, sample_weight=None):
            fitted.append({lookup[np.ascontiguousarray(r).tobytes()] for r in X})
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(baselines, "StandardScaler", SpyScaler)
    infos = []
    for model in ("logreg", "rf"):
        cross_validate(X, y, model=model, n_splits=5, n_repeats=1, callback=infos.append)
    assert len(fitted) == len(infos) == 10
    for rows, info in zip(fitted, infos, strict=True):
        assert rows == set(info["train_idx"].tolist())
        assert rows.isdisjoint(info["test_idx"].tolist())


@pytest.mark.parametrize("model", ["cnn", "logreg", "rf"])
def test_random_labels_interval_covers_chance(rng, model):
    X = symmetric_stack(rng, 40)  # no structure
    y = rng.permutation(np.repeat([0, 1], 20))
    res = cross_validate(X, y, n_splits=5, n_repeats=2, **(CNN | {"model": model}))
    row = res["summary"]["accuracy"]
    assert row["ci_low"] <= 0.5 <= row["ci_high"]
    assert abs(row["mean"] - 0.5) < 0.2


@pytest.mark.parametrize("model", ["cnn", "logreg", "rf"])
def test_planted_block_is_found(rng, model):
    X, y = planted(rng, n_per_class=15, shift=0.8)
    kw = CNN | {"model": model, "epochs": 20}
    res = cross_validate(X, y, n_splits=5, n_repeats=1, **kw)
    row = res["summary"]["accuracy"]
    assert row["ci_low"] > 0.5 and row["mean"] > 0.8


def test_correlation_baseline_finds_coupled_rois(rng):
    # Class 1: ROIs 0 and 1 share a signal; class 0: independent ROIs.
    series, y = [], np.tile([0, 1], 12)
    for label in y:
        s = rng.standard_normal((60, N_ROIS))
        if label:
            s[:, 1] = s[:, 0] + 0.5 * rng.standard_normal(60)
        series.append(s)
    res = cross_validate(series, y, model="corr_logreg", n_splits=4, n_repeats=1)
    assert res["summary"]["accuracy"]["ci_low"] > 0.5


def test_paper_protocol_labels_the_optimistic_number(rng):
    X, y = planted(rng, n_per_class=10, shift=0.3)
    res = cross_validate(X, y, protocol="paper", **(CNN | {"epochs": 8}))
    assert res["fold_metrics"].shape[0] == 1 and res["fold_metrics"]["n_test"].iloc[0] == 4
    curve = res["learning_curves"]["test_accuracy"].to_numpy()
    assert res["final_epoch_accuracy"] == pytest.approx(curve[-1])
    assert res["best_epoch_accuracy_optimistic"] == pytest.approx(curve.max())
    assert res["best_epoch_accuracy_optimistic"] >= res["final_epoch_accuracy"]
    assert "best_epoch_accuracy" not in res  # only under the label that says optimistic
    assert np.isnan(res["summary"]["accuracy"]["sd"])


def test_permutation_pvalue_well_formed(rng):
    X, y = planted(rng, n_per_class=10)
    res = permutation_pvalue(X, y, model="logreg", n_permutations=19, n_splits=5, n_repeats=1)
    null = res["null"]
    assert null.shape == (19,)
    assert res["pvalue"] == (1 + np.sum(null >= res["observed"])) / 20
    assert 1 / 20 <= res["pvalue"] <= 1
    assert res["pvalue"] == 1 / 20  # the planted block beats every permutation
    observed = cross_validate(X, y, model="logreg", n_splits=5, n_repeats=1)
    assert res["observed"] == observed["summary"]["accuracy"]["mean"]
    # Null data: the observed score is not extreme.
    Xn = symmetric_stack(rng, 20)
    null_res = permutation_pvalue(Xn, y, model="logreg", n_permutations=19, n_splits=5, n_repeats=1)
    assert null_res["pvalue"] > 0.05


def test_fold_seeds_are_distinct():
    seeds = {fold_seed(0, r, f) for r in range(3) for f in range(5)}
    assert len(seeds) == 15 and seeds.isdisjoint(
        {fold_seed(1, r, f) for r in range(3) for f in range(5)}
    )


def test_cross_validate_input_errors(rng):
    X, y = planted(rng, n_per_class=6)
    X[4, 1, 2] = np.inf
    with pytest.raises(ValueError, match=r"subject index 4 \(sub-004\).*NaN or infinite"):
        cross_validate(X, y, ids(12), model="logreg")
    with pytest.raises(ValueError, match="model must be one of"):
        cross_validate(X, y, model="svm")
    with pytest.raises(ValueError, match="subject id 'sub-000' occurs more than once"):
        cross_validate(X, y, ["sub-000"] * 12, model="logreg")


# --- tables ----------------------------------------------------------------------


def _record(comparison, model, dim, network, mean, sd, p=None):
    summary = {m: {"mean": mean, "sd": sd, "ci_low": mean - 0.1, "ci_high": mean + 0.1}
               for m in ("accuracy", "balanced_accuracy", "roc_auc", "sensitivity",
                         "specificity", "f1")}  # fmt: skip
    rec = dict(comparison=comparison, model=model, dimension=dim, network=network, summary=summary)
    if p is not None:
        rec["permutation"] = {"pvalue": p}
    return rec


def test_summary_table_layout():
    recs = [
        _record("HC-vs-LMCI", "cnn", "H0", "DMN", 0.81234, 0.05),
        _record("HC-vs-LMCI", "cnn", "H0", "CO", 0.6, 0.1),
        _record("HC-vs-LMCI", "logreg", "H0", "DMN", 0.7, 0.02),
        _record("HC-vs-MCI", "cnn", "H1", "CO", 0.55, 0.2),
    ]
    table = summary_table(recs, networks=["CO", "DMN", "SM"])
    assert table.index.names == ["comparison", "model", "dimension"]
    assert list(table.columns) == ["CO", "DMN", "SM"]
    assert table.loc[("HC-vs-LMCI", "cnn", "H0"), "DMN"] == "0.812 ± 0.050"
    assert table.loc[("HC-vs-MCI", "cnn", "H1"), "DMN"] == ""
    numeric = summary_table(recs, formatted=False)
    assert numeric.loc[("HC-vs-LMCI", "logreg", "H0"), "DMN"] == 0.7
    with pytest.raises(ValueError, match="two results"):
        summary_table(recs + [recs[0]])


def test_best_results_table_picks_the_best():
    recs = [
        _record("HC-vs-LMCI", "cnn", "H0", "DMN", 0.8, 0.05, p=0.01),
        _record("HC-vs-LMCI", "logreg", "H1", "CO", 0.85, 0.1),
        _record("HC-vs-MCI", "cnn", "H0", "CO", 0.6, 0.1),
        _record("HC-vs-MCI", "rf", "H2", "SM", 0.6, 0.05),
    ]
    best = best_results_table(recs).set_index("comparison")
    assert best.loc["HC-vs-LMCI", "model"] == "logreg"
    assert best.loc["HC-vs-MCI", "model"] == "rf"  # tie on the mean: smaller SD
    per_model = best_results_table(recs, by=("comparison", "model"))
    row = per_model[(per_model.comparison == "HC-vs-LMCI") & (per_model.model == "cnn")].iloc[0]
    assert row["p_value"] == 0.01 and row["accuracy_95ci"] == "[0.700, 0.900]"


def test_best_records_and_record_key():
    recs = [
        _record("HC-vs-LMCI", "cnn", "H0", "DMN", 0.8, 0.05),
        _record("HC-vs-LMCI", "logreg", "H1", "CO", 0.85, 0.1),
        _record("HC-vs-MCI", "rf", "H2", "SM", float("nan"), 0.05),  # never picked
        _record("HC-vs-MCI", "cnn", "H0", "CO", 0.6, 0.1),
    ]
    assert best_records(recs) == {("HC-vs-LMCI",): 1, ("HC-vs-MCI",): 3}
    assert best_records(recs, by=("model",)) == {("cnn",): 0, ("logreg",): 1}
    assert record_key(recs[1]) == ("HC-vs-LMCI", "logreg", "H1", "CO")
    # the key of a CLI record (keys under settings, comparison a pair, dim an int)
    cli = {"settings": {"comparison": ["HC", "LMCI"], "model": "cnn", "dim": 2,
                        "network": "DMN"}, "summary": {}}
    assert record_key(cli) == ("HC vs LMCI", "cnn", "H2", "DMN")
    with pytest.raises(ValueError, match="by must name"):
        best_records(recs, by=("subject",))


def test_tables_from_json_round_tripped_results(rng):
    # Records as the CLI writes them: identifying keys under "settings", JSON on disk.
    X, y = planted(rng, n_per_class=10)
    records = []
    for network in ("DMN", "CO"):
        for dim in (0, 1):
            res = cross_validate(X, y, model="logreg", n_splits=5, n_repeats=1, seed=dim)
            res["settings"] = {"comparison": ["HC", "LMCI"], "network": network, "dim": dim}
            records.append(json.loads(json.dumps(result_to_json(res))))
    table = summary_table(records)
    assert list(table.columns) == ["DMN", "CO"]
    assert list(table.index) == [("HC vs LMCI", "logreg", "H0"), ("HC vs LMCI", "logreg", "H1")]
    acc = records[1]["summary"]["accuracy"]
    assert table.loc[("HC vs LMCI", "logreg", "H1"), "DMN"] == (
        f"{acc['mean']:.3f} ± {acc['sd']:.3f}"
    )
    best = best_results_table(records)
    assert len(best) == 1 and best["comparison"].iloc[0] == "HC vs LMCI"


def test_site_spread_folds_work_when_every_site_is_smaller_than_the_folds():
    # the README's own-data walk: 3 sites of 2 + 2 subjects, 5-fold CV (label x site strata
    # of 2 subjects each made scikit-learn refuse: "n_splits=5 cannot be greater ...")
    y = np.tile([0, 1], 6)
    sites = np.repeat(["002", "011", "023"], 4)
    for seed in range(10):
        folds = make_folds(y, "cv", 5, 3, seed, sites=sites)
        assert len(folds) == 15
        for r in range(3):
            tests = np.concatenate([te for rr, _, _, te in folds if rr == r])
            np.testing.assert_array_equal(np.sort(tests), np.arange(12))
        for _, _, tr, te in folds:
            assert np.intersect1d(tr, te).size == 0
            assert min(int((sites[tr] == s).sum()) for s in set(sites)) >= 2
            assert abs(int(y[te].sum()) - int((1 - y[te]).sum())) <= 1
    (paper,) = make_folds(y, "paper", seed=2, sites=sites)
    assert paper[3].size in (2, 3) and set(sites[paper[2]]) == set(sites)
