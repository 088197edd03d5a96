"""Tests of tda_mci.figures: files written, panels, labels, shared colour scales, QC figures."""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from tda_mci import figures, stats
from tda_mci.atlas import load_atlas, network_key, networks
from tda_mci.inputs.qc import EXCLUDED_COLUMNS, cohort_qc_table

#: The raw level and the FDR level of the figures of the rank-sum tests.
LEVELS = {"alpha": 0.01, "fdr_level": 0.05}


@pytest.fixture
def rng():
    return np.random.default_rng(31)


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def results(atlas):
    """compare_groups results for all networks x 3 dims; ROI 108 (DMN) planted."""
    rng = np.random.default_rng(5)
    nets = networks(atlas)
    k108 = int(np.flatnonzero(atlas["roi"].to_numpy()[nets["DMN"]] == 108)[0])
    out = {}
    for key, idx in nets.items():
        n = len(idx)
        for q in range(3):
            a, b = rng.gamma(2, 1, (25, n, n)), rng.gamma(2, 1, (25, n, n))
            if key == "DMN":
                a[:, k108, :] += 2.0
                a[:, :, k108] += 2.0
            out[key, q] = stats.compare_groups(a, b)
    return out


@pytest.fixture(scope="module")
def sig(results, atlas):
    return stats.significant_pairs_table(results, atlas, networks(atlas), 0.01, "HC vs LMCI",
                                        fdr_level=0.05)


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    img = imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 300
    # not blank: many distinct colours
    assert len(np.unique(img.reshape(-1, img.shape[-1])[::97], axis=0)) > 20
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_plot_pplot(tmp_path, results, atlas):
    idx = networks(atlas)["DMN"]
    labels = atlas["label"].to_numpy()[idx].tolist()
    path = tmp_path / "pplot.png"
    fig = figures.plot_pplot({q: results["DMN", q] for q in range(3)}, labels, 0.01,
                              "HC vs LMCI: DMN", path, fdr_level=0.05)  # fmt: skip
    _check_png(path)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6 and len(fig.axes) == 7  # 2 x 3 panels + colour bar
    top = [ax for ax in panels if "log" in ax.get_title()]
    masks = [ax for ax in panels if "p < 0.01" in ax.get_title()]
    assert len(top) == 3 and len(masks) == 3
    assert {ax.images[0].get_clim() for ax in top} == {top[0].images[0].get_clim()}
    assert top[0].images[0].get_clim()[0] == 0.0
    assert [t.get_text() for t in panels[0].get_xticklabels()] == labels
    assert [t.get_text() for t in panels[0].get_yticklabels()] == labels
    assert [ax.get_title().split(":")[0] for ax in top] == ["H0", "H1", "H2"]
    assert fig.get_suptitle() == "HC vs LMCI: DMN"
    # the mask shows exactly the pairs with p < alpha
    p = results["DMN", 0]["p"]
    n_sig = int(np.count_nonzero(np.triu(p < 0.01, 1)))
    assert f"({n_sig} of 561 pairs)" in masks[0].get_title()
    np.testing.assert_array_equal(np.nan_to_num(masks[0].images[0].get_array().filled(0)),
                                  np.where(np.isnan(p), 0, p < 0.01))  # fmt: skip
    # sequence input (index = dim) gives the same panels
    fig2 = figures.plot_pplot([results["DMN", q] for q in range(3)], labels, 0.01, "t",
                               tmp_path / "b.png", fdr_level=0.05)  # fmt: skip
    assert len(fig2.axes) == 7
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "raw p < 0.01" and legend[-1].startswith("ring: survives FDR (BH q < 0.05)")


def test_plot_pplot_rejects_bad_input(tmp_path, results):
    with pytest.raises(ValueError, match="labels"):
        figures.plot_pplot({0: results["DMN", 0]}, ["a", "b"], 0.01, "t", tmp_path / "x.png",
                           fdr_level=0.05)  # fmt: skip
    with pytest.raises(ValueError, match=r"\.png"):
        labels = [str(k) for k in range(34)]
        figures.plot_pplot({0: results["DMN", 0]}, labels, 0.01, "t", tmp_path / "x.jpg",
                           fdr_level=0.05)  # fmt: skip
    # the FDR level is required (the workflow passes statistics.fdr_level) and checked
    with pytest.raises(TypeError, match="fdr_level"):
        figures.plot_pplot({0: results["DMN", 0]}, labels, 0.01, "t", tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"fdr_level must be a number in \(0, 1\)"):
        figures.plot_pplot({0: results["DMN", 0]}, labels, 0.01, "t", tmp_path / "x.png",
                           fdr_level=5)  # fmt: skip
    assert not (tmp_path / "x.png").exists()


def test_plot_pplot_overview(tmp_path, results, atlas):
    nets = networks(atlas)
    path = tmp_path / "overview.png"
    fig = figures.plot_pplot_overview(results, atlas, nets, 0.01, "HC vs LMCI", path,
                                      fdr_level=0.05)  # fmt: skip
    _check_png(path)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 18 and len(fig.axes) == 19
    clims = {ax.images[0].get_clim() for ax in panels}
    assert len(clims) == 1  # one colour scale for the whole figure
    titles = [ax.get_title() for ax in panels]
    for key in ("CB", "CO", "DMN", "FP", "OP", "SM"):
        assert sum(t.startswith(f"{key} (") for t in titles) == 3
    dmn_h0 = next(ax for ax in panels if ax.get_title().startswith("DMN (34 ROIs), H0"))
    rois = atlas["roi"].to_numpy()[nets["DMN"]]
    assert [t.get_text() for t in dmn_h0.get_xticklabels()] == [str(r) for r in rois]
    # one dot per significant cell (both triangles)
    n_dots = len(dmn_h0.collections[0].get_offsets())
    assert n_dots == int(np.count_nonzero(results["DMN", 0]["p"] < 0.01))
    assert "HC vs LMCI" in fig.get_suptitle()


def test_plot_hubs(tmp_path, sig, atlas):
    hubs = stats.hub_table(sig, atlas)
    path = tmp_path / "hubs.png"
    fig = figures.plot_hubs(hubs, path, top=10, title="HC vs LMCI hubs", **LEVELS)
    _check_png(path)
    (ax,) = fig.axes
    assert len(ax.patches) == 10 * 3  # stacked by H0, H1, H2
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()],
                       strict=True), reverse=True)  # fmt: skip
    names = [name for _, name in ticks]  # top to bottom
    expected = [f"{lab} ({network_key(net)})" for lab, net in
                zip(hubs["label"][:10], hubs["network"][:10], strict=True)]  # fmt: skip
    assert names == expected
    assert names[0] == "post cingulate 108 (DMN)"  # rank 1 on top
    # bar lengths: stacked segments add up to n_pairs
    widths = np.array([p.get_width() for p in ax.patches]).reshape(3, 10)
    np.testing.assert_array_equal(widths.sum(0), hubs["n_pairs"][:10])
    assert "significant ROI pairs" in ax.get_xlabel()
    empty = stats.hub_table(sig.iloc[:0], atlas)
    fig = figures.plot_hubs(empty, tmp_path / "empty.png", **LEVELS)
    assert "no significant pairs" in [t.get_text() for t in fig.axes[0].texts]
    legend = [t.get_text() for t in figures.plot_hubs(
        hubs, tmp_path / "h.png", **LEVELS).axes[0].get_legend().get_texts()]
    assert legend[-2:] == ["light: raw p < 0.01", "dark: survives FDR (BH q < 0.05)"]
    with pytest.raises(ValueError, match="n_pairs_fdr"):
        figures.plot_hubs(hubs.drop(columns="n_pairs_fdr_H1"), tmp_path / "x.png", **LEVELS)


def test_plot_connectome_glass(tmp_path, sig, atlas):
    path = tmp_path / "glass.png"
    fig = figures.plot_connectome_glass(sig, atlas, path, title="HC vs LMCI", **LEVELS)
    _check_png(path)
    n_pairs = len(sig[["roi_i", "roi_j"]].drop_duplicates())
    assert f"{n_pairs} pairs" in fig.get_suptitle()
    assert len(fig.axes) >= 5  # four glass-brain views + colour bar
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "default" in legend
    assert legend[-2:] == ["survives FDR (BH q < 0.05)", "raw p < 0.01 only"]
    fig = figures.plot_connectome_glass(sig, atlas, tmp_path / "effect.png", weight="effect",
                                        **LEVELS)  # fmt: skip
    assert "effect" in fig.get_suptitle()
    fig = figures.plot_connectome_glass(sig.iloc[:0], atlas, tmp_path / "none.png", **LEVELS)
    assert "0 pairs" in fig.get_suptitle()
    with pytest.raises(ValueError, match="'size'"):
        figures.plot_connectome_glass(sig, atlas, tmp_path / "x.png", weight="size", **LEVELS)


def test_write_connectome_html_is_offline(tmp_path, sig, atlas):
    path = tmp_path / "conn.html"
    html = figures.write_connectome_html(sig, atlas, path, title="HC vs LMCI", **LEVELS)
    text = path.read_text(encoding="utf-8")
    assert text == html and len(text) > 100_000
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "post cingulate 108" in text and "HC vs LMCI" in text
    # nothing is fetched: no external scripts, stylesheets, icons or images
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=[\"']?(https?:)?//", text, re.I)
    assert not re.search(r"<link[^>]*href=[\"']?(https?:)?//", text, re.I)
    assert "plotly" in text.lower()  # the library is inlined
    figures.write_connectome_html(sig.iloc[:0], atlas, tmp_path / "none.html", **LEVELS)
    assert (tmp_path / "none.html").stat().st_size > 100_000


def test_plot_ps_matrix(tmp_path, rng):
    n = 18
    labels = np.array(["LMCI", "HC", "HC", "LMCI", "HC", "HC"] * 3)
    x = rng.normal(size=(n, 2))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    path = tmp_path / "ps.png"
    fig = figures.plot_ps_matrix(d, labels, "post cingulate 108 (DMN), H0", path,
                                  group_order=["HC", "LMCI"])  # fmt: skip
    _check_png(path)
    ax = next(ax for ax in fig.axes if ax.images)
    order = np.argsort([0 if g == "HC" else 1 for g in labels], kind="stable")
    np.testing.assert_array_equal(ax.images[0].get_array(), d[np.ix_(order, order)])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["HC\n(n=12)", "LMCI\n(n=6)"]
    assert len(ax.lines) == 2 and ax.lines[0].get_ydata()[0] == 11.5  # one boundary each way
    assert fig.get_suptitle() == "post cingulate 108 (DMN), H0"
    fig = figures.plot_ps_matrix(np.stack([d, d / 10, d / 100]), labels, "t",
                                  tmp_path / "ps3.png")  # fmt: skip
    assert len([ax for ax in fig.axes if ax.images]) == 3
    with pytest.raises(ValueError, match="group_labels"):
        figures.plot_ps_matrix(d, labels[:5], "t", tmp_path / "x.png")


def test_plot_ps_brain_map(tmp_path, atlas, rng):
    rows = [(int(r), q, p) for q in range(3) for r, p in
            zip(atlas["roi"], rng.uniform(0.001, 1, len(atlas)), strict=True)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["roi", "dim", "p"])
    table["p_bh"] = 0.5
    table.loc[table["roi"] == 108, "p_bh"] = 0.001
    table.loc[(table["roi"] == 5) & (table["dim"] == 2), "p"] = np.nan
    path = tmp_path / "map.png"
    fig = figures.plot_ps_brain_map(table, atlas, path, title="HC vs LMCI", alpha=0.05)
    _check_png(path)
    titles = [t.get_text() for ax in fig.axes for t in ax.texts]
    for q in range(3):
        assert f"H{q}: 1 ROIs with p_BH < 0.05" in titles
    with pytest.raises(ValueError, match="999"):
        figures.plot_ps_brain_map(table.assign(roi=999), atlas, tmp_path / "x.png", alpha=0.05)
    # the FDR level is required (the workflow passes statistics.ps_fdr_level) and checked
    with pytest.raises(TypeError, match="alpha"):
        figures.plot_ps_brain_map(table, atlas, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 1\)"):
        figures.plot_ps_brain_map(table, atlas, tmp_path / "x.png", alpha=1.5)
    assert not (tmp_path / "x.png").exists()


def test_plot_learning_curves(tmp_path):
    from tda_mci.model.evaluate import cross_validate

    rng = np.random.default_rng(2)
    X = rng.random((16, 6, 6))
    y = np.tile([0, 1], 8)
    curves = {}
    for name, val in (("H0", 0.0), ("H1", 0.25)):
        res = cross_validate(X, y, model="cnn", n_splits=2, n_repeats=2, epochs=4,
                             device="cpu", threads=1, inner_val_fraction=val)
        curves[name] = res["learning_curves"]
    path = tmp_path / "curves.png"
    fig = figures.plot_learning_curves(curves, path, title="HC vs LMCI, DMN")
    _check_png(path)
    axes = fig.get_axes()
    assert len(axes) == 4 and [a.get_title() for a in axes[:2]] == ["H0", "H1"]
    # H0: train + test lines; H1 also the inner validation split
    assert len(axes[0].get_lines()) == 2 and len(axes[1].get_lines()) == 3
    # the plotted train curve is the fold mean per epoch
    expected = curves["H0"].groupby("epoch")["train_loss"].mean().to_numpy()
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), expected)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "test fold (monitor only)" in labels
    with pytest.raises(ValueError, match="no learning curves"):
        figures.plot_learning_curves({}, tmp_path / "x.png")


def test_plot_permutation_null(tmp_path, rng):
    null = rng.uniform(0.3, 0.7, 99)
    path = tmp_path / "null.png"
    fig = figures.plot_permutation_null(null, 0.93, 0.01, path, title="HC vs LMCI")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.get_axes()[0]
    assert sum(p.get_height() for p in ax.patches) == 99
    assert ax.get_legend().get_title().get_text() == "p = 0.01"
    for bad in ([], [0.5, np.nan]):
        with pytest.raises(ValueError, match="non-empty"):
            figures.plot_permutation_null(bad, 0.9, 0.01, tmp_path / "bad.png")


def test_plot_group_diagrams(tmp_path, rng):
    from tda_mci.topology.homology import persistence_diagrams

    def subject(scale):
        t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
        cloud = np.c_[np.cos(t), np.sin(t), np.zeros_like(t)] * scale
        return persistence_diagrams(cloud + 0.05 * rng.standard_normal(cloud.shape), 2)

    dgms = {"HC": [subject(1.0) for _ in range(3)], "LMCI": [subject(0.5) for _ in range(2)]}
    path = tmp_path / "dgm.png"
    fig = figures.plot_group_diagrams(dgms, path, title="HC vs LMCI: ROI 93")
    _check_png(path)
    axes = fig.get_axes()
    assert [a.get_title() for a in axes] == ["H0", "H1", "H2"]
    # legends state subjects, bars and total persistence per subject of each group
    h1 = [t.get_text() for t in axes[1].get_legend().get_texts()]
    bars = np.mean([len(d[1]) for d in dgms["HC"]])
    pers = np.mean([(d[1][:, 1] - d[1][:, 0]).sum() for d in dgms["HC"]])
    assert h1[0] == f"HC (n=3), per subject: {bars:.1f} bars, total persistence {pers:.2f}"
    assert h1[1].startswith("LMCI (n=2)")
    # H1 scatter: every bar of every subject is a point
    offsets = axes[1].collections[0].get_offsets()
    assert len(offsets) == sum(len(d[1]) for d in dgms["HC"])
    with pytest.raises(ValueError, match="two or more groups"):
        figures.plot_group_diagrams({"HC": dgms["HC"]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="numbers of dimensions"):
        figures.plot_group_diagrams({"HC": dgms["HC"], "LMCI": [dgms["HC"][0][:2]]},
                                     tmp_path / "x.png")


def _png_size(path):
    head = open(path, "rb").read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_plot_cohort_qc(tmp_path):
    participants = pd.DataFrame({"participant_id": ["sub-a1", "sub-b2", "sub-c3", "sub-d4"],
                                 "subject": ["a1", "b2", "c3", "d4"],
                                 "group": ["HC", "MCI", "HC", "MCI"]})  # fmt: skip
    exc = pd.DataFrame([{"participant_id": "sub-c3", "subject": "c3", "group": "HC",
                         "file": "/x/c3.nii", "reason": "not 4D"}], columns=EXCLUDED_COLUMNS)
    sidecars = {s: {"NumberOfVolumes": 30 + i, "VoxelsPerSphere": [5, 7, 9],
                    "TemporalSNR": [50.0, 60.0, 70.0], "ROIs": [1, 2, 3]}
                for i, s in enumerate(["a1", "b2", "d4"])}  # fmt: skip
    table = cohort_qc_table(participants, sidecars, exc)
    figures.plot_cohort_qc(table, tmp_path / "qc.png")
    assert _png_size(tmp_path / "qc.png")[0] > 500


def test_carpet_plot(tmp_path, rng):
    atlas = load_atlas()
    x = rng.standard_normal((40, 160))
    figures.carpet_plot(x, atlas, tmp_path / "a.png", title="sub-01", t_r=3.0)
    figures.carpet_plot(x, atlas, tmp_path / "b.png", title="sub-01", t_r=3.0)
    width, height = _png_size(tmp_path / "a.png")
    assert width > 600 and height > 400
    assert (width, height) == (960, 660)  # 8 x 5.5 inches at the QC figures' 120 dpi
    # deterministic bytes: reruns of the workflow reproduce the figure exactly
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with pytest.raises(ValueError, match=r"\(40, 159\); expected \(T, 160\)"):
        figures.carpet_plot(x[:, 1:], atlas, tmp_path / "c.png")
    x[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        figures.carpet_plot(x, atlas, tmp_path / "c.png")
    with pytest.raises(ValueError, match="must end in"):
        figures.carpet_plot(np.nan_to_num(x), atlas, tmp_path / "c.jpg")
    assert not (tmp_path / "c.png").exists()


# --------------------------------------------------------------------------------------
# FDR survival in the figures of the rank-sum tests: null data and a planted effect
# --------------------------------------------------------------------------------------


def _dmn_results(seed, planted=()):
    """compare_groups results of the DMN (34 ROIs) in 3 dimensions, 20 + 20 subjects.

    Distances are i.i.d. across subjects (gamma(2, 1), SD 1.4; symmetric, zero diagonal);
    in group b every distance of the ``planted`` matrix indices is shifted by 6 (over 4 SD).
    """
    gen = np.random.default_rng(seed)
    out = {}
    for q in range(3):
        x = np.triu(gen.gamma(2.0, 1.0, (40, 34, 34)), 1)
        x = x + x.transpose(0, 2, 1)
        for k in planted:
            x[20:, k, :] += 6.0
            x[20:, :, k] += 6.0
        out["DMN", q] = stats.compare_groups(x[:20], x[20:])
    return out


def _draw_all(results, atlas, folder):
    """Build the tables and every rank-sum figure as the stage does; return them by name."""
    nets = networks(atlas)
    labels = atlas["label"].to_numpy()[nets["DMN"]].tolist()
    sig = stats.significant_pairs_table(results, atlas, nets, 0.01, "HC vs MCI", fdr_level=0.05)
    hubs = stats.hub_table(sig, atlas)
    by_dim = {q: results["DMN", q] for q in range(3)}
    out = {"sig": sig, "hubs": hubs, "pplot": figures.plot_pplot(
        by_dim, labels, 0.01, "HC vs MCI: DMN", folder / "pplot.png", fdr_level=0.05)}
    out["overview"] = figures.plot_pplot_overview(results, atlas, nets, 0.01, "HC vs MCI",
                                                  folder / "overview.png", fdr_level=0.05)
    out["hubs_fig"] = figures.plot_hubs(hubs, folder / "hubs.png", title="Hubs", **LEVELS)
    out["glass"] = figures.plot_connectome_glass(sig, atlas, folder / "glass.png", **LEVELS)
    out["html"] = figures.write_connectome_html(sig, atlas, folder / "conn.html", **LEVELS)
    for name in ("pplot", "overview", "hubs", "glass"):
        _check_png(folder / f"{name}.png")
    return out  # fmt: skip


def _texts(fig):
    """Every title, legend entry and free text of a figure, one per line."""
    texts = [fig.get_suptitle(), *(t.get_text() for t in fig.texts)]
    legends = list(fig.legends)
    for ax in fig.axes:
        texts += [ax.get_title(), *(t.get_text() for t in ax.texts)]
        legends += [ax.get_legend()] if ax.get_legend() else []
    texts += [t.get_text() for legend in legends for t in legend.get_texts()]
    return "\n".join(texts)


def _rings(fig):
    """The FDR ring collections of a figure's matrix panels, panel by panel."""
    return [c for ax in fig.axes if ax.images for c in ax.collections if c.get_gid() == "fdr"]


def _glass_lines(fig):
    """Numbers of solid (FDR) and dashed (raw only) edge segments of a glass brain."""
    styles = [line.get_linestyle() for ax in fig.axes for line in ax.get_lines()]
    return styles.count("-"), styles.count("--")


def test_null_data_show_raw_pairs_but_no_fdr_survivor(tmp_path, atlas):
    """No group difference: a few raw p < 0.01 pairs (and a 'hub'), none survives FDR.

    Seeded: with seed 0 no family has a false discovery (under the global null BH makes
    one in a family with probability about q = 0.05).
    """
    out = _draw_all(_dmn_results(0), atlas, tmp_path)
    sig, hubs = out["sig"], out["hubs"]
    assert len(sig) >= 5 and (sig["p"] < 0.01).all() and hubs["n_pairs"].iloc[0] >= 2
    assert not sig["fdr"].any() and (hubs.filter(like="n_pairs_fdr") == 0).all().all()
    none = "0 pairs survive FDR (BH q < 0.05)"
    for name in ("pplot", "overview", "hubs_fig", "glass"):
        assert none in _texts(out[name]), name
    assert _texts(out["pplot"]).count(none) == 4  # three mask titles and the legend
    title = out["overview"].get_suptitle()
    assert f"dots: raw p < 0.01 ({len(sig)} pairs)" in title and f"rings: {none}" in title
    assert f"raw p < 0.01: {len(sig)} pairs; {none}" in out["hubs_fig"].axes[0].get_title()
    assert none in out["html"]
    assert all(len(c.get_offsets()) == 0 for c in _rings(out["pplot"]) + _rings(out["overview"]))
    dark = [c for c in out["hubs_fig"].axes[0].collections if c.get_gid() == "fdr"]
    assert len(dark) == 3 and not any(c.get_paths() for c in dark)
    solid, dashed = _glass_lines(out["glass"])
    assert solid == 0 and dashed > 0


def test_planted_pairs_survive_fdr_and_are_marked(tmp_path, atlas):
    """Two ROIs differ strongly: all their pairs survive FDR and every figure marks them."""
    planted = (3, 20)
    results = _dmn_results(0, planted)
    out = _draw_all(results, atlas, tmp_path)
    sig, hubs = out["sig"], out["hubs"]
    rois = atlas["roi"].to_numpy()[networks(atlas)["DMN"]][list(planted)]
    touched = sig["roi_i"].isin(rois) | sig["roi_j"].isin(rois)
    assert touched.sum() == (33 + 32) * 3 and sig.loc[touched, "fdr"].all()
    assert set(hubs["roi"].iloc[:2]) == set(rois) and (hubs["n_pairs_fdr"].iloc[:2] == 99).all()
    n_fdr = int(sig["fdr"].sum())
    # P-plot: in both rows (axes row by row), a ring per cell with p_bh < q (both triangles)
    rings = _rings(out["pplot"])
    assert len(rings) == 6
    for q in range(3):
        p_bh = results["DMN", q]["p_bh"]
        cells = {(int(i), int(j)) for i, j in zip(*np.nonzero(p_bh < 0.05), strict=True)}
        for ring in (rings[q], rings[3 + q]):  # -log10 p row, mask row
            assert {(int(y), int(x)) for x, y in ring.get_offsets()} == cells
        assert all((k, 0) in cells for k in planted)
        n_q = len(cells) // 2
        assert f"rings: {n_q} pairs survive FDR (BH q < 0.05)" in _texts(out["pplot"])
    assert f"all dimensions: {n_fdr} pairs survive FDR" in _texts(out["pplot"])
    assert f"rings: {n_fdr} pairs survive FDR" in out["overview"].get_suptitle()
    # hub chart: the dark bars of the top ROI have its FDR counts per dimension
    assert f"{n_fdr} pairs survive FDR" in out["hubs_fig"].axes[0].get_title()
    dark = [c for c in out["hubs_fig"].axes[0].collections if c.get_gid() == "fdr"]
    top = [p.get_extents().width for c in dark for p in c.get_paths()[:1]]
    assert top == [hubs.loc[0, f"n_pairs_fdr_H{q}"] for q in range(3)] == [33, 33, 33]
    # glass brain and HTML: FDR edges drawn solid, counted as ROI pairs (any dimension)
    n_edges = int(sig.groupby(["roi_i", "roi_j"])["fdr"].any().sum())
    assert f"{n_edges} pairs survive FDR" in out["glass"].get_suptitle()
    assert _glass_lines(out["glass"])[0] > 0
    assert f"{n_edges} pairs survive FDR" in out["html"]
    assert "(DMN, 99 pairs, 99 FDR)" in out["html"]
