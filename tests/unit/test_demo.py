import hashlib
import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers import NiftiSpheresMasker

from tda_mci.atlas import load_atlas, networks
from tda_mci.inputs.demo import DEFAULT_EFFECT, generate_demo_cohort, simulate_roi_signals


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def _lag1(x):
    x = x - x.mean(axis=0)
    return (x[1:] * x[:-1]).sum(axis=0) / (x * x).sum(axis=0)


def _files(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- ROI-level signals


def test_simulate_shape_and_standardisation(atlas):
    x = simulate_roi_signals(atlas, "LMCI", 140, 3.0, np.random.default_rng(0))
    assert x.shape == (140, len(atlas)) and x.dtype == np.float64
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0), 1.0, rtol=1e-12)


def test_simulate_deterministic_in_rng(atlas):
    a = simulate_roi_signals(atlas, "MCI", 60, 3.0, np.random.default_rng(5))
    b = simulate_roi_signals(atlas, "MCI", 60, 3.0, np.random.default_rng(5))
    c = simulate_roi_signals(atlas, "MCI", 60, 3.0, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_group_changes_only_planted_rois(atlas):
    # Same random stream: the healthy part is identical, only planted columns differ.
    hc = simulate_roi_signals(atlas, "HC", 100, 3.0, np.random.default_rng(3))
    lm = simulate_roi_signals(atlas, "LMCI", 100, 3.0, np.random.default_rng(3))
    planted = atlas["roi"].isin(DEFAULT_EFFECT["rois"]).to_numpy()
    np.testing.assert_array_equal(hc[:, ~planted], lm[:, ~planted])
    assert np.abs(hc[:, planted] - lm[:, planted]).max() > 0.5


def test_network_signal_is_shared(atlas):
    x = simulate_roi_signals(atlas, "HC", 300, 3.0, np.random.default_rng(1))
    net = networks(atlas)
    corr = np.corrcoef(x.T)
    within = np.mean([corr[np.ix_(i, i)][np.triu_indices(len(i), 1)].mean() for i in net.values()])
    dmn, sm = net["DMN"], net["SM"]
    between = corr[np.ix_(dmn, sm)].mean()
    assert within > between + 0.2


def test_planted_effect_is_graded(atlas):
    """Lag-1 autocorrelation of planted ROIs rises HC < EMCI < MCI < LMCI; others do not."""
    planted = atlas["roi"].isin(DEFAULT_EFFECT["rois"]).to_numpy()
    ac = {}
    for g in ("HC", "EMCI", "MCI", "LMCI"):
        vals = [
            _lag1(simulate_roi_signals(atlas, g, 140, 3.0, np.random.default_rng([11, k])))
            for k in range(20)
        ]
        vals = np.array(vals)
        ac[g] = (vals[:, planted].mean(), vals[:, ~planted].mean())
    p = [ac[g][0] for g in ("HC", "EMCI", "MCI", "LMCI")]
    assert p[0] + 0.1 < p[1] and p[1] + 0.02 < p[2] and p[2] + 0.02 < p[3]
    # Healthy planted ROIs look like all others; non-planted ROIs do not change by group.
    assert abs(ac["HC"][0] - ac["HC"][1]) < 0.05
    others = [ac[g][1] for g in ac]
    assert max(others) - min(others) < 0.02


def test_planted_oscillation_has_spectral_peak(atlas):
    planted = atlas["roi"].isin(DEFAULT_EFFECT["rois"]).to_numpy()
    tr, n = 3.0, 140
    freqs = np.fft.rfftfreq(n, d=tr)
    power = {}
    for g in ("HC", "LMCI"):
        spec = np.zeros(len(freqs))
        for k in range(20):
            x = simulate_roi_signals(atlas, g, n, tr, np.random.default_rng([2, k]))
            spec += (np.abs(np.fft.rfft(x[:, planted], axis=0)) ** 2).mean(axis=1)
        power[g] = spec
    f0 = DEFAULT_EFFECT["frequency_hz"]
    band = np.abs(freqs - f0) <= 0.006
    assert abs(freqs[np.argmax(power["LMCI"])] - f0) <= 0.006
    frac = {g: power[g][band].sum() / power[g].sum() for g in power}
    assert frac["LMCI"] > 1.5 * frac["HC"]


def test_bad_effect_rejected(atlas):
    rng = np.random.default_rng(0)
    bad_roi = {**DEFAULT_EFFECT, "rois": [15, 999]}
    with pytest.raises(ValueError, match="999"):
        simulate_roi_signals(atlas, "LMCI", 50, 3.0, rng, bad_roi)
    bad_w = {**DEFAULT_EFFECT, "weight": {"LMCI": 1.5}}
    with pytest.raises(ValueError, match="LMCI"):
        simulate_roi_signals(atlas, "LMCI", 50, 3.0, rng, bad_w)
    with pytest.raises(ValueError, match="n_volumes"):
        simulate_roi_signals(atlas, "LMCI", 2, 3.0, rng)


# ---------------------------------------------------------------- cohort on disk


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    truth = generate_demo_cohort(root, n_per_group={"HC": 1, "LMCI": 1}, n_volumes=24, seed=4)
    return root, truth


def test_cohort_layout(cohort, atlas):
    root, truth = cohort
    part = pd.read_csv(root / "participants.tsv", sep="\t")
    assert part["participant_id"].tolist() == ["sub-001", "sub-002"]
    assert sorted(part["group"]) == ["HC", "LMCI"]
    assert [s["group"] for s in truth["subjects"]] == part["group"].tolist()
    assert {"age", "sex"} <= set(part.columns)
    assert json.loads((root / "ground_truth.json").read_text()) == json.loads(json.dumps(truth))
    assert truth["effect"]["rois"] == DEFAULT_EFFECT["rois"]
    assert "post cingulate 108" in truth["effect"]["labels"]
    assert truth["effect"]["network_keys"] == ["DMN"]
    assert (root / "dataset_description.json").is_file()
    for s in truth["subjects"]:
        img = nib.load(root / s["bold"])
        mask = nib.load(root / s["mask"])
        assert img.shape[3] == 24 and img.shape[:3] == mask.shape
        np.testing.assert_allclose(img.header.get_zooms(), (4, 4, 4, 3.0))
        assert img.header.get_xyzt_units() == ("mm", "sec")
        np.testing.assert_allclose(img.affine, mask.affine)
        np.testing.assert_allclose(np.diag(img.affine)[:3], 4.0)
        data = np.asanyarray(img.dataobj)
        assert data.dtype == np.int16
        inside = np.asarray(mask.dataobj) > 0
        assert (data[~inside] == 0).all() and (data[inside] > 0).all()
        sidecar = json.loads((root / s["bold"].replace(".nii.gz", ".json")).read_text())
        assert sidecar["RepetitionTime"] == 3.0


def test_masker_recovers_roi_signal(cohort, atlas):
    """nilearn's 5 mm spheres (overlap allowed) recover each ROI's own planted signal."""
    root, truth = cohort
    i = [s["group"] for s in truth["subjects"]].index("LMCI")
    s = truth["subjects"][i]
    masker = NiftiSpheresMasker(
        seeds=atlas[["x", "y", "z"]].to_numpy().tolist(),
        radius=5.0,
        allow_overlap=True,
        standardize=None,
        detrend=False,
    )
    got = masker.fit_transform(str(root / s["bold"]))
    true = simulate_roi_signals(
        atlas, "LMCI", 24, 3.0, np.random.default_rng([truth["seed"], i + 1]), truth["effect"]
    )
    r = np.array([np.corrcoef(got[:, j], true[:, j])[0, 1] for j in range(len(atlas))])
    assert np.median(r) > 0.85 and r.min() > 0.5
    # The overlapping pair 108/115 still tracks its own ROI better than its neighbour's.
    i108, i115 = (int(np.flatnonzero(atlas["roi"] == k)[0]) for k in (108, 115))
    assert (
        np.corrcoef(got[:, i108], true[:, i108])[0, 1]
        > np.corrcoef(got[:, i108], true[:, i115])[0, 1]
    )


def test_cohort_byte_identical_on_rerun(cohort, tmp_path):
    root, _ = cohort
    generate_demo_cohort(tmp_path / "a", n_per_group={"HC": 1, "LMCI": 1}, n_volumes=24, seed=4)
    assert _files(tmp_path / "a") == _files(root)


def test_cohort_seed_changes_data(cohort, tmp_path):
    root, truth = cohort
    generate_demo_cohort(tmp_path / "b", n_per_group={"HC": 1, "LMCI": 1}, n_volumes=24, seed=5)
    bold = truth["subjects"][0]["bold"]
    a = np.asanyarray(nib.load(root / bold).dataobj)
    b = np.asanyarray(nib.load(tmp_path / "b" / bold).dataobj)
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_cohort_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="alphanumeric"):
        generate_demo_cohort(tmp_path, n_per_group={"H-C": 1})
    with pytest.raises(ValueError, match="no subjects"):
        generate_demo_cohort(tmp_path, n_per_group={"HC": 0})
    with pytest.raises(ValueError, match="tr"):
        generate_demo_cohort(tmp_path, n_per_group={"HC": 1}, tr=0)
