"""On the demo's signal model, the planted network separates HC from LMCI above chance,
and its planted pairs, and only they, survive FDR.

The demo cohort plants a narrow-band oscillation in five DMN ROIs of patients
(:data:`tda_mci.inputs.demo.DEFAULT_EFFECT`, weight 0.9 in LMCI). This test runs the real chain
on ROI-level signals of that model, at the demo's size (10 + 10 subjects, 140 volumes,
TR 3 s): sliding windows -> GUDHI diagrams -> exact Wasserstein PR matrices -> the hybrid
CNN in 5-fold cross-validation, with the demo config's 10 epochs. The NIfTI round trip is
replaced by its effect on an ROI signal: the mean of the ~7 voxels (6-12) of a 5 mm sphere
on the 4 mm grid, each with white noise of SD 1 (``noise_sd``), adds white noise of SD
about ``1 / sqrt(7)``. A null cohort (HC vs HC) must not separate.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from tda_mci.atlas import load_atlas, networks
from tda_mci.inputs.demo import simulate_roi_signals
from tda_mci.model.evaluate import cross_validate
from tda_mci.settings import schema_default
from tda_mci.topology.distances import roi_distance_matrices
from tda_mci.topology.homology import subject_diagrams

N_PER_GROUP, N_VOLUMES, TR, EPOCHS = schema_default("demo.n_per_group")["HC"], 140, 3.0, 10


@functools.cache
def dmn_h0_pr(groups, seed):
    atlas = load_atlas()
    dmn = networks(atlas)["DMN"]
    mats = []
    for i, group in enumerate(groups):
        rng = np.random.default_rng([seed, i])
        x = simulate_roi_signals(atlas, group, N_VOLUMES, TR, rng)[:, dmn]
        x = x + rng.standard_normal(x.shape) / np.sqrt(7)  # sphere-averaged voxel noise
        x = (x - x.mean(0)) / x.std(0, ddof=1)  # nilearn's zscore_sample
        diagrams = subject_diagrams(x, dimension=3, delay=1, max_dim=0)
        mats.append(roi_distance_matrices(diagrams, {"DMN": range(len(dmn))})["DMN"][0])
    return np.stack(mats)


@pytest.mark.parametrize(("other", "above"), [("LMCI", True), ("HC", False)])
def test_planted_network_is_above_chance_by_its_interval(other, above):
    groups = ("HC", other) * N_PER_GROUP
    y = np.tile([0, 1], N_PER_GROUP)
    X = dmn_h0_pr(groups, seed=7)
    res = cross_validate(X, y, model="cnn", n_splits=5, n_repeats=1, epochs=EPOCHS,
                         device="cpu", threads=1, seed=0)
    acc = res["summary"]["accuracy"]
    if above:
        assert acc["ci_low"] > 0.5 and acc["mean"] > 0.8, acc
    else:
        assert acc["ci_low"] <= 0.5 <= acc["ci_high"], acc


@pytest.mark.parametrize("other", ["LMCI", "HC"])
def test_planted_pairs_survive_fdr_and_null_pairs_do_not(other, tmp_path):
    """The statistics and the P-plot on the same generated cohort: against LMCI the pairs
    that survive FDR are pairs of planted ROIs; in a null cohort (HC vs HC) none survive,
    and the figure says so."""
    from tda_mci.figures import plot_pplot
    from tda_mci.inputs.demo import DEFAULT_EFFECT
    from tda_mci.stats import compare_groups, significant_pairs_table

    atlas = load_atlas()
    dmn = networks(atlas)["DMN"]
    X = dmn_h0_pr(("HC", other) * N_PER_GROUP, seed=7)
    y = np.tile([0, 1], N_PER_GROUP)
    res = compare_groups(X[y == 0], X[y == 1], alpha=0.01)
    table = significant_pairs_table({("DMN", 0): res}, atlas, {"DMN": dmn}, 0.01,
                                    f"HC vs {other}", fdr_level=0.05)
    survivors = table[table["fdr"]]
    planted = set(DEFAULT_EFFECT["rois"])
    labels = atlas["label"].to_numpy()[dmn].tolist()
    fig = plot_pplot([res], labels, 0.01, "DMN", tmp_path / "pplot.png", fdr_level=0.05)
    text = " ".join(t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")))
    if other == "LMCI":
        # BH at 0.05 allows about 5 % false discoveries among the survivors
        involved = [i in planted or j in planted
                    for i, j in zip(survivors["roi_i"], survivors["roi_j"], strict=True)]
        assert len(survivors) >= 20 and np.mean(involved) >= 0.9, survivors
        assert f"{len(survivors)} pairs survive FDR" in text
    else:
        assert survivors.empty and "0 pairs survive FDR" in text
