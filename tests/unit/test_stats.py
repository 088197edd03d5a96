"""Tests of tda_mci.stats.ranksum against scipy and straightforward reference implementations."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from tda_mci import stats
from tda_mci.atlas import load_atlas, networks


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def _pr_stack(rng, n_subjects, n, ties=False):
    """PR-like stack: symmetric, positive, zero diagonal; optionally heavily tied."""
    x = rng.gamma(2.0, 1.0, size=(n_subjects, n, n))
    if ties:
        x = np.floor(x)  # few distinct values, many exact zeros (like empty H2 diagrams)
    x = np.triu(x, 1)
    return x + x.transpose(0, 2, 1)


# --------------------------------------------------------------------------------------
# rank-sum tests: equality with scipy pair by pair
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sizes", [(40, 33), (7, 12), (1, 5)])
def test_pvalues_equal_scipy_mannwhitneyu_pair_by_pair(rng, ties, sizes):
    n = 34
    a, b = _pr_stack(rng, sizes[0], n, ties), _pr_stack(rng, sizes[1], n, ties)
    u, p = stats.rank_sum_test(a, b)
    assert np.array_equal(p, stats.rank_sum_pvalues(a, b), equal_nan=True)
    for i in range(n):
        for j in range(i + 1, n):
            ref = sps.mannwhitneyu(
                a[:, i, j], b[:, i, j], alternative="two-sided", method="asymptotic",
                use_continuity=True,
            )  # fmt: skip
            assert p[i, j] == pytest.approx(ref.pvalue, rel=1e-10, abs=0)
            assert p[j, i] == p[i, j]
            assert u[i, j] == pytest.approx(ref.statistic, rel=1e-12)
    assert np.isnan(np.diag(p)).all() and np.isnan(np.diag(u)).all()


@pytest.mark.parametrize("ties", [False, True])
def test_pvalues_equal_scipy_ranksums_pair_by_pair(rng, ties):
    n = 21
    a, b = _pr_stack(rng, 26, n, ties), _pr_stack(rng, 19, n, ties)
    p = stats.rank_sum_pvalues(a, b, method="ranksums")
    for i in range(n):
        for j in range(i + 1, n):
            ref = sps.ranksums(a[:, i, j], b[:, i, j]).pvalue
            assert p[i, j] == pytest.approx(ref, rel=1e-10, abs=0)
            assert p[j, i] == p[i, j]


def test_heavy_ties_really_occur_in_tied_fixture(rng):
    a = _pr_stack(rng, 40, 10, ties=True)
    col = a[:, 0, 1]
    assert len(np.unique(col)) < len(col) / 3


def test_all_tied_pair_gives_p_one_like_scipy(rng):
    a, b = _pr_stack(rng, 9, 5), _pr_stack(rng, 11, 5)
    a[:, 1, 3] = a[:, 3, 1] = 0.0
    b[:, 1, 3] = b[:, 3, 1] = 0.0
    p = stats.rank_sum_pvalues(a, b)
    assert p[1, 3] == 1.0 == sps.mannwhitneyu(a[:, 1, 3], b[:, 1, 3], method="asymptotic").pvalue
    assert np.isfinite(p[np.triu_indices(5, 1)]).all()


def test_only_upper_triangle_is_read(rng):
    a, b = _pr_stack(rng, 15, 8), _pr_stack(rng, 17, 8)
    p = stats.rank_sum_pvalues(a, b)
    a2 = a.copy()
    a2[:, np.tril_indices(8, -1)[0], np.tril_indices(8, -1)[1]] = rng.random((15, 28))
    assert np.array_equal(stats.rank_sum_pvalues(a2, b), p, equal_nan=True)


def test_swapping_groups_keeps_p_and_mirrors_u_and_effect(rng):
    a, b = _pr_stack(rng, 12, 6), _pr_stack(rng, 20, 6)
    u_ab, p_ab = stats.rank_sum_test(a, b)
    u_ba, p_ba = stats.rank_sum_test(b, a)
    iu = np.triu_indices(6, 1)
    np.testing.assert_allclose(p_ab[iu], p_ba[iu], rtol=1e-12)
    np.testing.assert_allclose(u_ab[iu] + u_ba[iu], 12 * 20)
    np.testing.assert_allclose(
        stats.rank_biserial(a, b)[iu], -stats.rank_biserial(b, a)[iu], atol=1e-12
    )


def test_shifted_group_is_detected_with_positive_effect(rng):
    a, b = _pr_stack(rng, 40, 6), _pr_stack(rng, 40, 6)
    a[:, 0, 1] += 5.0
    a[:, 1, 0] += 5.0
    res = stats.compare_groups(a, b)
    assert res["p"][0, 1] < 1e-10
    assert res["effect"][0, 1] > 0.9
    assert res["significant"][0, 1] and res["significant"][1, 0]


def test_rank_biserial_equals_direct_pairwise_count(rng):
    a, b = _pr_stack(rng, 13, 7, ties=True), _pr_stack(rng, 9, 7, ties=True)
    r = stats.rank_biserial(a, b)
    for i in range(7):
        for j in range(i + 1, 7):
            diff = a[:, i, j][:, None] - b[:, i, j][None, :]
            direct = np.mean(np.sign(diff))  # P(a > b) - P(a < b)
            assert r[i, j] == pytest.approx(direct, abs=1e-12)
            u = sps.mannwhitneyu(a[:, i, j], b[:, i, j]).statistic
            assert r[i, j] == pytest.approx(2 * u / (13 * 9) - 1, abs=1e-12)
    assert np.isnan(np.diag(r)).all()


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((5, 4)), "stack of square"),
        (np.zeros((5, 4, 3)), "stack of square"),
        (np.zeros((0, 4, 4)), "no subjects"),
        (np.full((5, 4, 4), np.nan), "non-finite"),
        (np.zeros((5, 3, 3)), "differ in size"),
    ],
)
def test_bad_stacks_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        stats.rank_sum_pvalues(bad, np.zeros((6, 4, 4)))


def test_unknown_method_raises(rng):
    a = _pr_stack(rng, 5, 4)
    with pytest.raises(ValueError, match="'exact'"):
        stats.rank_sum_pvalues(a, a, method="exact")


def test_public_api_exposes_rank_sum_pvalues(rng):
    import tda_mci

    a, b = _pr_stack(rng, 5, 4), _pr_stack(rng, 6, 4)
    assert np.array_equal(tda_mci.rank_sum_pvalues(a, b), stats.rank_sum_pvalues(a, b),
                          equal_nan=True)  # fmt: skip


# --------------------------------------------------------------------------------------
# Calibration on null data
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True])
def test_null_data_give_alpha_false_positives(ties):
    """40 vs 40 subjects, 34 ROIs, 20 independent cohorts: 11,220 null pairs."""
    rng = np.random.default_rng(7)
    alpha, n, hits, total = 0.01, 34, 0, 0
    hits_ranksums = 0
    iu = np.triu_indices(n, 1)
    for _ in range(20):
        a, b = _pr_stack(rng, 40, n, ties), _pr_stack(rng, 40, n, ties)
        hits += int(np.count_nonzero(stats.rank_sum_pvalues(a, b)[iu] < alpha))
        hits_ranksums += int(
            np.count_nonzero(stats.rank_sum_pvalues(a, b, method="ranksums")[iu] < alpha)
        )
        total += len(iu[0])
    lo, hi = sps.binom.interval(0.99, total, alpha)
    assert lo <= hits <= hi, (hits, total, lo, hi)
    if ties:
        # Without the tie correction the variance is overstated: conservative.
        assert hits_ranksums < hits


# --------------------------------------------------------------------------------------
# FDR
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bh", "by"])
def test_adjust_pvalues_equal_scipy_over_upper_triangle(rng, method):
    a, b = _pr_stack(rng, 30, 18), _pr_stack(rng, 25, 18)
    a[:, :3, :3] += 2.0  # some small p-values
    p = stats.rank_sum_pvalues(a, b)
    adj = stats.adjust_pvalues(p, method)
    iu = np.triu_indices(18, 1)
    ref = sps.false_discovery_control(p[iu], method=method)
    np.testing.assert_allclose(adj[iu], ref, rtol=1e-12)
    assert np.array_equal(adj, adj.T, equal_nan=True)
    assert np.isnan(np.diag(adj)).all()
    assert (adj[iu] >= p[iu]).all()


def test_adjust_pvalues_vector_with_nan(rng):
    p = rng.random(50) ** 3
    p[[3, 17]] = np.nan
    adj = stats.adjust_pvalues(p, "bh")
    keep = ~np.isnan(p)
    np.testing.assert_allclose(adj[keep], sps.false_discovery_control(p[keep]), rtol=1e-12)
    assert np.isnan(adj[[3, 17]]).all()


def test_adjust_pvalues_rejects_bad_input():
    with pytest.raises(ValueError, match="'holm'"):
        stats.adjust_pvalues(np.array([0.1, 0.2]), "holm")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.adjust_pvalues(np.array([0.1, 1.2]), "bh")
    with pytest.raises(ValueError, match="1-D array or a square"):
        stats.adjust_pvalues(np.zeros((2, 3)), "bh")


def test_compare_groups_contents(rng):
    a, b = _pr_stack(rng, 11, 9), _pr_stack(rng, 14, 9)
    res = stats.compare_groups(a, b, alpha=0.05)
    assert set(res) == {"p", "p_bh", "p_by", "U", "effect", "median_a", "median_b",
                        "significant"}  # fmt: skip
    for v in res.values():
        assert v.shape == (9, 9)
    iu = np.triu_indices(9, 1)
    np.testing.assert_allclose(res["median_a"][iu], np.median(a, axis=0)[iu])
    np.testing.assert_allclose(res["median_b"][iu], np.median(b, axis=0)[iu])
    assert np.array_equal(res["significant"][iu], res["p"][iu] < 0.05)
    assert not res["significant"].diagonal().any()
    ref_by = sps.false_discovery_control(res["p"][iu], method="by")
    np.testing.assert_allclose(res["p_by"][iu], ref_by)
    with pytest.raises(ValueError, match="alpha"):
        stats.compare_groups(a, b, alpha=1.5)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def _results(rng, atlas, plant):
    """compare_groups results for every network and dim; ``plant`` = {network: row}."""
    nets = networks(atlas)
    out = {}
    for key, idx in nets.items():
        n = len(idx)
        for q in range(3):
            a, b = _pr_stack(rng, 30, n), _pr_stack(rng, 30, n)
            if key in plant:
                k = plant[key]
                a[:, k, :] += 3.0
                a[:, :, k] += 3.0
            out[key, q] = stats.compare_groups(a, b)
    return out, nets


def test_significant_pairs_table_maps_rois_and_sorts(rng, atlas):
    dmn = networks(atlas)["DMN"]
    k108 = int(np.flatnonzero(atlas["roi"].to_numpy()[dmn] == 108)[0])
    results, nets = _results(rng, atlas, {"DMN": k108})
    table = stats.significant_pairs_table(results, atlas, nets, 0.01, "HC vs LMCI",
                                         fdr_level=0.05)
    assert tuple(table.columns) == stats.SIGNIFICANT_PAIRS_COLUMNS
    assert (np.diff(table["p"].to_numpy()) >= 0).all()
    assert (table["p"] < 0.01).all() and (table["comparison"] == "HC vs LMCI").all()
    # Every pair of ROI 108 with the other 33 DMN ROIs in each of 3 dims.
    with108 = table[(table["roi_i"] == 108) | (table["roi_j"] == 108)]
    assert len(with108) == 33 * 3
    by_roi = atlas.set_index("roi")
    for row in table.itertuples():
        assert row.network_i == row.network_j == by_roi.loc[row.roi_i, "network"]
        assert row.label_i == by_roi.loc[row.roi_i, "label"]
        assert (row.x_j, row.y_j, row.z_j) == tuple(by_roi.loc[row.roi_j, ["x", "y", "z"]])
        assert row.roi_i != row.roi_j
        idx = nets[row.network]
        rows_i = np.flatnonzero(atlas["roi"].to_numpy() == row.roi_i)[0]
        rows_j = np.flatnonzero(atlas["roi"].to_numpy() == row.roi_j)[0]
        ii, jj = np.flatnonzero(idx == rows_i)[0], np.flatnonzero(idx == rows_j)[0]
        assert ii < jj
        res = results[row.network, row.dim]
        assert row.p == res["p"][ii, jj] and row.U == res["U"][ii, jj]
        assert row.effect == res["effect"][ii, jj] and row.median_a == res["median_a"][ii, jj]
    # nested input gives the same table
    nested = {k: {q: results[k, q] for q in range(3)} for k in nets}
    pd.testing.assert_frame_equal(
        stats.significant_pairs_table(nested, atlas, nets, 0.01, "HC vs LMCI", fdr_level=0.05),
        table,
    )


def test_significant_pairs_table_criterion_and_empty(rng, atlas):
    results, nets = _results(rng, atlas, {})
    raw = stats.significant_pairs_table(results, atlas, nets, 0.01, "c", fdr_level=0.05)
    bh = stats.significant_pairs_table(results, atlas, nets, 0.01, "c", criterion="p_bh",
                                       fdr_level=0.05)
    assert len(bh) <= len(raw)
    assert (bh["p_bh"] < 0.01).all()
    empty = stats.significant_pairs_table(results, atlas, nets, 1e-300, "c", fdr_level=0.05)
    assert empty.empty and tuple(empty.columns) == stats.SIGNIFICANT_PAIRS_COLUMNS
    hubs = stats.hub_table(empty, atlas)
    assert len(hubs) == len(atlas) and (hubs["n_pairs"] == 0).all()
    assert hubs["roi"].tolist() == atlas["roi"].tolist()  # ties keep atlas order


def test_significant_pairs_table_rejects_mismatch(rng, atlas):
    results, nets = _results(rng, atlas, {})
    bad = {("DMN", 0): results["CB", 0]}
    with pytest.raises(ValueError, match="DMN"):
        stats.significant_pairs_table(bad, atlas, nets, 0.01, "c", fdr_level=0.05)
    with pytest.raises(ValueError, match="XYZ"):
        stats.significant_pairs_table({("XYZ", 0): results["CB", 0]}, atlas, nets, 0.01, "c",
                                      fdr_level=0.05)


def test_hub_table_counts_and_ranks(atlas):
    rows = [(1, 4, 0), (1, 5, 0), (1, 6, 1), (4, 5, 2), (7, 11, 0)]
    sig = pd.DataFrame(
        {"comparison": "c", "dim": [r[2] for r in rows],
         "roi_i": [r[0] for r in rows], "roi_j": [r[1] for r in rows],
         "fdr": [True, False, True, False, False]}
    )  # fmt: skip
    hubs = stats.hub_table(sig, atlas)
    assert hubs["roi"].tolist()[:6] == [1, 4, 5, 6, 7, 11]  # 3, then 2, 2 (atlas order), ...
    assert hubs["n_pairs"].tolist()[:6] == [3, 2, 2, 1, 1, 1]
    assert hubs["rank"].tolist()[:6] == [1, 2, 2, 4, 4, 4]
    first = hubs.iloc[0]
    assert (first["n_pairs_H0"], first["n_pairs_H1"], first["n_pairs_H2"]) == (2, 1, 0)
    assert first["label"] == "vmPFC 1" and first["network"] == "default"
    assert hubs["n_pairs"].sum() == 2 * len(rows)
    with pytest.raises(ValueError, match="mixes comparisons"):
        stats.hub_table(pd.concat([sig, sig.assign(comparison="d")]), atlas)
    with pytest.raises(ValueError, match="999"):
        stats.hub_table(sig.assign(roi_j=999), atlas)


def test_fdr_column_and_hub_fdr_counts(rng, atlas):
    """``fdr`` is ``p_bh < fdr_level``; hub FDR counts are the pair table's, recounted."""
    dmn = networks(atlas)["DMN"]
    k108 = int(np.flatnonzero(atlas["roi"].to_numpy()[dmn] == 108)[0])
    results, nets = _results(rng, atlas, {"DMN": k108})
    for level in (1e-6, 0.05):
        table = stats.significant_pairs_table(results, atlas, nets, 0.01, "c", fdr_level=level)
        assert table["fdr"].dtype == bool
        np.testing.assert_array_equal(table["fdr"], table["p_bh"].to_numpy() < level)
    assert 99 <= table["fdr"].sum() < len(table)  # the planted pairs, not the null ones
    hubs = stats.hub_table(table, atlas)
    assert list(hubs.columns[7:]) == ["n_pairs", "n_pairs_fdr"] + [
        f"n_pairs{x}_H{q}" for q in range(3) for x in ("", "_fdr")]
    for hub in hubs.itertuples():
        mine = table[(table["roi_i"] == hub.roi) | (table["roi_j"] == hub.roi)]
        assert hub.n_pairs_fdr == mine["fdr"].sum() <= hub.n_pairs == len(mine)
        for q in range(3):
            assert getattr(hub, f"n_pairs_fdr_H{q}") == mine.loc[mine["dim"] == q, "fdr"].sum()
    # order: raw count, then atlas order (FDR counts do not reorder)
    where = {r: k for k, r in enumerate(atlas["roi"])}
    keys = [(-n, where[r]) for n, r in zip(hubs["n_pairs"], hubs["roi"], strict=True)]
    assert keys == sorted(keys) and hubs["roi"].iloc[0] == 108
    assert hubs["n_pairs_fdr"].iloc[0] == 99  # its 33 DMN partners in 3 dimensions
    # the level is required and checked; the hub table needs the fdr column
    with pytest.raises(TypeError, match="fdr_level"):
        stats.significant_pairs_table(results, atlas, nets, 0.01, "c")
    with pytest.raises(ValueError, match=r"fdr_level must be a number in \(0, 1\)"):
        stats.significant_pairs_table(results, atlas, nets, 0.01, "c", fdr_level=1.5)
    with pytest.raises(ValueError, match="'fdr'"):
        stats.hub_table(table.drop(columns="fdr"), atlas)


def test_wilcoxon_tests_stage_uses_the_fdr_level(tmp_path, atlas, caplog):
    """The stage passes settings.fdr_level to the tables, figures, meta and log."""
    from tda_mci import io
    from tda_mci.paths import Layout
    from tda_mci.settings import RankSumSettings
    from tda_mci.stats.stages import wilcoxon_tests

    gen, nets, layout = np.random.default_rng(3), networks(atlas), Layout(str(tmp_path))
    subjects = [f"{g}{k:02d}" for g in ("a", "b") for k in range(12)]
    io.write_cohort(tmp_path / "cohort.tsv", pd.DataFrame({
        "participant_id": [f"sub-{s}" for s in subjects], "subject": subjects,
        "group": ["HC" if s[0] == "a" else "MCI" for s in subjects]}))  # fmt: skip
    for s in subjects:
        mats = {k: _pr_stack(gen, 2, len(idx)) for k, idx in nets.items()}  # 2 dimensions
        mats["DMN"][:, 3] += 6.0 * (s[0] == "b")
        mats["DMN"][:, :, 3] += 6.0 * (s[0] == "b")
        io.write_pr(layout.pr(s), mats, {k: atlas["roi"].to_numpy()[i] for k, i in nets.items()},
                    meta={"subject": s})  # fmt: skip
    outputs = layout.pr_statistics("HCvsMCI", list(nets))
    with caplog.at_level("INFO", logger="tda_mci.stats.stages"):
        wilcoxon_tests(RankSumSettings.from_config({"statistics": {"fdr_level": 0.1}}),
                       cohort=str(tmp_path / "cohort.tsv"), comparison=("HC", "MCI"),
                       pr=[layout.pr(s) for s in subjects], outputs=outputs)  # fmt: skip
    assert io.read_pr_statistics(outputs["stats"])[1]["fdr_level"] == 0.1
    pairs, hubs = io.read_tsv(outputs["pairs"]), io.read_tsv(outputs["hubs"])
    np.testing.assert_array_equal(pairs["fdr"], pairs["p_bh"] < 0.1)
    n_fdr = int(pairs["fdr"].sum())
    assert n_fdr >= 2 * 33 and hubs["n_pairs_fdr"].sum() == 2 * n_fdr
    assert f"{len(pairs)} significant pairs at alpha 0.01, {n_fdr} survive FDR at q 0.1" in (
        caplog.text)
    for key in ("hub_figure", "overview", "connectome", "connectome_html", "pplots"):
        for path in np.atleast_1d(outputs[key]):
            assert os.path.getsize(path) > 10_000


# --------------------------------------------------------------------------------------
# PERMANOVA
# --------------------------------------------------------------------------------------


def _loop_pseudo_f(d, labels):
    """Anderson (2001) pseudo-F written out with explicit loops."""
    n = len(labels)
    groups = sorted(set(labels))
    ss_t = sum(d[i, j] ** 2 for i in range(n) for j in range(i + 1, n)) / n
    ss_w = 0.0
    for g in groups:
        members = [i for i in range(n) if labels[i] == g]
        s = sum(d[i, j] ** 2 for ai, i in enumerate(members) for j in members[ai + 1 :])
        ss_w += s / len(members)
    a = len(groups)
    return ((ss_t - ss_w) / (a - 1)) / (ss_w / (n - a))


def _loop_permanova(d, labels, perms):
    f = _loop_pseudo_f(d, labels)
    count = 0
    for perm in perms:
        fp = _loop_pseudo_f(d, [labels[k] for k in perm])
        count += fp >= f - 1e-9 * abs(f)
    return f, (1 + count) / (1 + len(perms))


def _euclid(x):
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


@pytest.mark.parametrize("n_groups", [2, 3])
def test_permanova_equals_loop_implementation(rng, n_groups):
    n = 14
    labels = [f"g{k % n_groups}" for k in range(n)]
    x = rng.normal(size=(n, 3))
    x[: n // 2, 0] += 0.8
    d = _euclid(x)
    perms = stats.permutation_indices(n, 199, seed=3)
    f_ref, p_ref = _loop_permanova(d, labels, perms)
    f, p = stats.permanova(d, labels, permutations=perms)
    assert f == pytest.approx(f_ref, rel=1e-10)
    assert p == p_ref
    # the seed path draws the same permutations
    assert stats.permanova(d, labels, n_permutations=199, seed=3) == (f, p)
    # chunking does not change the answer
    assert stats.permanova(d, labels, permutations=perms, chunk_size=7) == (f, p)


def test_permanova_small_n_exact_ties_counted():
    # n = 6, 3 vs 3: only 20 partitions, so many permutations reproduce the observed one.
    d = _euclid(np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.3]]))
    labels = np.array(["a", "a", "a", "b", "b", "b"])
    perms = stats.permutation_indices(6, 999, seed=0)
    f, p = stats.permanova(d, labels, permutations=perms)
    assert (f, p) == pytest.approx(_loop_permanova(d, list(labels), perms))
    # The observed split is the most extreme: p = (1 + #perms giving it) / 1000, ~ 2/20.
    same = sum(set(perm[:3]) in ({0, 1, 2}, {3, 4, 5}) for perm in perms.tolist())
    assert p == (1 + same) / 1000
    assert 0.05 < p < 0.16


def test_permanova_strong_separation_gives_min_p(rng):
    x = rng.normal(size=(40, 2))
    x[:20] += 10
    f, p = stats.permanova(_euclid(x), np.repeat([0, 1], 20), n_permutations=99, seed=1)
    assert f > 100 and p == 1 / 100


def test_permanova_null_p_roughly_uniform():
    alpha, hits, n_sets = 0.05, 0, 200
    ps = []
    for seed in range(n_sets):
        rng = np.random.default_rng(1000 + seed)
        x = rng.normal(size=(24, 3))
        labels = rng.permutation(np.repeat(["HC", "MCI"], 12))
        _, p = stats.permanova(_euclid(x), labels, n_permutations=199, seed=seed)
        ps.append(p)
        hits += p < alpha
    lo, hi = sps.binom.interval(0.99, n_sets, alpha)
    assert lo <= hits <= hi
    lo, hi = sps.binom.interval(0.99, n_sets, 0.5)
    assert lo <= np.count_nonzero(np.array(ps) < 0.5) <= hi


def test_permanova_bad_input(rng):
    d = _euclid(rng.normal(size=(6, 2)))
    lab = [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="symmetric"):
        stats.permanova(d + np.triu(np.ones((6, 6)), 1), lab)
    with pytest.raises(ValueError, match="diagonal"):
        stats.permanova(d + np.eye(6), lab)
    with pytest.raises(ValueError, match="at least 2 groups"):
        stats.permanova(d, [0] * 6)
    with pytest.raises(ValueError, match="one entry per subject"):
        stats.permanova(d, lab[:5])
    with pytest.raises(ValueError, match="permutations of"):
        stats.permanova(d, lab, permutations=np.zeros((3, 6), dtype=int))
    f, p = stats.permanova(np.zeros((6, 6)), lab)
    assert np.isnan(f) and np.isnan(p)


def test_ps_group_tests_table(rng):
    n = 20
    labels = np.repeat(["HC", "LMCI"], 10)
    ps = {}
    for roi in (5, 108, 115):
        mats = []
        for q in range(3):
            x = rng.normal(size=(n, 3))
            if roi == 108 and q == 0:
                x[10:, 0] += 4.0
            mats.append(_euclid(x))
        ps[roi] = np.stack(mats)
    ps[115][2] = 0.0  # e.g. no H2 features in any subject: untestable
    table = stats.ps_group_tests(ps, labels, n_permutations=99, seed=4)
    assert list(table.columns) == ["roi", "dim", "n_subjects", "pseudo_F", "p", "p_bh"]
    assert len(table) == 9 and table["dim"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    perms = stats.permutation_indices(n, 99, 4)
    for row in table.itertuples():
        if row.roi == 115 and row.dim == 2:
            assert np.isnan(row.p) and np.isnan(row.p_bh)
            continue
        assert (row.pseudo_F, row.p) == stats.permanova(ps[row.roi][row.dim], labels,
                                                        permutations=perms)  # fmt: skip
    for q in range(3):
        sub = table[table["dim"] == q]
        np.testing.assert_allclose(sub["p_bh"], stats.adjust_pvalues(sub["p"].to_numpy(), "bh"))
    top = table[(table["roi"] == 108) & (table["dim"] == 0)].iloc[0]
    assert top["p"] == 0.01
    with pytest.raises(ValueError, match="ROI 7"):
        stats.ps_group_tests({**ps, 7: ps[5][:, :10, :10]}, labels, n_permutations=9)


@pytest.mark.parametrize(("perms", "m", "q", "expected"), [
    (3200, 160, 0.05, None),  # m / (P + 1) = 0.049992 < 0.05: a lone ROI can be marked
    (3199, 160, 0.05, "at least 2 of them reach p < 0.000625"),  # exactly 0.05: not below
    (999, 160, 0.05, "at least 4 of them reach p < 0.00125"),
    (99, 160, 0.05, "at least 33 of them reach p < 0.0103"),  # 32 at 0.01 give p_bh = 0.05
    (9, 160, 0.05, "can mark no ROI at all"),
    (99, 5, 0.05, "at least 2 of them reach p < 0.02"),
])
def test_fdr_floor_states_what_the_permutations_allow(perms, m, q, expected):
    """The warning agrees with BH itself (and the brain map's p_bh < q): with k tests at the
    floor p and the others at 1, BH marks them exactly when k reaches the stated minimum."""
    from tda_mci.stats.permanova import fdr_floor

    text = fdr_floor(perms, m, q)
    floor = 1 / (perms + 1)
    assert text is None if expected is None else expected in text
    if text is not None:
        assert f"smallest attainable PERMANOVA p is {floor:.3g}" in text
    marked = [k for k in range(1, m + 1)
              if (stats.adjust_pvalues(np.r_[np.full(k, floor), np.ones(m - k)])[:k] < q).all()]
    if text is None:
        assert marked[0] == 1
    elif "no ROI" in text:
        assert not marked
    else:
        assert f"at least {marked[0]} of them" in text
