import json
from pathlib import Path

import data_gen as dg
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from tda_mci.atlas import check_atlas_networks, load_atlas, networks
from tda_mci.cohort import check_participants
from tda_mci.inputs.readers import (
    load_fmriprep_confounds,
    read_confounds_table,
    read_network_csvs,
    read_series_table,
)
from tda_mci.inputs.series import load_subject_series
from tda_mci.inputs.sources import (
    find_fmriprep_files,
    format_pattern,
    resolve_cohort_inputs,
    resolve_pattern,
    resolve_subject_inputs,
    scan_entities,
)
from tda_mci.paths import parse_bids_name
from tda_mci.topology.windows import min_series_length
from tda_mci.validation import SubjectDataError

SPACE = dg.SPACE


@pytest.fixture
def cohort():
    return dg.participants({"HC": 2, "MCI": 2})


@pytest.fixture
def atlas():
    return dg.atlas20()


@pytest.fixture
def fmriprep(tmp_path, cohort, atlas):
    files = dg.make_fmriprep(tmp_path / "fmriprep", cohort, atlas, n_volumes=60)
    return tmp_path / "fmriprep", files


def _fmriprep_spec(root, **kw):
    f = {
        "root": str(root),
        "task": "rest",
        "space": SPACE,
        "desc": "preproc",
        "session": None,
        "run": None,
        "res": None,
        "denoise_strategy": "simple",
        "brain_mask": True,
    }
    f.update(kw)
    return {"kind": "fmriprep", "fmriprep": f}


def _names(err, subject, file):
    msg = str(err.value)
    assert f"subject {subject}" in msg and str(file) in msg, msg


# ----------------------------------------------------------------------------- BIDS names
def test_parse_bids_name():
    ent, suffix, ext = parse_bids_name(
        f"/x/sub-01_ses-2_task-rest_run-1_space-{SPACE}_res-2_desc-preproc_bold.nii.gz"
    )
    assert ent == {
        "sub": "01",
        "ses": "2",
        "task": "rest",
        "run": "1",
        "space": SPACE,
        "res": "2",
        "desc": "preproc",
    }
    assert list(ent) == ["sub", "ses", "task", "run", "space", "res", "desc"]
    assert (suffix, ext) == ("bold", ".nii.gz")
    assert parse_bids_name("sub-01_desc-confounds_timeseries.tsv")[1:] == ("timeseries", ".tsv")
    with pytest.raises(ValueError, match="part 'oops'"):
        parse_bids_name("sub-01_oops_bold.nii.gz")


# ----------------------------------------------------------------------------- fMRIPrep
def test_fmriprep_picks_the_one_matching_image(fmriprep):
    root, files = fmriprep
    found = find_fmriprep_files(root, "01", task="rest", space=SPACE, desc="preproc")
    # distractors (space-T1w, task-nback, boldref) are ignored
    assert found == {k: str(v) for k, v in files["01"].items()}


def test_fmriprep_no_match_names_subject(fmriprep):
    root, _ = fmriprep
    with pytest.raises(SubjectDataError, match="no preprocessed image matches") as e:
        find_fmriprep_files(root, "01", task="rest", space="MNI152NLin6Asym")
    _names(e, "01", root / "sub-01")
    assert "sub-01_task-rest_space-T1w_desc-preproc_bold.nii.gz" in str(e.value)
    with pytest.raises(SubjectDataError, match="no preprocessed image") as e:
        find_fmriprep_files(root, "99", task="rest", space=SPACE)
    _names(e, "99", root / "sub-99")


def _add_runs(root):
    func = root / "sub-01" / "func"
    src = func / f"sub-01_task-rest_space-{SPACE}_desc-preproc_bold.nii.gz"
    for run in ("1", "2"):
        stem = f"sub-01_task-rest_run-{run}"
        (func / f"{stem}_space-{SPACE}_desc-preproc_bold.nii.gz").write_bytes(src.read_bytes())
        (func / f"{stem}_space-{SPACE}_desc-brain_mask.nii.gz").write_bytes(
            (func / f"sub-01_task-rest_space-{SPACE}_desc-brain_mask.nii.gz").read_bytes()
        )
        (func / f"{stem}_desc-confounds_timeseries.tsv").write_text("a\n1\n")
    src.unlink()


def test_fmriprep_several_matches_is_an_error_until_run_is_set(fmriprep):
    root, _ = fmriprep
    _add_runs(root)
    with pytest.raises(SubjectDataError, match="2 preprocessed images match") as e:
        find_fmriprep_files(root, "01", task="rest", space=SPACE)
    _names(e, "01", root / "sub-01")
    assert (
        "run-1" in str(e.value) and "run-2" in str(e.value) and "set session, run" in str(e.value)
    )
    found = find_fmriprep_files(root, "01", task="rest", space=SPACE, run=2)
    assert (
        Path(found["bold"]).name == f"sub-01_task-rest_run-2_space-{SPACE}_desc-preproc_bold.nii.gz"
    )
    assert (
        Path(found["mask"]).name == f"sub-01_task-rest_run-2_space-{SPACE}_desc-brain_mask.nii.gz"
    )
    assert Path(found["confounds"]).name == "sub-01_task-rest_run-2_desc-confounds_timeseries.tsv"


def test_fmriprep_scan_choice_picks_in_natural_session_and_run_order(tmp_path, cohort, atlas):
    scans = {"01": [("m12", "1"), ("bl", "2"), ("bl", "10"), ("m6", "1")]}
    dg.make_fmriprep(tmp_path, cohort, atlas, n_volumes=30, distractors=False, scans=scans)
    with pytest.raises(SubjectDataError, match="4 preprocessed images match .* scan_choice"):
        find_fmriprep_files(tmp_path, "01", space=SPACE)
    first = find_fmriprep_files(tmp_path, "01", space=SPACE, scan_choice="first")
    last = find_fmriprep_files(tmp_path, "01", space=SPACE, scan_choice="last")
    # bl < m6 < m12 (numbers as numbers), and run-2 < run-10 within bl
    assert Path(first["bold"]).name.startswith("sub-01_ses-bl_task-rest_run-2_")
    assert Path(last["bold"]).name.startswith("sub-01_ses-m12_task-rest_run-1_")
    assert Path(first["confounds"]).name == (
        "sub-01_ses-bl_task-rest_run-2_desc-confounds_timeseries.tsv")
    assert Path(first["bold"]).parent.parent.name == "ses-bl"
    in_m6 = find_fmriprep_files(tmp_path, "01", space=SPACE, session="m6")
    assert "_ses-m6_" in Path(in_m6["bold"]).name
    with pytest.raises(ValueError, match="scan_choice"):
        find_fmriprep_files(tmp_path, "01", space=SPACE, scan_choice="newest")


def test_fmriprep_session_per_subject_from_a_participants_column(tmp_path, cohort, atlas):
    scans = {s: [("bl", None), ("m06", None)] for s in ("01", "02", "03", "04")}
    dg.make_fmriprep(tmp_path, cohort, atlas, n_volumes=30, distractors=False, scans=scans)
    table = check_participants(cohort.assign(visit=["bl", "m06", "m06", "bl"]))
    spec = _fmriprep_spec(tmp_path, session="{visit}")
    found = resolve_cohort_inputs(spec, table)
    chosen = {s: parse_bids_name(f["bold"])[0]["ses"] for s, f in found.items()}
    assert chosen == {"01": "bl", "02": "m06", "03": "m06", "04": "bl"}
    assert {s: scan_entities(s, f) for s, f in found.items()}["02"] == {
        "ses": "m06", "task": "rest", "run": None, "space": SPACE}
    with pytest.raises(ValueError, match=r"no value for \{VISCODE\}"):
        resolve_cohort_inputs(_fmriprep_spec(tmp_path, session="{VISCODE}"), table)


def test_scan_entities_of_names_that_are_not_bids_default_to_task_rest():
    assert scan_entities("01", {"bold": "/d/01/filtered_func_mni.nii.gz"}) == {
        "ses": None, "task": "rest", "run": None, "space": None}
    # a BIDS name of another subject says nothing about this one
    other = scan_entities("01", {"timeseries": "/d/sub-02_ses-1_task-x_timeseries.tsv"})
    assert other["ses"] is None
    assert scan_entities("01", {"timeseries": "/d/sub-01_ses-1_task-x_timeseries.tsv"}) == {
        "ses": "1", "task": "x", "run": None, "space": None}
    assert scan_entities("01", {"network_csv": ["/d/DMN/01.csv"]})["task"] == "rest"


def test_fmriprep_missing_mask_or_confounds(fmriprep):
    root, files = fmriprep
    files["02"]["mask"].unlink()
    with pytest.raises(SubjectDataError, match="brain mask not found") as e:
        find_fmriprep_files(root, "02", task="rest", space=SPACE)
    _names(e, "02", files["02"]["mask"])
    assert "mask" not in find_fmriprep_files(root, "02", task="rest", space=SPACE, brain_mask=False)
    files["03"]["confounds"].unlink()
    with pytest.raises(SubjectDataError, match="confounds file not found") as e:
        find_fmriprep_files(root, "03", task="rest", space=SPACE)
    _names(e, "03", files["03"]["confounds"])
    assert "confounds" not in find_fmriprep_files(
        root, "03", task="rest", space=SPACE, confounds=False
    )


def test_fmriprep_legacy_confounds_name(fmriprep):
    root, files = fmriprep
    old = files["01"]["confounds"]
    new = old.with_name("sub-01_task-rest_desc-confounds_regressors.tsv")
    old.rename(new)
    assert find_fmriprep_files(root, "01", task="rest", space=SPACE)["confounds"] == str(new)


def test_fmriprep_confounds_simple_strategy(fmriprep):
    _, files = fmriprep
    conf, mask, info = load_fmriprep_confounds(files["01"]["bold"], "simple", "01")
    raw = pd.read_csv(files["01"]["confounds"], sep="\t", na_values="n/a")
    # non-steady-state volumes 0 and 1 are censored, every other volume kept
    np.testing.assert_array_equal(mask, np.arange(2, 60))
    motion = [
        f"{p}_{a}{s}"
        for p in ("trans", "rot")
        for a in "xyz"
        for s in ("", "_derivative1", "_power2", "_derivative1_power2")
    ]
    assert set(conf.columns) == set(motion) | {
        "csf",
        "white_matter",
        "cosine00",
        "cosine01",
        "cosine02",
    }
    assert len(conf) == 60
    # nilearn demeans; the column is still the raw regressor up to an offset
    np.testing.assert_allclose(
        conf["trans_x"] - conf["trans_x"].mean(), raw["trans_x"] - raw["trans_x"].mean(), atol=1e-10
    )
    assert info["DenoiseStrategy"] == "simple"
    assert info["MeanFramewiseDisplacement"] == pytest.approx(raw["framewise_displacement"].mean())


def test_fmriprep_confounds_scrubbing_censors_motion(fmriprep):
    _, files = fmriprep
    raw = pd.read_csv(files["01"]["confounds"], sep="\t", na_values="n/a")
    raw.loc[15, "framewise_displacement"] = 0.9  # one high-motion volume
    raw.to_csv(files["01"]["confounds"], sep="\t", index=False, na_rep="n/a")
    _, mask, _ = load_fmriprep_confounds(files["01"]["bold"], "scrubbing", "01")
    assert 15 not in mask and 0 not in mask and 1 not in mask
    assert 59 in mask and 5 in mask
    conf, mask, info = load_fmriprep_confounds(files["01"]["bold"], "none", "01")
    assert conf is None and mask is None and info["DenoiseStrategy"] == "none"
    with pytest.raises(ValueError, match="'aroma'"):
        load_fmriprep_confounds(files["01"]["bold"], "aroma", "01")


def test_fmriprep_confounds_missing_names_subject(fmriprep):
    _, files = fmriprep
    files["01"]["confounds"].unlink()
    with pytest.raises(SubjectDataError, match="cannot load fMRIPrep confounds") as e:
        load_fmriprep_confounds(files["01"]["bold"], "simple", "01")
    _names(e, "01", files["01"]["bold"])


def _reference_series(bold, mask, atlas, confounds, keep, radius=5.0):
    """Sphere means by brute force, then lstsq on [confounds, 1, t] and z-scoring."""
    img = nib.load(bold)
    data = img.get_fdata()
    m = nib.load(mask).get_fdata() != 0
    ijk = np.indices(data.shape[:3]).reshape(3, -1).T
    xyz = ijk @ img.affine[:3, :3].T + img.affine[:3, 3]
    flat = data.reshape(-1, data.shape[3])
    cols = []
    for c in atlas[["x", "y", "z"]].to_numpy():
        d = np.sqrt(((xyz - c) ** 2).sum(axis=1))
        sel = (d <= radius) & m.ravel()
        sel[np.argmin(d)] |= m.ravel()[np.argmin(d)]
        cols.append(flat[sel].mean(axis=0))
    x = np.column_stack(cols)[keep]
    t = np.arange(len(keep), dtype=float)
    design = np.column_stack([np.asarray(confounds, float)[keep], np.ones_like(t), t])
    resid = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    return resid / resid.std(axis=0, ddof=1)


def test_load_fmriprep_series_equals_numpy_reference(fmriprep, atlas):
    _, files = fmriprep
    sources = {k: str(v) for k, v in files["01"].items()}
    data, side = load_subject_series(
        "fmriprep", sources, atlas, subject="01", t_r=2.0, min_volumes=10, atlas_name="atlas20"
    )
    conf, keep, _ = load_fmriprep_confounds(sources["bold"], "simple", "01")
    ref = _reference_series(sources["bold"], sources["mask"], atlas, conf.to_numpy(), keep)
    np.testing.assert_allclose(data, ref, atol=1e-6)
    assert data.shape == (58, 20)
    assert side["NumberOfVolumes"] == 58 and side["NumberOfVolumesInImage"] == 60
    assert side["InputKind"] == "fmriprep" and side["Masker"]["mask_img"] == sources["mask"]
    assert side["Masker"]["confounds"] and side["Masker"]["sample_mask"]
    assert len(side["ConfoundColumns"]) == 29 and side["Atlas"] == "atlas20"


def test_load_nifti_series_with_confounds_table(tmp_path, cohort, atlas):
    files = dg.make_fsl_like(tmp_path, cohort, atlas, n_volumes=30)["02"]
    sources = {k: str(v) for k, v in files.items()}
    data, side = load_subject_series("nifti", sources, atlas, subject="02", t_r=2.0)
    conf = pd.read_csv(files["confounds"], sep="\t").to_numpy()
    ref = _reference_series(sources["bold"], sources["mask"], atlas, conf, np.arange(30))
    np.testing.assert_allclose(data, ref, atol=1e-6)
    assert side["ConfoundColumns"] == ["tx", "ty", "tz", "rx", "ry", "rz"]
    assert side["ConfoundsFile"] == sources["confounds"] and side["InputKind"] == "nifti"


def test_confounds_table_with_nan_names_column(tmp_path):
    p = tmp_path / "conf.tsv"
    pd.DataFrame({"a": [1.0, 2.0], "fd": [np.nan, 0.1]}).to_csv(p, sep="\t", index=False)
    with pytest.raises(SubjectDataError, match=r"NaN or Inf in column\(s\) \['fd'\]") as e:
        read_confounds_table(p, "05")
    _names(e, "05", p)
    p.write_text("a\tb\n1\tx\n")
    with pytest.raises(SubjectDataError, match="not numeric"):
        read_confounds_table(p, "05")


# ----------------------------------------------------------------------------- patterns
def test_format_pattern_fields_and_safety():
    row = {
        "participant_id": "sub-01",
        "subject": "01",
        "group": "HC",
        "site": "A-2",
        "bad": "../x",
        "empty": float("nan"),
    }
    assert (
        format_pattern("/d/{group}/{site}/{subject}_{participant_id}.nii", row)
        == "/d/HC/A-2/01_sub-01.nii"
    )
    with pytest.raises(ValueError, match=r"no value for \{scanner\}.*'group'"):
        format_pattern("/d/{scanner}.nii", row)
    with pytest.raises(ValueError, match="'../x' of {bad} cannot go into a path"):
        format_pattern("/d/{bad}.nii", row)
    with pytest.raises(ValueError, match="'' of {empty}"):
        format_pattern("/d/{empty}.nii", row)
    with pytest.raises(ValueError, match="is not a name"):
        format_pattern("/d/{}.nii", row)
    with pytest.raises(ValueError, match="malformed"):
        format_pattern("/d/{subject.nii", row)


def test_resolve_pattern_exact_and_glob(tmp_path):
    row = {"participant_id": "sub-01", "subject": "01"}
    (tmp_path / "01").mkdir()
    f = tmp_path / "01" / "func_mni.nii.gz"
    f.write_bytes(b"x")
    assert resolve_pattern(str(tmp_path / "{subject}/func_mni.nii.gz"), row, "01", "image") == str(
        f
    )
    assert resolve_pattern(str(tmp_path / "{subject}/*_mni.nii.gz"), row, "01", "image") == str(f)
    with pytest.raises(SubjectDataError, match="image file not found") as e:
        resolve_pattern(str(tmp_path / "{subject}/nope.nii.gz"), row, "01", "image")
    _names(e, "01", tmp_path / "01" / "nope.nii.gz")
    (tmp_path / "01" / "other_mni.nii.gz").write_bytes(b"y")
    with pytest.raises(SubjectDataError, match="2 image files match the pattern") as e:
        resolve_pattern(str(tmp_path / "{subject}/*_mni.nii.gz"), row, "01", "image")
    assert "other_mni" in str(e.value) and "func_mni" in str(e.value)
    with pytest.raises(SubjectDataError, match="no image file matches"):
        resolve_pattern(str(tmp_path / "{subject}/*.nii"), row, "01", "image")


def test_resolve_inputs_of_every_kind(tmp_path, cohort, atlas, fmriprep):
    table = check_participants(cohort)
    row = table.iloc[0].to_dict()
    root, files = fmriprep
    got = resolve_subject_inputs(_fmriprep_spec(root), row)
    assert got == {k: str(v) for k, v in files["01"].items()}
    got = resolve_subject_inputs(
        _fmriprep_spec(root, denoise_strategy="none", brain_mask=False), row
    )
    assert set(got) == {"bold"}
    fsl = dg.make_fsl_like(tmp_path / "fsl", cohort, atlas, n_volumes=8)
    spec = {
        "kind": "nifti",
        "bold": str(tmp_path / "fsl/{subject}.feat/filtered_func_data_mni.nii.gz"),
        "mask": str(tmp_path / "fsl/{subject}.feat/mask_mni.nii.gz"),
        "confounds": None,
    }
    assert resolve_subject_inputs(spec, row) == {
        "bold": str(fsl["01"]["bold"]),
        "mask": str(fsl["01"]["mask"]),
    }
    ts = dg.make_timeseries_tables(tmp_path / "ts", cohort, atlas, n_volumes=8, ext=".csv")
    spec = {
        "kind": "timeseries",
        "timeseries": str(tmp_path / "ts/{participant_id}_timeseries.csv"),
    }
    assert resolve_subject_inputs(spec, row) == {
        "timeseries": str(ts["01"]),
        "sidecar": str(ts["01"].with_suffix(".json")),
    }
    csvs = dg.make_network_csvs(tmp_path / "net", cohort, atlas, n_volumes=8)
    spec = {
        "kind": "network_csv",
        "network_csv": str(tmp_path / "net/{group}/{network}/{subject}.csv"),
    }
    keys = list(networks(atlas))
    got = resolve_subject_inputs(spec, row, keys)
    assert got == {"network_csv": [str(csvs["01"][k]) for k in keys]}
    with pytest.raises(ValueError, match=r"needs a \{network\} placeholder"):
        resolve_subject_inputs(
            {"kind": "network_csv", "network_csv": "/d/{subject}.csv"}, row, keys
        )
    with pytest.raises(ValueError, match="inputs.kind = 'bids'"):
        resolve_subject_inputs({"kind": "bids"}, row)
    with pytest.raises(ValueError, match="inputs.bold is not set"):
        resolve_subject_inputs({"kind": "nifti", "bold": None}, row)


def test_cohort_inputs_report_every_bad_subject(tmp_path, cohort, fmriprep):
    root, files = fmriprep
    table = check_participants(cohort)
    assert set(resolve_cohort_inputs(_fmriprep_spec(root), table)) == {"01", "02", "03", "04"}
    files["02"]["bold"].unlink()
    _add_runs(root)  # sub-01 now has two runs
    with pytest.raises(ValueError, match="2 of 4 subject") as e:
        resolve_cohort_inputs(_fmriprep_spec(root), table)
    msg = str(e.value)
    assert "subject 01" in msg and "2 preprocessed images match" in msg
    assert "subject 02" in msg and "no preprocessed image matches" in msg
    assert "subject 03" not in msg


# ----------------------------------------------------------------------------- tables
def test_series_tables_tsv_and_csv(tmp_path, cohort):
    tsv = dg.make_timeseries_tables(tmp_path / "a", cohort, n_volumes=12)
    csv = dg.make_timeseries_tables(tmp_path / "b", cohort, n_volumes=12, ext=".csv")
    x, header, tr = read_series_table(tsv["01"], "01")
    y, header_csv, _ = read_series_table(csv["01"], "01")
    truth = dg.series(cohort, n_volumes=12)["01"]
    np.testing.assert_array_equal(x, truth)
    np.testing.assert_array_equal(y, truth)
    assert header == header_csv == [str(r) for r in range(1, 161)] and tr == 2.0
    tsv["02"].with_suffix(".json").write_text("{not json")
    with pytest.raises(SubjectDataError, match="unreadable JSON sidecar") as e:
        read_series_table(tsv["02"], "02")
    _names(e, "02", tsv["02"].with_suffix(".json"))


def test_imported_series_are_used_as_given_unless_scaling_is_asked_for(tmp_path, cohort):
    """inputs.import_standardize / import_detrend: none by default (the series as given);
    detrending removes the least-squares line (scipy's detrend), z-scoring gives mean 0
    and sample SD 1; the sidecar records what was done."""
    from scipy.signal import detrend

    atlas = load_atlas()
    tsv = dg.make_timeseries_tables(tmp_path, cohort, n_volumes=30)
    raw = pd.read_csv(tsv["01"], sep="\t").to_numpy(float)
    raw = raw * 50 + 1000 + np.arange(30)[:, None] * 3.0  # raw scale with a linear drift
    pd.DataFrame(raw, columns=[str(r) for r in atlas["roi"]]).to_csv(tsv["01"], sep="\t",
                                                                    index=False)
    args = ("timeseries", {"timeseries": tsv["01"]}, atlas)
    kw = {"subject": "01", "t_r": 2.0}
    data, side = load_subject_series(*args, **kw)
    np.testing.assert_array_equal(data, raw)
    assert side["ImportScaling"] == {"standardize": "none", "detrend": False}
    data, side = load_subject_series(*args, **kw, import_scaling={"detrend": True})
    np.testing.assert_allclose(data, detrend(raw, axis=0), atol=1e-9)
    assert side["ImportScaling"] == {"standardize": "none", "detrend": True}
    data, side = load_subject_series(
        *args, **kw, import_scaling={"standardize": "zscore_sample", "detrend": True})
    np.testing.assert_allclose(data.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(data.std(axis=0, ddof=1), 1, rtol=1e-10)
    flat = detrend(raw, axis=0)
    np.testing.assert_allclose(data, flat / flat.std(axis=0, ddof=1), rtol=1e-8, atol=1e-10)
    # a column that is a pure linear trend cannot be detrended and standardised
    raw[:, 4] = 5.0 + 0.5 * np.arange(30)
    pd.DataFrame(raw, columns=[str(r) for r in atlas["roi"]]).to_csv(tsv["01"], sep="\t",
                                                                    index=False)
    load_subject_series(*args, **kw)  # as given it is a valid (non-constant) series
    with pytest.raises(SubjectDataError, match=r"constant after detrending: 5 \(") as e:
        load_subject_series(*args, **kw, import_scaling={"detrend": True})
    _names(e, "01", tsv["01"])


def test_timeseries_tr_mismatch_and_embedding_length(tmp_path, cohort):
    atlas = load_atlas()
    tsv = dg.make_timeseries_tables(tmp_path, cohort, n_volumes=12)
    with pytest.raises(SubjectDataError, match="RepetitionTime is 2 s.*t_r = 3 s") as e:
        load_subject_series("timeseries", {"timeseries": tsv["01"]}, atlas, subject="01", t_r=3.0,
                            min_volumes=3)
    _names(e, "01", tsv["01"].with_suffix(".json"))
    data, side = load_subject_series(
        "timeseries", {"timeseries": tsv["01"]}, atlas, subject="01", t_r=2.0, embedding=(6, 2),
        min_volumes=3,
    )
    assert min_series_length(6, 2, n_points=2) == 12 and data.shape == (12, 160)
    assert side["SourceRepetitionTime"] == 2.0 and side["MinimumVolumes"] == 12
    with pytest.raises(
        SubjectDataError, match=r"embedding \(window 7, delay 2\) needs at least 14"
    ) as e:
        load_subject_series(
            "timeseries", {"timeseries": tsv["01"]}, atlas, subject="01", t_r=2.0, embedding=(7, 2),
            min_volumes=3,
        )
    _names(e, "01", tsv["01"])
    with pytest.raises(SubjectDataError, match="12 volumes \\(rows\\); need at least 20"):
        load_subject_series(
            "timeseries", {"timeseries": tsv["01"]}, atlas, subject="01", t_r=2.0, min_volumes=20
        )


def test_network_csvs_reassemble_atlas_order(tmp_path, cohort):
    atlas = load_atlas()
    csvs = dg.make_network_csvs(tmp_path, cohort, n_volumes=15)
    keys = list(networks(atlas))
    files = [csvs["03"][k] for k in keys]
    x, rois = read_network_csvs(files, atlas, "03")
    np.testing.assert_array_equal(x, dg.series(cohort, n_volumes=15)["03"])
    assert rois == list(range(1, 161))
    data, side = load_subject_series(
        "network_csv", {"network_csv": files}, atlas, subject="03", t_r=2.0, min_volumes=3
    )
    np.testing.assert_array_equal(data, x)
    assert side["Source"] == [str(f) for f in files] and side["InputKind"] == "network_csv"


def test_network_csv_shape_errors(tmp_path, cohort):
    atlas = load_atlas()
    csvs = dg.make_network_csvs(tmp_path, cohort, n_volumes=15)
    keys = list(networks(atlas))
    dmn = csvs["01"]["DMN"]
    rows = dmn.read_text().splitlines()
    dmn.write_text("\n".join(rows[:-1]) + "\n")  # one ROI short
    with pytest.raises(SubjectDataError, match="33 rows but network DMN has 34 ROIs") as e:
        read_network_csvs([csvs["01"][k] for k in keys], atlas, "01")
    _names(e, "01", dmn)
    sm = csvs["02"]["SM"]
    pd.read_csv(sm, header=None).iloc[:, :10].to_csv(sm, header=False, index=False)
    with pytest.raises(SubjectDataError, match="10 volumes \\(columns\\) but the CB file has 15"):
        read_network_csvs([csvs["02"][k] for k in keys], atlas, "02")
    fp = csvs["03"]["FP"]
    fp.write_text(",".join(f"t{i}" for i in range(15)) + "\n" + fp.read_text())  # a header
    with pytest.raises(SubjectDataError, match="not numeric") as e:
        read_network_csvs([csvs["03"][k] for k in keys], atlas, "03")
    _names(e, "03", fp)


def test_bad_subject_data_is_a_subject_error(tmp_path, cohort):
    atlas = load_atlas()
    tsv = dg.make_timeseries_tables(tmp_path, cohort, n_volumes=12)
    t = pd.read_csv(tsv["04"], sep="\t")
    t["7"] = 0.0
    t.to_csv(tsv["04"], sep="\t", index=False)
    with pytest.raises(SubjectDataError, match="all zero: 7") as e:
        load_subject_series("timeseries", {"timeseries": tsv["04"]}, atlas, subject="04", t_r=2.0,
                            min_volumes=3)
    assert (e.value.subject, e.value.file) == ("04", str(tsv["04"]))
    with pytest.raises(ValueError, match="kind = 'bids'"):
        load_subject_series("bids", {}, atlas, subject="04", t_r=2.0)


def test_sidecar_is_json_serialisable(fmriprep, atlas):
    _, files = fmriprep
    _, side = load_subject_series(
        "fmriprep", {k: str(v) for k, v in files["04"].items()}, atlas, subject="04", t_r=2.0
    )
    assert json.loads(json.dumps(side))["Subject"] == "04"


def test_atlas_networks_need_two_rois(atlas):
    check_atlas_networks(atlas)
    one = atlas.copy()
    one.loc[19, "network"] = "lonely"
    with pytest.raises(ValueError, match=r"my.tsv: .*\{'lonely': 1\}"):
        check_atlas_networks(one, source="my.tsv")


# ----------------------------------------------------------------------------- config schema
SCHEMA = Path(__file__).resolve().parents[2] / "tda_mci" / "schemas" / "config.schema.yaml"


def _validate(cfg):
    from snakemake.utils import validate

    validate(cfg, str(SCHEMA))
    return cfg


def test_schema_fills_input_and_qc_defaults():
    cfg = _validate(
        {"inputs": {"kind": "fmriprep", "participants": "p.tsv", "fmriprep": {"root": "/d"}}}
    )
    f = cfg["inputs"]["fmriprep"]
    assert (f["task"], f["space"], f["desc"], f["denoise_strategy"], f["brain_mask"]) == (
        "rest",
        "MNI152NLin2009cAsym",
        "preproc",
        "simple",
        True,
    )
    assert cfg["qc"] == {"on_bad_subject": "fail", "min_group_size": 3}


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"inputs": {"kind": "nifti", "participants": "p.tsv"}}, "bold"),
        ({"inputs": {"kind": "fmriprep", "participants": "p.tsv"}}, "root"),
        ({"inputs": {"kind": "timeseries", "timeseries": "/d/{subject}.tsv"}}, "participants"),
        (
            {
                "inputs": {
                    "kind": "network_csv",
                    "participants": "p.tsv",
                    "network_csv": "/d/{subject}.csv",
                }
            },
            "network",
        ),
        ({"inputs": {"kind": "nifti", "participants": "p.tsv", "bold": "/d/fixed.nii"}}, "subject"),
        ({"inputs": {"kind": "bids"}}, "bids"),
        ({"qc": {"on_bad_subject": "drop"}}, "drop"),
        ({"qc": {"min_group_size": 1}}, "min_group_size"),
        ({"qc": {"on_bad_subjects": "exclude"}}, "on_bad_subjects"),
        (
            {
                "inputs": {
                    "kind": "fmriprep",
                    "participants": "p.tsv",
                    "fmriprep": {"root": "/d", "denoise": "simple"},
                }
            },
            "denoise",
        ),
        (
            {
                "inputs": {
                    "kind": "fmriprep",
                    "participants": "p.tsv",
                    "fmriprep": {"root": "/d", "denoise_strategy": "aroma"},
                }
            },
            "aroma",
        ),
    ],
)
def test_schema_rejects_bad_inputs_and_qc(cfg, message):
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError, match=message):
        _validate(cfg)


@pytest.mark.parametrize("ext", [".tsv", ".csv"])
def test_a_ragged_row_is_named_not_read_as_nan(tmp_path, rng, ext):
    sep = "," if ext == ".csv" else "\t"
    path = tmp_path / f"sub-03_timeseries{ext}"
    rows = [sep.join(["1", "2", "3", "4"])]
    rows += [sep.join(f"{v:.6f}" for v in rng.standard_normal(4)) for _ in range(30)]
    rows[12] = sep.join(rows[12].split(sep)[:3])  # a row that lost its last field
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(SubjectDataError,
                       match="line 13 has 3 fields where the first line has 4 "
                             r"\(a ragged or cut row\)") as e:
        read_series_table(path, "03")
    assert e.value.subject == "03" and str(path) in str(e.value)
    path.write_text("\n".join(rows[:12] + rows[13:]) + "\n")  # without it: reads
    assert read_series_table(path, "03")[0].shape == (29, 4)
