"""ComBat harmonisation per fold (:mod:`tda_mci.model.harmonize`).

Parity with neuroCombat (training fold) and with the learnt location/scale applied by
hand (test fold), equal site means, structural no-leak checks (what
``harmonizationLearn`` sees), ``harmonization=None`` unchanged, clear errors, the
stages' records, and the site-confound acceptance test: site associated with group,
no disease effect, only a per-site per-ROI affine change of the signals.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from neuroCombat import neuroCombat
from sklearn.preprocessing import StandardScaler

import tda_mci
from tda_mci.model import baselines, fitting, harmonize, stages
from tda_mci.model.data import upper_triangle
from tda_mci.model.evaluate import cross_validate, make_folds, result_to_json
from tda_mci.model.harmonize import (
    Harmonization,
    HarmonizationError,
    harmonize_fold,
    harmonize_inputs,
)
from tda_mci.paths import Layout
from tda_mci.settings import PermutationSettings, TrainingSettings

SITES = np.array(["S1", "S2", "S3"])
N_PR = 18  # 18 ROIs: 153 PR features, the shape of a real network's upper triangle


def site_features(rng, n=40, n_features=153, sites=SITES):
    """Gamma-distributed 'PR' features with a per-site, per-feature offset and scale.

    Returns ``X (n, features)``, site labels (interleaved), AGE and a 0/1 SEX column;
    the features also depend on AGE (the effect ComBat must protect).
    """
    site = sites[np.arange(n) % sites.size]
    age = rng.uniform(60, 85, n)
    sex = (rng.random(n) < 0.5).astype(float)
    X = rng.gamma(2.0, 1.0, (n, n_features)) + 0.05 * (age[:, None] - 70)
    for s in sites:
        X[site == s] = X[site == s] * rng.uniform(0.6, 1.6, n_features) + rng.normal(
            0, 1, n_features
        )
    return X, site, age, sex


class LearnSpy:
    """Wraps ``harmonize.harmonizationLearn``: records its inputs and the models."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = harmonize.harmonizationLearn

        def spy(data, covars, **kwargs):
            model, out = original(data, covars, **kwargs)
            self.calls.append(
                {"data": np.array(data), "covars": covars.copy(), "model": model, **kwargs}
            )
            return model, out

        monkeypatch.setattr(harmonize, "harmonizationLearn", spy)


def by_hand(model, X, sites, cov):
    """Apply a learnt neuroHarmonize model to new subjects by hand.

    ``(x - a - C b) / sqrt(v)`` standardised, site location ``gamma*`` removed and
    scale ``delta*`` divided out, then back to the data scale. Covariates enter as
    float32, as neuroCombat's design matrix makes them.
    """
    k = len(model["SITE_labels"])
    mod = cov.astype(np.float32).astype(np.float64) @ model["B_hat"][k:]
    grand = model["stand_mean"][:, 0]
    sd = np.sqrt(model["var_pooled"][:, 0])
    j = np.searchsorted(model["SITE_labels"], sites)
    z = (X - grand - mod) / sd
    return (z - model["gamma_star"][j]) / np.sqrt(model["delta_star"][j]) * sd + grand + mod


# --- parity ----------------------------------------------------------------------


def test_training_fold_matches_neurocombat(rng, monkeypatch):
    X, site, age, sex = site_features(rng)
    harm = Harmonization(site, np.c_[age, sex], ["AGE", "SEX=M"])
    train, test = np.arange(32), np.arange(32, 40)
    spy = LearnSpy(monkeypatch)
    train_H, test_H = harmonize_fold(X[train], X[test], train, test, harm, seed=3)
    covars = pd.DataFrame({"SITE": site[train], "AGE": age[train], "SEX": sex[train]})
    with contextlib.redirect_stdout(io.StringIO()):
        ref = neuroCombat(dat=X[train].T, covars=covars, batch_col="SITE",
                          continuous_cols=["AGE", "SEX"])["data"].T  # fmt: skip
    # Same EB iterations (tolerance 1e-4 on the relative change): equal to rounding.
    np.testing.assert_allclose(train_H, ref, rtol=1e-6, atol=1e-6)
    assert not np.allclose(train_H, X[train], atol=0.1)  # it did change the data
    # The test fold: the learnt location/scale applied by hand (and the seed was passed).
    (call,) = spy.calls
    assert call["seed"] == 3
    np.testing.assert_allclose(
        test_H, by_hand(call["model"], X[test], site[test], np.c_[age, sex][test]),
        rtol=1e-10, atol=1e-10,
    )  # fmt: skip


def test_test_fold_missing_a_training_site(rng, monkeypatch):
    # harmonizationApply alone fails when a training site has no test subject
    # (neuroHarmonize issue #50); the fold wrapper still applies the learnt model exactly.
    X, site, age, sex = site_features(rng)
    harm = Harmonization(site, np.c_[age], ["AGE"])
    test = np.flatnonzero(site != "S1")[-6:]
    train = np.setdiff1d(np.arange(40), test)
    spy = LearnSpy(monkeypatch)
    _, test_H = harmonize_fold(X[train], X[test], train, test, harm, seed=0)
    expected = by_hand(spy.calls[0]["model"], X[test], site[test], age[test, None])
    np.testing.assert_allclose(test_H, expected, rtol=1e-10, atol=1e-10)


def test_harmonised_training_sites_have_equal_means(rng):
    X, site, _, _ = site_features(rng, n=120, sites=SITES[:2])
    harm = Harmonization(site, np.empty((120, 0)), [])
    train, test = np.arange(110), np.arange(110, 120)
    train_H, _ = harmonize_fold(X[train], X[test], train, test, harm, seed=1)

    def gap(Z):
        a, b = (Z[site[train] == s] for s in SITES[:2])
        return np.abs(a.mean(0) - b.mean(0)) / Z.std(0)

    # Empirical Bayes shrinks each site's location towards its mean over the features,
    # so the gaps are small, not zero (they are zero, up to rounding, without EB).
    raw, harmonised = gap(X[train]), gap(train_H)
    assert np.median(raw) > 0.5 and raw.max() > 1.5
    assert np.median(harmonised) < 0.07 and harmonised.max() < 0.25


def test_constant_covariate_in_fold_is_dropped(rng):
    X, site, age, _ = site_features(rng)
    flag = np.zeros(40)
    flag[-1] = 1.0  # constant in the training fold (the last subject is a test subject)
    train, test = np.arange(32), np.arange(32, 40)
    with_flag = Harmonization(site, np.c_[age, flag], ["AGE", "FLAG"])
    without = Harmonization(site, age[:, None], ["AGE"])
    a = harmonize_fold(X[train], X[test], train, test, with_flag, seed=0)
    b = harmonize_fold(X[train], X[test], train, test, without, seed=0)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_seeded_and_restores_numpy_global_state(rng):
    X, site, _, _ = site_features(rng)
    harm = Harmonization(site, np.empty((40, 0)), [])
    train, test = np.arange(30), np.arange(30, 40)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = harmonize_fold(X[train], X[test], train, test, harm, seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    again = harmonize_fold(X[train], X[test], train, test, harm, seed=5)
    for u, v in zip(first, again, strict=True):
        np.testing.assert_array_equal(u, v)


def test_silent_on_stdout(rng, capsys):
    X, site, _, _ = site_features(rng)
    harm = Harmonization(site, np.empty((40, 0)), [])
    harmonize_fold(X[:30], X[30:], np.arange(30), np.arange(30, 40), harm, seed=0)
    assert capsys.readouterr().out == ""


def test_cnn_inputs_stay_symmetric_with_diagonal(rng):
    n = N_PR
    X, site, _, _ = site_features(rng)
    M = np.zeros((40, n, n))
    rows, cols = np.triu_indices(n, k=1)
    M[:, rows, cols] = X
    M[:, cols, rows] = X
    M[:, np.arange(n), np.arange(n)] = 0.25
    harm = Harmonization(site, np.empty((40, 0)), [])
    train, test = np.arange(30), np.arange(30, 40)
    out = harmonize_inputs(M, train, test, harm, seed=2)
    np.testing.assert_array_equal(out, out.transpose(0, 2, 1))
    np.testing.assert_array_equal(out[:, np.arange(n), np.arange(n)], 0.25)
    feats = harmonize_fold(X[train], X[test], train, test, harm, seed=2)
    np.testing.assert_array_equal(out[train][:, rows, cols], feats[0])
    np.testing.assert_array_equal(out[test][:, rows, cols], feats[1])


# --- no leak ---------------------------------------------------------------------


def pr_stack(X):
    """Symmetric matrices whose strict upper triangle is ``X`` (zero diagonal)."""
    n = int((1 + np.sqrt(1 + 8 * X.shape[1])) / 2)
    M = np.zeros((X.shape[0], n, n))
    rows, cols = np.triu_indices(n, k=1)
    M[:, rows, cols] = X
    M[:, cols, rows] = X
    return M


@pytest.mark.parametrize(
    "model, kwargs",
    [("logreg", {}), ("cnn", dict(epochs=2, device="cpu", threads=1,
                                  inner_val_fraction=0.25, early_stopping=2))],
)  # fmt: skip
def test_learn_sees_exactly_the_training_fold(rng, monkeypatch, model, kwargs):
    X, site, age, sex = site_features(rng, n=40, n_features=45)
    y = np.tile([0, 1], 20)
    M = pr_stack(X)
    harm = Harmonization(site, np.c_[age, sex], ["AGE", "SEX=M"])
    lookup = {f.tobytes(): i for i, f in enumerate(upper_triangle(M))}
    spy = LearnSpy(monkeypatch)
    infos = []
    cross_validate(M, y, model=model, n_splits=5, n_repeats=2, harmonization=harm,
                   callback=infos.append, **kwargs)  # fmt: skip
    assert len(spy.calls) == len(infos) == 10
    for call, info in zip(spy.calls, infos, strict=True):
        seen = [lookup[np.ascontiguousarray(r).tobytes()] for r in call["data"]]
        # Exactly the training fold, in order (inner validation subjects included).
        assert seen == info["train_idx"].tolist()
        assert set(seen).isdisjoint(info["test_idx"].tolist())
        assert call["covars"]["SITE"].tolist() == site[info["train_idx"]].tolist()
        np.testing.assert_array_equal(call["covars"]["AGE"], age[info["train_idx"]])


def test_test_values_change_neither_model_nor_training(rng, monkeypatch):
    X, site, age, _ = site_features(rng, n=40, n_features=45)
    y = np.tile([0, 1], 20)
    M = pr_stack(X)
    harm = Harmonization(site, age[:, None], ["AGE"])
    folds = make_folds(y, "cv", 5, 1, seed=0)[2:3]
    test = folds[0][3]
    fitted = []

    class SpyScaler(StandardScaler):
        def fit(self, X, y=None, sample_weight=None):
            fitted.append(np.array(X))
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(baselines, "StandardScaler", SpyScaler)
    spy = LearnSpy(monkeypatch)
    ref = cross_validate(M, y, model="logreg", folds=folds, harmonization=harm)
    changed = M.copy()
    changed[test[: test.size // 2]] = pr_stack(rng.gamma(5.0, 2.0, (test.size // 2, 45)))
    other = cross_validate(changed, y, model="logreg", folds=folds, harmonization=harm)
    a, b = spy.calls
    assert a["model"].keys() == b["model"].keys()
    for key, value in a["model"].items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, b["model"][key], err_msg=key)
    np.testing.assert_array_equal(fitted[0], fitted[1])  # the pipeline's training input
    # Unchanged test subjects get identical predictions, changed ones do not.
    p, q = ref["predictions"]["prob_1"].to_numpy(), other["predictions"]["prob_1"].to_numpy()
    half = test.size // 2
    np.testing.assert_array_equal(p[half:], q[half:])
    assert not np.array_equal(p[:half], q[:half])


# --- harmonization=None ----------------------------------------------------------


@pytest.mark.parametrize("model", ["logreg", "rf", "cnn", "corr_logreg"])
def test_none_is_today(rng, monkeypatch, model):
    def forbidden(*args, **kwargs):
        raise AssertionError("harmonised although harmonization=None")

    monkeypatch.setattr(fitting, "harmonize_inputs", forbidden)
    if model == "corr_logreg":
        data = [rng.standard_normal((40, 6)) for _ in range(20)]
    else:
        data = pr_stack(rng.random((20, 15)))
    y = np.tile([0, 1], 10)
    kw = dict(model=model, n_splits=4, n_repeats=1, epochs=2, device="cpu", threads=1)
    ref = cross_validate(data, y, **kw)
    none = cross_validate(data, y, harmonization=None, **kw)
    for key in ("predictions", "fold_metrics", "learning_curves"):
        pd.testing.assert_frame_equal(ref[key], none[key])
    as_json = [json.dumps(result_to_json(r), sort_keys=True) for r in (ref, none)]
    assert as_json[0] == as_json[1]


# --- errors ----------------------------------------------------------------------


def test_errors(rng):
    X, site, _, _ = site_features(rng, n=12, n_features=10, sites=SITES[:2])
    none = np.empty((12, 0))
    train, test = np.arange(8), np.arange(8, 12)
    one_site = Harmonization(np.where(np.arange(12) < 8, "S1", "S2"), none, [])
    with pytest.raises(HarmonizationError, match=r"at least 2 sites.*\['S1'\]"):
        harmonize_fold(X[train], X[test], train, test, one_site, seed=0)
    unseen = Harmonization(np.r_[site[:8], ["S9"] * 4], none, [])
    with pytest.raises(HarmonizationError, match=r"\['S9'\] of 4 test subject"):
        harmonize_fold(X[train], X[test], train, test, unseen, seed=0)
    lonely = Harmonization(np.r_[["S1"] * 7, ["S2"], ["S1"] * 4], none, [])
    with pytest.raises(HarmonizationError, match=r"'S2' \(1 subject\).*at least 2 training"):
        harmonize_fold(X[train], X[test], train, test, lonely, seed=0)
    collinear = Harmonization(site, (site == "S1").astype(float)[:, None], ["SEX=M"])
    with pytest.raises(HarmonizationError, match=r"\['SEX=M'\] are collinear with the sites"):
        harmonize_fold(X[train], X[test], train, test, collinear, seed=0)
    with pytest.raises(ValueError, match="covariate names"):
        Harmonization(site, none, ["AGE"])


def test_errors_name_the_fold(rng):
    # Site S3 has 2 subjects: in some training folds only one of them.
    X = pr_stack(rng.random((20, 15)))
    y = np.tile([0, 1], 10)
    sites = np.r_[["S1"] * 9, ["S2"] * 9, ["S3"] * 2]
    harm = Harmonization(sites, np.empty((20, 0)), [])
    with pytest.raises(HarmonizationError, match=r"repeat \d, fold \d: .*'S3'"):
        cross_validate(X, y, model="logreg", n_splits=4, n_repeats=1, harmonization=harm)
    with pytest.raises(ValueError, match="harmonization has 19 subjects, the inputs 20"):
        cross_validate(X, y, model="logreg", harmonization=Harmonization(
            sites[:19], np.empty((19, 0)), []))  # fmt: skip


# --- stages ----------------------------------------------------------------------


@pytest.fixture
def staged(rng, monkeypatch, tmp_path):
    """train_classifiers / permutation_test on in-memory data; records captured."""
    n = 24
    X, site, age, sex = site_features(rng, n=n, n_features=15, sites=SITES[:2])
    subjects = [f"{i:02d}" for i in range(n)]
    groups = np.array(["HC", "LMCI"] * (n // 2))
    rows = pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects], "subject": subjects,
                         "group": groups, "AGE": [f"{a:.1f}" for a in age],
                         "PTGENDER": np.where(sex > 0, "M", "F"), "SITE": site})  # fmt: skip
    y = (groups == "LMCI").astype(np.int64)
    series = [rng.standard_normal((30, 6)) for _ in range(n)]
    data = (subjects, y, pr_stack(X)[:, None], series, rows)
    monkeypatch.setattr(stages, "_classification_data", lambda *a, **k: data)
    written = {}
    monkeypatch.setattr(stages.io, "write_record",
                        lambda path, record, kind: written.__setitem__(path, record))
    layout = Layout(out_dir=str(tmp_path), atlas="custom")
    return {"layout": layout, "written": written, "site": site, "age": age, "sex": sex}


def run_training(staged, **statistics):
    config = {"classification": {"n_splits": 4, "n_repeats": 1, "harmonize":
                                 "combat" if statistics else "none"}, "statistics": statistics}
    settings = TrainingSettings.from_config(config)
    out = staged["layout"].metrics(0, "logreg", "HCvsLMCI", "visual")
    staged["written"].clear()
    stages.train_classifiers(settings, cohort="included.tsv", comparison=["HC", "LMCI"],
                             network="visual", pr=[], timeseries=[], outputs=[out])
    return out, staged["written"][out]


def test_train_classifiers_records_and_rebuilds_harmonisation(staged, monkeypatch, caplog):
    caplog.set_level("INFO", logger=stages.log.name)
    path, record = run_training(staged, site_column="SITE", covariates=["AGE", "PTGENDER"])
    s = record["settings"]
    assert (s["harmonize"], s["site_column"], s["covariates"]) == (
        "combat", "SITE", ["AGE", "PTGENDER"])
    assert "ComBat (neuroHarmonize, empirical Bayes)" in caplog.text
    assert "protected: AGE, PTGENDER=M; diagnosis not protected" in caplog.text
    _, plain = run_training(staged)
    assert (plain["settings"]["harmonize"], plain["settings"]["site_column"]) == ("none", None)
    assert plain["summary"] != record["summary"]

    seen = []

    def fake_pvalue(*args, harmonization=None, **kwargs):
        seen.append(harmonization)
        return {"pvalue": 1.0, "n_permutations": 1, "null": np.zeros(1)}

    monkeypatch.setattr(stages, "permutation_pvalue", fake_pvalue)
    monkeypatch.setattr(stages, "plot_permutation_null", lambda *a, **k: None)
    old = {**plain, "settings": {k: v for k, v in plain["settings"].items()
                                 if k not in ("harmonize", "site_column", "covariates")}}
    for rec in (record, old):
        monkeypatch.setattr(stages.io, "read_record", lambda p, kind, rec=rec: rec)
        stages.permutation_test(PermutationSettings.from_config({}), cohort="included.tsv",
                                comparison=["HC", "LMCI"], records=[path], pr=[],
                                timeseries=[], output="perm.json", figure="perm.png")
    harm, none = seen
    assert none is None
    np.testing.assert_array_equal(harm.sites, staged["site"])
    assert harm.names == ["AGE", "PTGENDER=M"]
    np.testing.assert_allclose(harm.covariates[:, 0], np.round(staged["age"], 1))
    np.testing.assert_array_equal(harm.covariates[:, 1], staged["sex"])


# --- site confound (acceptance) ----------------------------------------------------


@pytest.fixture(scope="module")
def confounded():
    """2 sites x 24 subjects, site A 80% HC, site B 80% patients, no disease effect.

    Per subject: 10 ROIs x 90 volumes of AR(1) noise (phi 0.5) plus a shared slow
    component; then a per-site, per-ROI affine change (scale in [0.6, 1.6], offset
    N(0, 2)). PR route of the pipeline: sliding_window -> persistence_diagrams (H0) ->
    distance_matrix.
    """
    rng = np.random.default_rng(7)
    n_site, n_roi, T = 24, 10, 90
    sites = np.repeat(["A", "B"], n_site)
    y = np.r_[np.zeros(19), np.ones(5), np.zeros(5), np.ones(19)].astype(np.int64)
    scale = {s: rng.uniform(0.6, 1.6, n_roi) for s in "AB"}
    offset = {s: rng.normal(0, 2, n_roi) for s in "AB"}
    series = []
    for i in range(2 * n_site):
        slow = np.convolve(rng.standard_normal(T + 20), np.ones(10) / 10, "same")[10 : T + 10]
        noise, shocks = np.zeros((T, n_roi)), rng.standard_normal((T, n_roi))
        for t in range(T):
            noise[t] = 0.5 * (noise[t - 1] if t else 0) + shocks[t]
        x = noise + 0.8 * slow[:, None]
        series.append(x * scale[sites[i]] + offset[sites[i]])

    def pr(x):
        dgms = [tda_mci.persistence_diagrams(tda_mci.sliding_window(x[:, r]), max_dim=0)[0]
                for r in range(n_roi)]  # fmt: skip
        return tda_mci.distance_matrix(dgms)

    X = np.stack([pr(s) for s in series])
    harm = Harmonization(sites, np.empty((sites.size, 0)), [])
    return {"X": X, "series": series, "y": y, "harm": harm,
            "folds": make_folds(y, "cv", 5, 2, seed=0)}  # fmt: skip


def confound_runs(data, model, **kwargs):
    rows = {}
    for label, harm in (("without", None), ("with ComBat", data["harm"])):
        res = cross_validate(data["series"] if model == "corr_logreg" else data["X"], data["y"],
                             model=model, folds=data["folds"], harmonization=harm, **kwargs)
        rows[label] = res["summary"]["accuracy"]
        a = rows[label]
        print(f"site confound, {model}, {label}: accuracy {a['mean']:.3f} "
              f"[{a['ci_low']:.3f}, {a['ci_high']:.3f}]")
    return rows["without"], rows["with ComBat"]


@pytest.mark.parametrize(
    "model, kwargs",
    [("logreg", {}), ("rf", {}), ("cnn", dict(epochs=10, device="cpu", threads=1))],
)
def test_site_confound_is_removed(confounded, model, kwargs):
    raw, combat = confound_runs(confounded, model, **kwargs)
    assert raw["ci_low"] > 0.5  # the site alone predicts the group
    assert combat["ci_low"] <= 0.5 <= combat["ci_high"]


def test_site_confound_invisible_to_correlation(confounded):
    # Correlation is invariant to a per-ROI offset and scale: corr_logreg cannot see this
    # site effect, with or without ComBat.
    raw, combat = confound_runs(confounded, "corr_logreg")
    for row in (raw, combat):
        assert row["ci_low"] <= 0.5 <= row["ci_high"]
