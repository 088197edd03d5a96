"""Covariate-adjusted group tests (statistics.covariates) against independent references.

Rank-sum tests on least-squares residuals are checked against statsmodels OLS residuals
and scipy's Mann-Whitney U; the adjusted PERMANOVA against sequential sums of squares
computed with statsmodels / explicit hat matrices and an explicit loop over permuted
residual matrices. Calibration tests use covariate-confounded data.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from tda_mci import io, stats
from tda_mci.atlas import load_atlas, networks
from tda_mci.covariates import covariate_design

ranksum = importlib.import_module("tda_mci.stats.ranksum")
permanova_mod = importlib.import_module("tda_mci.stats.permanova")
stages = importlib.import_module("tda_mci.stats.stages")


def _sym_stack(values: np.ndarray, n: int) -> np.ndarray:
    """(subjects, pairs) upper-triangle values -> (subjects, n, n) symmetric, zero diagonal."""
    iu = np.triu_indices(n, 1)
    out = np.zeros((values.shape[0], n, n))
    out[:, iu[0], iu[1]] = values
    return out + out.transpose(0, 2, 1)


def _cohort(rng, n_a, n_b, age_shift=0.0, female_a=0.5, female_b=0.5):
    """Cohort-table rows (text, as read_cohort gives them): AGE and PTGENDER per subject."""
    age = np.r_[rng.normal(68.0, 5.0, n_a), rng.normal(68.0 + age_shift, 5.0, n_b)]
    female = np.r_[rng.random(n_a) < female_a, rng.random(n_b) < female_b]
    subjects = [f"s{k:03d}" for k in range(n_a + n_b)]
    return pd.DataFrame({
        "participant_id": [f"sub-{s}" for s in subjects], "subject": subjects,
        "group": ["HC"] * n_a + ["MCI"] * n_b,
        "AGE": [f"{a:.1f}" for a in age],
        "PTGENDER": np.where(female, "Female", "Male"),
    })  # fmt: skip


def _confounded_pr(rng, table, n, slope=0.4, plant=None, delta=0.0):
    """PR-like values (subjects, pairs) driven by AGE (and optionally a group shift)."""
    age = table["AGE"].astype(float).to_numpy()
    m = n * (n - 1) // 2
    y = 5.0 + slope * (age - 68.0)[:, None] + rng.gamma(2.0, 1.0, (len(table), m))
    if plant is not None:
        y[:, plant] += delta * (table["group"] == "MCI").to_numpy()[:, None]
    return y


# --------------------------------------------------------------------------------------
# rank-sum tests on residuals: statsmodels and scipy as references
# --------------------------------------------------------------------------------------


def test_residuals_and_pvalues_equal_statsmodels_and_scipy():
    rng = np.random.default_rng(11)
    n, n_a, n_b = 13, 31, 26  # a network of 13 ROIs: 78 pairs
    table = _cohort(rng, n_a, n_b, age_shift=4.0, female_a=0.6, female_b=0.4)
    design, names = covariate_design(table, ["AGE", "PTGENDER"])
    assert names == ["AGE", "PTGENDER=Male"]
    y = _confounded_pr(rng, table, n)
    res = stats.residualize(y, design)
    exog = sm.add_constant(design)
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    out = stats.compare_groups(a, b, design=design)
    iu = np.triu_indices(n, 1)
    for k in (0, 7, 40, 77):
        ref = sm.OLS(y[:, k], exog).fit().resid
        np.testing.assert_allclose(res[:, k], ref, rtol=0, atol=1e-10)
        mw = sps.mannwhitneyu(ref[:n_a], ref[n_a:], alternative="two-sided",
                              method="asymptotic", use_continuity=True)
        i, j = iu[0][k], iu[1][k]
        assert out["p"][i, j] == pytest.approx(mw.pvalue, rel=1e-12, abs=1e-15)
        assert out["p"][j, i] == out["p"][i, j]
        assert out["U"][i, j] == mw.statistic
        assert out["effect"][i, j] == pytest.approx(2 * mw.statistic / (n_a * n_b) - 1)
        # medians stay those of the raw PR values
        assert out["median_a"][i, j] == np.median(y[:n_a, k])
        assert out["median_b"][i, j] == np.median(y[n_a:, k])
    np.testing.assert_array_equal(out["p_bh"][iu], sps.false_discovery_control(out["p"][iu]))
    np.testing.assert_array_equal(
        out["p_by"][iu], sps.false_discovery_control(out["p"][iu], method="by"))
    assert np.isnan(out["p"][np.diag_indices(n)]).all()
    # ranksums method: scipy.stats.ranksums on the residuals
    _, p_rs = stats.rank_sum_test_adjusted(a, b, design, method="ranksums")
    ref = sm.OLS(y[:, 7], exog).fit().resid
    assert p_rs[iu[0][7], iu[1][7]] == pytest.approx(
        sps.ranksums(ref[:n_a], ref[n_a:]).pvalue, rel=1e-12)


def test_ties_of_residuals_are_kept_and_constant_pair_gets_p_one():
    """Heavily tied PR values with a categorical covariate: tied residuals stay tied."""
    rng = np.random.default_rng(5)
    n, n_a, n_b = 8, 20, 22
    table = _cohort(rng, n_a, n_b)
    design, names = covariate_design(table, ["PTGENDER"])
    assert names == ["PTGENDER=Male"]
    y = np.floor(rng.gamma(1.0, 1.0, (n_a + n_b, n * (n - 1) // 2)))
    y[:, 3] = 2.5  # one pair constant across all subjects
    res = stats.residualize(y, design)
    male = design[:, 0] == 1
    for k in range(y.shape[1]):  # same value and same sex -> exactly the same residual
        for sex in (male, ~male):
            for v in np.unique(y[sex, k]):
                assert np.unique(res[sex & (y[:, k] == v), k]).size == 1
    assert (res[:, 3] == 0).all()
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    _, p = stats.rank_sum_test_adjusted(a, b, design)
    iu = np.triu_indices(n, 1)
    assert p[iu[0][3], iu[1][3]] == 1.0
    exog = sm.add_constant(design)
    for k in (0, 5, 20):
        ref = np.round(sm.OLS(y[:, k], exog).fit().resid, 10)  # merge float noise into ties
        mw = sps.mannwhitneyu(ref[:n_a], ref[n_a:], alternative="two-sided",
                              method="asymptotic")
        assert p[iu[0][k], iu[1][k]] == pytest.approx(mw.pvalue, rel=1e-12)


def test_without_design_the_unadjusted_path_is_taken(monkeypatch):
    rng = np.random.default_rng(2)
    a, b = rng.gamma(2, 1, (15, 9, 9)), rng.gamma(2, 1, (17, 9, 9))
    expected = stats.compare_groups(a, b)

    def boom(*args, **kwargs):
        raise AssertionError("adjusted path taken")

    monkeypatch.setattr(ranksum, "rank_sum_test_adjusted", boom)
    monkeypatch.setattr(ranksum, "_residuals", boom)
    got = stats.compare_groups(a, b, design=None)
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    u, p = stats.rank_sum_test(a, b)
    np.testing.assert_array_equal(got["p"], p)
    np.testing.assert_array_equal(got["U"], u)


def test_collinear_covariates_work_and_equal_the_reduced_design():
    rng = np.random.default_rng(8)
    n, n_a, n_b = 7, 18, 19
    table = _cohort(rng, n_a, n_b, age_shift=3.0)
    table["AGE_MONTHS"] = (12 * table["AGE"].astype(float)).map("{:.1f}".format)
    table["SEX_COPY"] = table["PTGENDER"]
    y = _confounded_pr(rng, table, n)
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    full, _ = covariate_design(table, ["AGE", "AGE_MONTHS", "PTGENDER", "SEX_COPY"])
    reduced, _ = covariate_design(table, ["AGE", "PTGENDER"])
    np.testing.assert_allclose(stats.residualize(y, full), stats.residualize(y, reduced),
                               rtol=0, atol=1e-10)
    _, p_full = stats.rank_sum_test_adjusted(a, b, full)
    _, p_red = stats.rank_sum_test_adjusted(a, b, reduced)
    np.testing.assert_allclose(p_full, p_red, rtol=1e-10)


def test_covariates_that_determine_the_group_raise():
    rng = np.random.default_rng(9)
    n_a, n_b = 12, 12
    table = _cohort(rng, n_a, n_b)
    table["DX"] = table["group"]  # a covariate that is the diagnosis
    a, b = rng.gamma(2, 1, (n_a, 5, 5)), rng.gamma(2, 1, (n_b, 5, 5))
    for columns in (["DX"], ["AGE", "DX"], ["PTGENDER", "DX"]):
        design, _ = covariate_design(table, columns)
        with pytest.raises(ValueError, match="covariates determine the group"):
            stats.compare_groups(a, b, design=design)
        with pytest.raises(ValueError, match="covariates determine the group"):
            stats.check_adjustable(design, table["group"])
    # the group as a sum of two design columns (numerically in the span, not a column)
    g = (table["group"] == "MCI").to_numpy(float)
    z = rng.normal(size=n_a + n_b)
    with pytest.raises(ValueError, match="covariates determine the group"):
        stats.rank_sum_test_adjusted(a, b, np.c_[z, 3.0 * g - z])
    with pytest.raises(ValueError, match="one row per subject"):
        stats.compare_groups(a, b, design=np.ones((n_a + n_b - 1, 1)))


# --------------------------------------------------------------------------------------
# calibration of the adjusted rank-sum tests
# --------------------------------------------------------------------------------------

#: Bounds of the null fraction of pairs with p < 0.05 (561 pairs: binomial sd 0.009).
NULL_BOUNDS = (0.02, 0.085)


def test_age_confound_fools_unadjusted_but_not_adjusted_test():
    """A realistic age confound (MCI 2.5 years older, R^2(group ~ age) = 0.06)."""
    rng = np.random.default_rng(2024)
    n, n_a, n_b = 34, 40, 40  # 561 pairs, the DMN's size in Dosenbach-160
    table = _cohort(rng, n_a, n_b, age_shift=2.5)
    design, _ = covariate_design(table, ["AGE"])
    y = _confounded_pr(rng, table, n)  # no group effect given age
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    iu = np.triu_indices(n, 1)
    raw = stats.compare_groups(a, b)["p"][iu]
    adj = stats.compare_groups(a, b, design=design)["p"][iu]
    frac_raw, frac_adj = np.mean(raw < 0.05), np.mean(adj < 0.05)
    assert frac_raw > 0.25  # measured 0.33
    assert NULL_BOUNDS[0] <= frac_adj <= NULL_BOUNDS[1], frac_adj  # measured 0.052
    assert sps.kstest(adj, "uniform").pvalue > 0.01  # measured 0.74
    assert sps.kstest(raw, "uniform").pvalue < 1e-6


def test_strong_age_confound_adjusted_test_is_conservative_not_liberal():
    """MCI 8 years older (R^2(group ~ age) = 0.43): every unadjusted test rejects.

    Residualising without the group removes the part of the group contrast that the
    covariates explain, so the residuals' group difference has variance ``1 - R^2`` of
    what the rank-sum null assumes: the test is conservative, size about
    ``2 Phi(-1.96 / sqrt(1 - R^2))`` (0.010 here), never liberal.
    """
    rng = np.random.default_rng(2024)
    n, n_a, n_b = 34, 40, 40
    table = _cohort(rng, n_a, n_b, age_shift=8.0)
    design, _ = covariate_design(table, ["AGE"])
    y = _confounded_pr(rng, table, n)
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    iu = np.triu_indices(n, 1)
    raw = stats.compare_groups(a, b)["p"][iu]
    adj = stats.compare_groups(a, b, design=design)["p"][iu]
    assert np.mean(raw < 0.05) > 0.95  # measured 1.0
    assert 0.002 <= np.mean(adj < 0.05) <= 0.05  # measured 0.018


def test_planted_group_effect_survives_adjustment():
    rng = np.random.default_rng(77)
    n, n_a, n_b = 34, 40, 40
    table = _cohort(rng, n_a, n_b, age_shift=2.5)
    design, _ = covariate_design(table, ["AGE", "PTGENDER"])
    plant = np.arange(0, 561, 11)  # 51 pairs with a group shift independent of age
    y = _confounded_pr(rng, table, n, plant=plant, delta=3.0)
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    iu = np.triu_indices(n, 1)
    res = stats.compare_groups(a, b, design=design)
    p = res["p"][iu]
    null = np.setdiff1d(np.arange(561), plant)
    assert np.mean(p[plant] < 0.05) > 0.9
    assert np.mean(res["p_bh"][iu][plant] < 0.05) > 0.8
    assert (res["effect"][iu][plant] < 0).all()  # MCI (group b) larger
    assert NULL_BOUNDS[0] <= np.mean(p[null] < 0.05) <= NULL_BOUNDS[1]


def test_categorical_confound_is_removed():
    rng = np.random.default_rng(31)
    n, n_a, n_b = 24, 40, 40
    table = _cohort(rng, n_a, n_b, female_a=0.85, female_b=0.15)
    design, names = covariate_design(table, ["PTGENDER"])
    assert names == ["PTGENDER=Male"]
    m = n * (n - 1) // 2
    male = (table["PTGENDER"] == "Male").to_numpy()
    y = rng.gamma(2.0, 1.0, (n_a + n_b, m)) + 2.0 * male[:, None]
    a, b = _sym_stack(y[:n_a], n), _sym_stack(y[n_a:], n)
    iu = np.triu_indices(n, 1)
    assert np.mean(stats.compare_groups(a, b)["p"][iu] < 0.05) > 0.5
    frac = np.mean(stats.compare_groups(a, b, design=design)["p"][iu] < 0.05)
    assert 0.01 <= frac <= 0.095, frac


# --------------------------------------------------------------------------------------
# PERMANOVA with covariates
# --------------------------------------------------------------------------------------


def _euclid(x):
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def _hat(x):
    return x @ np.linalg.pinv(x)


def _dummies(labels):
    levels = sorted(set(labels))
    return np.column_stack([(np.asarray(labels) == g).astype(float) for g in levels[1:]])


def _loop_adjusted(d, labels, design, perms):
    """Sequential pseudo-F and residual-permutation p written out with hat matrices."""
    n = d.shape[0]
    c = np.eye(n) - 1.0 / n
    g = -0.5 * c @ (d**2) @ c
    x_c = np.column_stack([np.ones(n), design])
    x_f = np.column_stack([x_c, _dummies(labels)])
    h_c, h_f = _hat(x_c), _hat(x_f)
    df_g = np.linalg.matrix_rank(x_f) - np.linalg.matrix_rank(x_c)
    df_r = n - np.linalg.matrix_rank(x_f)

    def f_of(m):
        return (np.trace(h_f @ m) - np.trace(h_c @ m)) / df_g / (
            (np.trace(m) - np.trace(h_f @ m)) / df_r)

    f = f_of(g)
    r = (np.eye(n) - h_c) @ g @ (np.eye(n) - h_c)
    count = 0
    for perm in perms:
        inv = np.argsort(perm)
        count += f_of(r[np.ix_(inv, inv)]) >= f - 1e-9 * abs(f)
    return f, (1 + count) / (1 + len(perms))


@pytest.mark.parametrize("n_groups", [2, 3])
def test_adjusted_pseudo_f_equals_statsmodels_sequential_ss(n_groups):
    """Euclidean distances: PERMANOVA's F is the multivariate (summed) type I ANOVA F."""
    rng = np.random.default_rng(40 + n_groups)
    n, p = 27, 4
    labels = np.array([f"g{k % n_groups}" for k in range(n)])
    table = _cohort(rng, n, 0)
    design, _ = covariate_design(table, ["AGE", "PTGENDER"])
    x = rng.normal(size=(n, p)) + 0.5 * design[:, :1] + 0.3 * (labels == "g1")[:, None]
    d = _euclid(x)
    exog_c = sm.add_constant(design)
    exog_f = np.column_stack([exog_c, _dummies(labels)])
    ss_c = sum(sm.OLS(x[:, k], exog_c).fit().ssr for k in range(p))
    ss_f = sum(sm.OLS(x[:, k], exog_f).fit().ssr for k in range(p))
    df_g, df_r = n_groups - 1, n - exog_f.shape[1]
    f_ref = ((ss_c - ss_f) / df_g) / (ss_f / df_r)
    perms = stats.permutation_indices(n, 199, seed=4)
    f, pval = stats.permanova(d, labels, permutations=perms, design=design)
    assert f == pytest.approx(f_ref, rel=1e-9)
    f_loop, p_loop = _loop_adjusted(d, labels, design, perms)
    assert f == pytest.approx(f_loop, rel=1e-9)
    assert pval == p_loop
    assert 0.02 < pval < 0.9  # an intermediate p, so that the permutation scheme matters
    # the seed path draws the same permutations; chunking changes nothing
    assert stats.permanova(d, labels, n_permutations=199, seed=4, design=design) == (f, pval)
    assert stats.permanova(d, labels, permutations=perms, design=design,
                           chunk_size=13) == (f, pval)
    assert stats.gower_centred(d).trace() == pytest.approx(((x - x.mean(0)) ** 2).sum())


def test_adjusted_permanova_with_empty_design_is_the_unadjusted_test():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(18, 3))
    x[:9, 0] += 0.9
    labels = np.repeat(["HC", "MCI"], 9)
    perms = stats.permutation_indices(18, 299, seed=1)
    f0, p0 = stats.permanova(_euclid(x), labels, permutations=perms)
    f1, p1 = stats.permanova(_euclid(x), labels, permutations=perms, design=np.empty((18, 0)))
    assert f1 == pytest.approx(f0, rel=1e-10) and p1 == p0


def test_ps_group_tests_unadjusted_unchanged_and_adjusted(monkeypatch):
    rng = np.random.default_rng(6)
    n = 16
    labels = np.repeat(["HC", "MCI"], 8)
    ps = {roi: np.stack([_euclid(rng.normal(size=(n, 2))) for _ in range(2)])
          for roi in (3, 1, 7)}
    expected = stats.ps_group_tests(ps, labels, n_permutations=99, seed=2)

    def boom(*args, **kwargs):
        raise AssertionError("adjusted path taken")

    with monkeypatch.context() as m:
        m.setattr(permanova_mod, "_permanova_adjusted", boom)
        m.setattr(permanova_mod, "_adjusted_model", boom)
        got = stats.ps_group_tests(ps, labels, n_permutations=99, seed=2, design=None)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    perms = stats.permutation_indices(n, 99, seed=2)
    for row in expected.itertuples():
        assert (row.pseudo_F, row.p) == stats.permanova(ps[row.roi][row.dim], labels,
                                                        permutations=perms)
    design = rng.normal(size=(n, 1))
    adj = stats.ps_group_tests(ps, labels, n_permutations=99, seed=2, design=design)
    assert list(adj.columns) == list(expected.columns)
    for row in adj.itertuples():
        assert (row.pseudo_F, row.p) == stats.permanova(ps[row.roi][row.dim], labels,
                                                        permutations=perms, design=design)
    with pytest.raises(ValueError, match="covariates determine the group"):
        stats.ps_group_tests(ps, labels, design=(labels == "MCI")[:, None] * 2.0 + 1.0)


def test_adjusted_permanova_null_calibration_under_age_confound():
    alpha, n_sets = 0.05, 150
    p_raw, p_adj = [], []
    for k in range(n_sets):
        rng = np.random.default_rng(500 + k)
        labels = np.repeat(["HC", "MCI"], 12)
        age = rng.normal(size=24) + 1.5 * (labels == "MCI")  # groups differ in age
        x = rng.normal(size=(24, 3)) + 1.5 * age[:, None]  # age drives the distances
        d = _euclid(x)
        p_raw.append(stats.permanova(d, labels, n_permutations=199, seed=k)[1])
        p_adj.append(stats.permanova(d, labels, n_permutations=199, seed=k,
                                     design=age[:, None])[1])
    p_raw, p_adj = np.array(p_raw), np.array(p_adj)
    assert np.mean(p_raw < alpha) > 0.5  # fooled by the confound
    lo, hi = sps.binom.interval(0.99, n_sets, alpha)
    assert lo <= np.count_nonzero(p_adj < alpha) <= hi
    assert sps.kstest(p_adj, "uniform").pvalue > 0.01


# --------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture
def no_figures(monkeypatch):
    """Replace the stages' figure functions with recorders of their titles."""
    titles = []

    def record(*args, title=None, **kwargs):
        titles.append(title if title is not None else
                      next((a for a in args if isinstance(a, str) and " vs " in a), None))

    for name in ("plot_pplot", "plot_pplot_overview", "plot_hubs", "plot_connectome_glass",
                 "write_connectome_html", "plot_ps_brain_map", "plot_ps_matrix"):
        monkeypatch.setattr(stages, name, record)
    return titles


def _write_pr_cohort(tmp_path, atlas, layout, gen):
    nets = networks(atlas)
    table = _cohort(gen, 14, 13, age_shift=6.0, female_a=0.6, female_b=0.4)
    # interleave the groups in the cohort order, so the design rows must be reordered
    table = table.iloc[gen.permutation(len(table))].reset_index(drop=True)
    io.write_cohort(tmp_path / "cohort.tsv", table, extra=["AGE", "PTGENDER"])
    age = table["AGE"].astype(float).to_numpy()
    for s, a in zip(table["subject"], age, strict=True):
        mats = {}
        for k, idx in nets.items():
            n = len(idx)
            v = 0.3 * (a - 68.0) + gen.gamma(2.0, 1.0, (2, n * (n - 1) // 2)) + 3.0
            mats[k] = _sym_stack(v, n)
        io.write_pr(layout.pr(s), mats, {k: atlas["roi"].to_numpy()[i] for k, i in nets.items()},
                    meta={"subject": s})  # fmt: skip
    return table, nets


def test_wilcoxon_tests_stage_adjusts_and_records_covariates(tmp_path, atlas, caplog,
                                                             no_figures):
    from tda_mci.paths import Layout
    from tda_mci.settings import RankSumSettings

    gen, layout = np.random.default_rng(13), Layout(str(tmp_path))
    table, nets = _write_pr_cohort(tmp_path, atlas, layout, gen)
    subjects = table["subject"].tolist()
    outputs = layout.pr_statistics("HCvsMCI", list(nets))
    settings = RankSumSettings.from_config({"statistics": {"covariates": ["AGE", "PTGENDER"]}})
    assert settings.covariates == ("AGE", "PTGENDER")
    with caplog.at_level("INFO", logger="tda_mci.stats.stages"):
        stages.wilcoxon_tests(settings, cohort=str(tmp_path / "cohort.tsv"),
                              comparison=("HC", "MCI"), pr=[layout.pr(s) for s in subjects],
                              outputs=outputs)  # fmt: skip
    results, meta = io.read_pr_statistics(outputs["stats"])
    assert meta["covariates"] == ["AGE", "PTGENDER"]
    assert meta["design_columns"] == ["AGE", "PTGENDER=Male"]
    assert "residuals" in meta["adjustment"]
    assert meta["test"] == "two-sided Mann-Whitney U (rank-sum) per ROI pair"
    assert "HC vs MCI: rank-sum tests adjusted for AGE, PTGENDER" in caplog.text
    assert any(t and t.endswith("adjusted for AGE, PTGENDER") for t in no_figures)
    # the library function on the same data, design rows = HC subjects then MCI subjects
    hc, mci = table[table["group"] == "HC"], table[table["group"] == "MCI"]
    design, _ = covariate_design(pd.concat([hc, mci]), ["AGE", "PTGENDER"])
    stacks = {s: io.read_pr(layout.pr(s))[0] for s in subjects}
    for key in nets:
        for dim in range(2):
            a = np.stack([stacks[s][key][dim] for s in hc["subject"]])
            b = np.stack([stacks[s][key][dim] for s in mci["subject"]])
            ref = stats.compare_groups(a, b, design=design)
            unadj = stats.compare_groups(a, b)
            for name, value in ref.items():
                np.testing.assert_array_equal(results[key, dim][name], value)
            np.testing.assert_array_equal(results[key, dim]["median_a"], unadj["median_a"])
    # the age confound: unadjusted tests reject far more often than adjusted ones
    iu = np.triu_indices(len(nets["DMN"]), 1)
    assert np.mean(results["DMN", 0]["p"][iu] < 0.05) < 0.12


def test_wilcoxon_tests_stage_without_covariates_is_unadjusted(tmp_path, atlas, caplog,
                                                               no_figures, monkeypatch):
    from tda_mci.paths import Layout
    from tda_mci.settings import RankSumSettings

    gen, layout = np.random.default_rng(14), Layout(str(tmp_path))
    table, nets = _write_pr_cohort(tmp_path, atlas, layout, gen)
    subjects = table["subject"].tolist()
    outputs = layout.pr_statistics("HCvsMCI", list(nets))

    def boom(*args, **kwargs):
        raise AssertionError("adjusted path taken")

    monkeypatch.setattr(stages, "covariate_design", boom)
    monkeypatch.setattr(ranksum, "rank_sum_test_adjusted", boom)
    with caplog.at_level("INFO", logger="tda_mci.stats.stages"):
        stages.wilcoxon_tests(RankSumSettings.from_config({}),
                              cohort=str(tmp_path / "cohort.tsv"), comparison=("HC", "MCI"),
                              pr=[layout.pr(s) for s in subjects], outputs=outputs)
    results, meta = io.read_pr_statistics(outputs["stats"])
    assert not {"covariates", "design_columns", "adjustment"} & set(meta)
    assert "rank-sum tests unadjusted" in caplog.text
    assert not any(t and "adjusted for" in t for t in no_figures)
    hc, mci = table[table["group"] == "HC"], table[table["group"] == "MCI"]
    stacks = {s: io.read_pr(layout.pr(s))[0] for s in subjects}
    a = np.stack([stacks[s]["DMN"][1] for s in hc["subject"]])
    b = np.stack([stacks[s]["DMN"][1] for s in mci["subject"]])
    for name, value in stats.compare_groups(a, b).items():
        np.testing.assert_array_equal(results["DMN", 1][name], value)


def test_permanova_stage_adjusts_and_records_covariates(tmp_path, atlas, caplog, no_figures):
    from tda_mci.paths import Layout
    from tda_mci.settings import PermanovaSettings

    gen, layout = np.random.default_rng(15), Layout(str(tmp_path))
    table = _cohort(gen, 10, 11, age_shift=5.0)
    table = pd.concat([table, _cohort(gen, 0, 4).assign(group="LMCI")], ignore_index=True)
    table["subject"] = [f"s{k:03d}" for k in range(len(table))]
    table["participant_id"] = "sub-" + table["subject"]
    io.write_cohort(tmp_path / "cohort.tsv", table, extra=["AGE", "PTGENDER"])
    order = gen.permutation(len(table))  # the PS files' subject order
    subjects = table["subject"].to_numpy()[order].tolist()
    age = table["AGE"].astype(float).to_numpy()[order]
    rois = atlas["roi"].to_numpy()
    blocks = [rois[:3], rois[3:5]]
    mats = {int(r): np.stack([_euclid(gen.normal(size=(len(order), 2)) + age[:, None] * 0.3)
                              for _ in range(2)]) for r in rois[:5]}
    paths = []
    for k, block in enumerate(blocks):
        path = layout.ps(k)
        io.write_ps(path, {int(r): mats[int(r)] for r in block}, subjects, meta={})
        paths.append(path)
    outputs = layout.ps_statistics("HCvsMCI")
    settings = PermanovaSettings.from_config(
        {"statistics": {"covariates": ["AGE", "PTGENDER"], "ps_permutations": 99}})
    with caplog.at_level("INFO", logger="tda_mci.stats.stages"):
        stages.permanova_tests(settings, cohort=str(tmp_path / "cohort.tsv"),
                               comparison=("HC", "MCI"), ps=paths, outputs=outputs)
    out = io.read_tsv(outputs["table"])
    assert (out["covariates"] == "AGE, PTGENDER").all()
    assert list(out.columns)[-1] == "covariates"
    assert "HC vs MCI: PERMANOVA tests adjusted for AGE, PTGENDER" in caplog.text
    assert any(t and t.endswith("adjusted for AGE, PTGENDER") for t in no_figures)
    # the library function on the compared subjects, in the PS files' order
    keep = [i for i, s in enumerate(subjects) if s in set(table.loc[table["group"] != "LMCI",
                                                                     "subject"])]
    rows = table.set_index("subject", drop=False).loc[[subjects[i] for i in keep]]
    design, _ = covariate_design(rows.reset_index(drop=True), ["AGE", "PTGENDER"])
    labels = rows["group"].to_numpy()
    ref = stats.ps_group_tests({r: m[:, keep][:, :, keep] for r, m in mats.items()}, labels,
                               n_permutations=99, seed=settings.seed, design=design)
    np.testing.assert_allclose(out["pseudo_F"], ref["pseudo_F"], rtol=1e-9)
    np.testing.assert_array_equal(out["p"], ref["p"])
    assert list(out["roi"]) == list(ref["roi"])
