import gzip

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.signal import detrend as scipy_detrend

from tda_mci.atlas import load_atlas
from tda_mci.inputs.extract import extract_timeseries
from tda_mci.inputs.readers import validate_timeseries

VOX = 4.0
ORIGIN = np.array([-20.0, -24.0, -16.0])
SHAPE = (11, 12, 9)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def small_atlas():
    # Coordinates inside the small grid; 1 and 2 are 6 mm apart (overlapping 5 mm spheres),
    # 3 sits off the voxel lattice.
    return pd.DataFrame(
        {
            "roi": [1, 2, 3, 4],
            "label": ["a 1", "b 2", "c 3", "d 4"],
            "network": ["default", "default", "occipital", "occipital"],
            "x": [0.0, 6.0, -9.0, 10.0],
            "y": [0.0, 0.0, 11.0, -13.0],
            "z": [0.0, 0.0, 5.0, 7.0],
        }
    )


def _affine():
    aff = np.diag([VOX, VOX, VOX, 1.0])
    aff[:3, 3] = ORIGIN
    return aff


def _image(data, tr=3.0, affine=None):
    affine = _affine() if affine is None else affine
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine)
    img.header.set_xyzt_units("mm", "sec")
    if img.ndim == 4:
        img.header.set_zooms((*img.header.get_zooms()[:3], tr))
    return img


def _save(img, path):
    nib.save(img, str(path))
    return path


def _reference_means(data, affine, coords, radius, mask=None):
    """Sphere means by brute force: every voxel within radius, plus the nearest voxel."""
    ijk = np.indices(data.shape[:3]).reshape(3, -1).T
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    flat = data.reshape(-1, data.shape[3])
    keep = np.ones(len(ijk), bool) if mask is None else mask.ravel() != 0
    out = []
    for c in coords:
        d = np.sqrt(((xyz - c) ** 2).sum(axis=1))
        sel = (d <= radius) & keep
        near = np.argmin(d)
        if keep[near]:
            sel[near] = True
        out.append(flat[sel].astype(np.float64).mean(axis=0))
    return np.column_stack(out)


def _raw_kwargs():
    """Raw sphere means of the short test images (fewer volumes than the configured 20)."""
    return {"standardize": None, "detrend": False, "min_volumes": 3}


@pytest.fixture
def bold(tmp_path, rng):
    data = 1000.0 + 10.0 * rng.standard_normal((*SHAPE, 30))
    return _save(_image(data), tmp_path / "sub-01_bold.nii.gz"), data


# ---------------------------------------------------------------- correct extraction


def test_matches_bruteforce_sphere_means(bold, small_atlas):
    path, data = bold
    got, side = extract_timeseries(path, small_atlas, subject="01", **_raw_kwargs())
    coords = small_atlas[["x", "y", "z"]].to_numpy()
    ref = _reference_means(data.astype(np.float32), _affine(), coords, 5.0)
    assert got.shape == (30, 4) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert side["NumberOfVolumes"] == 30 and side["NumberOfVolumesInImage"] == 30
    assert side["RepetitionTime"] == 3.0 and side["HeaderRepetitionTime"] == 3.0
    assert side["ROIs"] == [1, 2, 3, 4] and side["Source"] == str(path)
    assert side["Subject"] == "01"
    assert side["Masker"]["allow_overlap"] is True and side["Masker"]["radius"] == 5.0


def test_voxels_per_sphere_and_mask(bold, small_atlas, tmp_path):
    path, data = bold
    mask = np.ones(SHAPE, np.uint8)
    mask[:, :, :5] = 0  # drops part of the spheres at z <= 0 mm
    mpath = _save(nib.Nifti1Image(mask, _affine()), tmp_path / "mask.nii.gz")
    coords = small_atlas[["x", "y", "z"]].to_numpy()
    got, side = extract_timeseries(path, small_atlas, mask_img=mpath, **_raw_kwargs())
    ref = _reference_means(data.astype(np.float32), _affine(), coords, 5.0, mask=mask)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    # independent voxel counts
    ijk = np.indices(SHAPE).reshape(3, -1).T
    xyz = ijk @ _affine()[:3, :3].T + _affine()[:3, 3]
    counts = []
    for c in coords:
        d = np.sqrt(((xyz - c) ** 2).sum(axis=1))
        sel = (d <= 5.0) & (mask.ravel() != 0)
        if mask.ravel()[np.argmin(d)]:
            sel[np.argmin(d)] = True
        counts.append(int(sel.sum()))
    assert side["VoxelsPerSphere"] == counts
    assert side["Masker"]["mask_img"] == str(mpath)


def test_int16_scaled_image(tmp_path, small_atlas, rng):
    img = _image(1000.0 + 10.0 * rng.standard_normal((*SHAPE, 12)))
    img.header.set_data_dtype(np.int16)  # nibabel stores ints with a scale factor
    path = _save(img, tmp_path / "int16.nii.gz")
    loaded = nib.load(path)
    assert loaded.get_data_dtype() == np.int16 and loaded.dataobj.slope != 1.0
    got, _ = extract_timeseries(path, small_atlas, **_raw_kwargs())
    ref = _reference_means(
        loaded.get_fdata(), _affine(), small_atlas[["x", "y", "z"]].to_numpy(), 5.0
    )
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_dosenbach_on_mni_grid(tmp_path, rng):
    """All 160 ROIs on a real 4 mm MNI grid, including the overlapping 108/115 spheres."""
    atlas = load_atlas()
    aff = np.diag([4.0, 4.0, 4.0, 1.0])
    aff[:3, 3] = [-98.0, -134.0, -72.0]
    data = 500.0 + rng.standard_normal((50, 59, 48, 6)).astype(np.float32)
    path = _save(_image(data, affine=aff), tmp_path / "mni.nii.gz")
    got, side = extract_timeseries(path, atlas, **_raw_kwargs())
    ref = _reference_means(data, aff, atlas[["x", "y", "z"]].to_numpy(), 5.0)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert got.shape == (6, 160) and side["ROIs"] == atlas["roi"].tolist()
    assert min(side["VoxelsPerSphere"]) >= 6


def test_default_cleaning_equals_detrend_then_zscore(bold, small_atlas):
    path, data = bold
    got, side = extract_timeseries(path, small_atlas)
    ref = _reference_means(
        data.astype(np.float32), _affine(), small_atlas[["x", "y", "z"]].to_numpy(), 5.0
    )
    ref = scipy_detrend(ref, axis=0, type="linear")
    ref = ref / ref.std(axis=0, ddof=1)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert side["Masker"]["standardize"] == "zscore_sample" and side["Masker"]["detrend"]


def test_standardize_booleans_and_psc(bold, small_atlas):
    path, _ = bold
    z, _ = extract_timeseries(path, small_atlas, standardize="zscore_sample")
    t, side = extract_timeseries(path, small_atlas, standardize=True)
    np.testing.assert_array_equal(z, t)
    assert side["Masker"]["standardize"] == "zscore_sample"
    raw, _ = extract_timeseries(path, small_atlas, **_raw_kwargs())
    f, side = extract_timeseries(path, small_atlas, standardize=False, detrend=False)
    np.testing.assert_array_equal(raw, f)
    assert side["Masker"]["standardize"] is None
    psc, _ = extract_timeseries(path, small_atlas, standardize="psc", detrend=False)
    np.testing.assert_allclose(psc, 100 * (raw - raw.mean(0)) / raw.mean(0), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="standardize = 'zscore'"):
        extract_timeseries(path, small_atlas, standardize="zscore")


def test_sample_mask_keeps_volumes(bold, small_atlas):
    path, _ = bold
    raw, _ = extract_timeseries(path, small_atlas, **_raw_kwargs())
    keep = np.r_[0:10, 15:30]
    got, side = extract_timeseries(path, small_atlas, sample_mask=keep, **_raw_kwargs())
    np.testing.assert_allclose(got, raw[keep])
    assert side["NumberOfVolumes"] == 25 and side["NumberOfVolumesInImage"] == 30
    assert side["Masker"]["sample_mask"] is True


def test_confounds_are_regressed_out(bold, small_atlas, rng):
    path, _ = bold
    conf = rng.standard_normal((30, 1))
    got, side = extract_timeseries(path, small_atlas, confounds=conf, standardize=None)
    c = conf[:, 0] - conf[:, 0].mean()
    np.testing.assert_allclose(c @ (got - got.mean(0)), 0.0, atol=1e-6)
    assert side["Masker"]["confounds"] is True


def test_in_memory_image(bold, small_atlas):
    path, _ = bold
    a, _ = extract_timeseries(path, small_atlas)
    b, side = extract_timeseries(nib.load(path), small_atlas)
    np.testing.assert_array_equal(a, b)
    assert side["Source"] is None


# ---------------------------------------------------------------- bad input


def _assert_names(excinfo, subject, path):
    msg = str(excinfo.value)
    assert f"subject {subject}" in msg and str(path) in msg


def test_missing_file(tmp_path, small_atlas):
    p = tmp_path / "nope_bold.nii.gz"
    with pytest.raises(ValueError, match="not found") as e:
        extract_timeseries(p, small_atlas, subject="07")
    _assert_names(e, "07", p)


def test_unreadable_file(tmp_path, small_atlas):
    p = tmp_path / "junk_bold.nii.gz"
    p.write_bytes(gzip.compress(b"this is not a nifti file" * 10))
    with pytest.raises(ValueError, match="unreadable") as e:
        extract_timeseries(p, small_atlas, subject="07")
    _assert_names(e, "07", p)


def test_truncated_file(bold, small_atlas, tmp_path):
    path, _ = bold
    p = tmp_path / "cut_bold.nii.gz"
    p.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match="truncated") as e:
        extract_timeseries(p, small_atlas, subject="07")
    _assert_names(e, "07", p)


def test_not_4d(tmp_path, small_atlas, rng):
    p = _save(_image(rng.standard_normal(SHAPE)), tmp_path / "3d.nii.gz")
    with pytest.raises(ValueError, match="3D") as e:
        extract_timeseries(p, small_atlas, subject="07")
    _assert_names(e, "07", p)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_voxels(tmp_path, small_atlas, rng, bad):
    data = 1000.0 + rng.standard_normal((*SHAPE, 10))
    data[3, 4, 5, 2] = bad
    p = _save(_image(data), tmp_path / "nan.nii.gz")
    with pytest.raises(ValueError, match=r"1 NaN or Inf.*\(3, 4, 5\), volume 2") as e:
        extract_timeseries(p, small_atlas, subject="07")
    _assert_names(e, "07", p)


@pytest.mark.parametrize(("voxel", "n_reached"), [((5, 6, 4), 1), ((6, 6, 4), 2), ((0, 0, 0), 0)])
def test_non_finite_voxels_name_the_rois_they_reach(tmp_path, small_atlas, rng, voxel,
                                                    n_reached):
    """The ROIs named are those whose nilearn sphere holds the bad voxel."""
    from nilearn.maskers import NiftiSpheresMasker

    data = 1000.0 + rng.standard_normal((*SHAPE, 10))
    data[(*voxel, 4)] = np.nan
    p = _save(_image(data), tmp_path / "nan.nii.gz")
    with pytest.raises(ValueError) as e:
        extract_timeseries(p, small_atlas, subject="07")
    indicator = np.zeros((*SHAPE, 2))
    indicator[voxel] = 1.0
    masker = NiftiSpheresMasker(small_atlas[["x", "y", "z"]].to_numpy(), radius=5.0,
                                allow_overlap=True)
    reached = np.flatnonzero(masker.fit_transform(_image(indicator))[0] > 0)
    assert len(reached) == n_reached  # the case is what it claims to be
    message = str(e.value)
    if len(reached):
        names = ", ".join(f"{r.roi} ({r.label})" for r in small_atlas.iloc[reached].itertuples())
        assert f"in the spheres of {len(reached)} ROI(s): {names})" in message
    else:
        assert "outside every ROI sphere" in message


def test_tr_mismatch(tmp_path, small_atlas, rng):
    p = _save(_image(1000 + rng.standard_normal((*SHAPE, 10)), tr=2.0), tmp_path / "tr.nii.gz")
    with pytest.raises(ValueError, match="header is 2 s.*t_r = 3 s") as e:
        extract_timeseries(p, small_atlas, subject="07", t_r=3.0)
    _assert_names(e, "07", p)
    got, side = extract_timeseries(p, small_atlas, t_r=2.0, min_volumes=3)
    assert side["RepetitionTime"] == 2.0


def test_tr_in_milliseconds_is_converted(tmp_path, small_atlas, rng):
    img = _image(1000 + rng.standard_normal((*SHAPE, 10)), tr=3000.0)
    img.header.set_xyzt_units("mm", "msec")
    p = _save(img, tmp_path / "ms.nii.gz")
    _, side = extract_timeseries(p, small_atlas, t_r=3.0, min_volumes=3)
    assert side["HeaderRepetitionTime"] == pytest.approx(3.0)


def test_too_few_volumes(bold, small_atlas):
    path, _ = bold
    with pytest.raises(ValueError, match="30 volumes; need at least 50") as e:
        extract_timeseries(path, small_atlas, subject="07", min_volumes=50)
    _assert_names(e, "07", path)
    with pytest.raises(ValueError, match="4 volumes remain.*need at least 10") as e:
        extract_timeseries(
            path, small_atlas, subject="07", sample_mask=np.arange(4), min_volumes=10
        )
    _assert_names(e, "07", path)


def test_empty_sphere_outside_field_of_view(bold, small_atlas):
    path, _ = bold
    atlas = small_atlas.copy()
    atlas.loc[2, ["x", "y", "z"]] = [0.0, 80.0, 0.0]
    with pytest.raises(ValueError, match=r"1 ROI sphere\(s\) hold no voxel.*3 \(c 3\)") as e:
        extract_timeseries(path, atlas, subject="07")
    _assert_names(e, "07", path)


def test_empty_sphere_outside_mask(bold, small_atlas, tmp_path):
    path, _ = bold
    mask = np.ones(SHAPE, np.uint8)
    mask[:, 8:, :] = 0  # y >= 8 mm: removes ROI 3 (y = 11) entirely
    mpath = _save(nib.Nifti1Image(mask, _affine()), tmp_path / "mask.nii.gz")
    with pytest.raises(ValueError, match=r"brain mask\): 3 \(c 3\)") as e:
        extract_timeseries(path, small_atlas, subject="07", mask_img=mpath)
    _assert_names(e, "07", path)


def _with_sphere(data, coord, fill):
    ijk = np.indices(SHAPE).reshape(3, -1).T
    xyz = ijk @ _affine()[:3, :3].T + _affine()[:3, 3]
    sel = np.sqrt(((xyz - coord) ** 2).sum(axis=1)) <= 8.0
    flat = data.reshape(-1, data.shape[3])
    flat[sel] = fill(flat.shape[1])
    return data


@pytest.mark.parametrize(
    ("fill", "reason"),
    [
        (lambda t: 0.0, "all zero"),
        (lambda t: 700.0, "constant"),
        (lambda t: 700.0 + 2.0 * np.arange(t), "constant after detrending"),
    ],
)
def test_degenerate_roi_series(tmp_path, small_atlas, rng, fill, reason):
    data = 1000.0 + 10 * rng.standard_normal((*SHAPE, 20))
    data = _with_sphere(data, np.array([10.0, -13.0, 7.0]), fill)
    p = _save(_image(data), tmp_path / "deg.nii.gz")
    with pytest.raises(ValueError, match=rf"1 ROI series are {reason}.*4 \(d 4\)") as e:
        extract_timeseries(p, small_atlas, subject="07")
    _assert_names(e, "07", p)


def test_linear_trend_is_fine_without_detrending(tmp_path, small_atlas, rng):
    data = 1000.0 + 10 * rng.standard_normal((*SHAPE, 20))
    data = _with_sphere(data, np.array([10.0, -13.0, 7.0]), lambda t: 700.0 + 2.0 * np.arange(t))
    p = _save(_image(data), tmp_path / "trend.nii.gz")
    got, _ = extract_timeseries(p, small_atlas, standardize=None, detrend=False)
    np.testing.assert_allclose(got[:, 3], 700.0 + 2.0 * np.arange(20), rtol=1e-6)


def test_nilearn_errors_name_subject(bold, small_atlas):
    path, _ = bold
    with pytest.raises(ValueError, match="nilearn could not extract") as e:
        extract_timeseries(path, small_atlas, subject="07", confounds=np.ones((12, 2)))
    _assert_names(e, "07", path)


# ---------------------------------------------------------------- precomputed series


def test_validate_accepts_and_reorders(small_atlas, rng):
    x = rng.standard_normal((20, 4))
    out, rois = validate_timeseries(x, [1, 2, 3, 4], small_atlas, subject="03", path="f.tsv")
    np.testing.assert_array_equal(out, x)
    assert rois == [1, 2, 3, 4] and out.dtype == np.float64
    perm = [3, 1, 4, 2]
    out, rois = validate_timeseries(x, perm, small_atlas, subject="03", path="f.tsv")
    assert rois == [1, 2, 3, 4]
    for j, r in enumerate(perm):
        np.testing.assert_array_equal(out[:, r - 1], x[:, j])


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ([1, 2, 2, 4], "duplicated ROI numbers in the header: \\[2\\]"),
        ([1, 2, 3, 9], "missing \\[4\\], unknown \\[9\\]"),
        ([1, 2, 3], "3 header entries for 4 columns"),
    ],
)
def test_validate_bad_header(small_atlas, rng, header, reason):
    with pytest.raises(ValueError, match=reason) as e:
        validate_timeseries(
            rng.standard_normal((20, 4)), header, small_atlas, subject="03", path="/data/sub-03.tsv"
        )
    _assert_names(e, "03", "/data/sub-03.tsv")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda x: x.__setitem__((5, 2), np.nan), "1 NaN or Inf values \\(first at row 5, ROI 3"),
        (lambda x: x.__setitem__((0, 0), np.inf), "first at row 0, ROI 1"),
        (lambda x: x.__setitem__((slice(None), 1), 0.0), "all zero: 2 \\(b 2\\)"),
        (lambda x: x.__setitem__((slice(None), 3), 4.2), "constant: 4 \\(d 4\\)"),
    ],
)
def test_validate_bad_values(small_atlas, rng, edit, reason):
    x = rng.standard_normal((20, 4))
    edit(x)
    with pytest.raises(ValueError, match=reason) as e:
        validate_timeseries(x, [1, 2, 3, 4], small_atlas, subject="03", path="/d/s.tsv")
    _assert_names(e, "03", "/d/s.tsv")


def test_validate_too_few_rows(small_atlas, rng):
    with pytest.raises(ValueError, match="2 volumes \\(rows\\); need at least 3") as e:
        validate_timeseries(
            rng.standard_normal((2, 4)), [1, 2, 3, 4], small_atlas, subject="03", path="/d/s.tsv",
            min_volumes=3,
        )
    _assert_names(e, "03", "/d/s.tsv")


# ---------------------------------------------------------------- subject errors and tSNR


def test_subject_errors_carry_subject_file_and_reason(bold, small_atlas, tmp_path, rng):
    import pickle

    from tda_mci.validation import SubjectDataError

    p = _save(_image(rng.standard_normal(SHAPE)), tmp_path / "3d.nii.gz")
    with pytest.raises(SubjectDataError) as e:
        extract_timeseries(p, small_atlas, subject="07")
    err = e.value
    assert (err.subject, err.file) == ("07", str(p)) and err.reason.startswith("image is 3D")
    assert str(err) == f"subject 07, file {p}: {err.reason}"
    # survives pickling (joblib workers, multiprocessing)
    again = pickle.loads(pickle.dumps(err))
    assert (again.subject, again.file, again.reason) == (err.subject, err.file, err.reason)
    with pytest.raises(SubjectDataError) as e:
        validate_timeseries(np.zeros((20, 4)), [1, 2, 3, 4], small_atlas, subject="03", path="f")
    assert e.value.reason.startswith("4 ROI series are all zero")
    # a bad mask names the mask file
    mask = tmp_path / "mask.nii.gz"
    mask.write_bytes(b"junk")
    path, _ = bold
    with pytest.raises(SubjectDataError, match="cannot use brain mask") as e:
        extract_timeseries(path, small_atlas, subject="07", mask_img=mask)
    assert e.value.file == str(mask)


def test_argument_errors_are_not_subject_errors(bold, small_atlas):
    from tda_mci.validation import SubjectDataError

    path, _ = bold
    for kwargs in ({"t_r": 0.0}, {"radius": -1.0}, {"standardize": "zscore"}):
        with pytest.raises(ValueError) as e:
            extract_timeseries(path, small_atlas, subject="07", **kwargs)
        assert not isinstance(e.value, SubjectDataError)


def test_temporal_snr_of_raw_sphere_means(bold, small_atlas):
    path, data = bold
    coords = small_atlas[["x", "y", "z"]].to_numpy()
    ref = _reference_means(data.astype(np.float32), _affine(), coords, 5.0)
    _, side = extract_timeseries(path, small_atlas)
    np.testing.assert_allclose(side["TemporalSNR"], ref.mean(0) / ref.std(0), rtol=1e-6)
    keep = np.r_[0:10, 15:30]
    _, side = extract_timeseries(path, small_atlas, sample_mask=keep)
    np.testing.assert_allclose(
        side["TemporalSNR"], ref[keep].mean(0) / ref[keep].std(0), rtol=1e-6
    )
