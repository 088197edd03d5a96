"""End to end on every input kind, bad-subject policies and checks before the run.

Each test generates a tiny cohort with tests/data_gen.py, writes a config and runs the real
workflow on the outputs it needs: the kind-specific stage (time series) and what follows
it (diagrams, PR matrices, QC); one test runs statistics and classification too, on a
custom 20-ROI atlas.
"""

import re

import data_gen as dg
import numpy as np
import pandas as pd
import pytest

from tda_mci import io
from tda_mci.atlas import load_atlas, networks
from tda_mci.inputs.series import load_subject_series
from tda_mci.paths import bids


def base_config(kind, participants, atlas=None, **inputs):
    return {
        "out_dir": "results",
        "atlas": None if atlas is None else str(atlas),
        "inputs": {"kind": kind, "participants": str(participants), **inputs},
        "extraction": {"t_r": 2.0, "min_volumes": 20},
        "qc": {"min_group_size": 2},
        "statistics": {"comparisons": [["HC", "MCI"]]},
        "classification": {"n_splits": 2, "n_repeats": 1, "epochs": 1,
                           "models": ["cnn", "logreg"]},
        "distances": {"ps_rois_per_job": 200},
    }


def stem(subject, atlas_key, space=None):
    """Output stem of a subject's scan: the entities of its input (space for fMRIPrep)."""
    scan = f"sub-{subject}_task-rest" + (f"_space-{space}" if space else "")
    return f"results/sub-{subject}/func/{scan}_atlas-{atlas_key}"


def series_targets(subjects, atlas_key):
    """Time series and diagrams of every subject."""
    return [f"{stem(s, atlas_key)}_{suffix}" for s in subjects
            for suffix in ("timeseries.tsv", "win-3_delay-1_dgm.npz")]


def tda_targets(subjects, atlas_key, space=None):
    """PR matrices of every subject (so time series and diagrams) and the cohort QC table."""
    return ["results/qc/cohort_qc.tsv"] + [f"{stem(s, atlas_key, space)}_desc-PR_dist.npz"
                                           for s in subjects]


def stats_file(atlas_key, out="results"):
    return bids(out, datatype="stats", task="rest", atlas=atlas_key, comp="HCvsMCI",
                suffix="stat", extension=".npz")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Generated inputs shared by the tests: atlas, participants and every input kind."""
    root = tmp_path_factory.mktemp("inputs")
    table = dg.participants({"HC": 2, "MCI": 2})
    out = {
        "root": root,
        "table": table,
        "subjects": table["participant_id"].str[4:].tolist(),
        "participants": dg.write_participants(root / "participants.tsv", table),
        "atlas_file": root / "atlas20.tsv",
        "atlas": dg.write_atlas20(root / "atlas20.tsv"),
    }
    out["fmriprep"] = dg.make_fmriprep(root / "fmriprep", table, out["atlas"], n_volumes=60)
    out["fsl"] = dg.make_fsl_like(root / "fsl", table, out["atlas"], n_volumes=40)
    out["tables"] = dg.make_timeseries_tables(root / "ts", table, n_volumes=30, ext=".csv")
    out["csv"] = dg.make_network_csvs(root / "authors", table, n_volumes=30)
    return out


def _check_series(work, subjects, atlas, atlas_key, n_volumes, space=None):
    for s in subjects:
        x, rois = io.read_timeseries(work / f"{stem(s, atlas_key, space)}_timeseries.tsv")
        assert x.shape == (n_volumes, len(atlas)) and rois == atlas["roi"].tolist()
        dgm, dgm_rois, _ = io.read_diagrams(
            work / f"{stem(s, atlas_key, space)}_win-3_delay-1_dgm.npz")
        assert len(dgm) == len(atlas) and dgm_rois == rois
        assert all(d[0].shape == (n_volumes - 3, 2) for d in dgm)  # T-2 points: T-3 finite H0


def _check_tda_outputs(work, subjects, atlas, atlas_key, n_volumes, space=None):
    _check_series(work, subjects, atlas, atlas_key, n_volumes, space)
    for s in subjects:
        pr, _, _ = io.read_pr(work / f"{stem(s, atlas_key, space)}_desc-PR_dist.npz")
        for k, idx in networks(atlas).items():
            assert pr[k].shape == (3, len(idx), len(idx)) and np.isfinite(pr[k]).all()
        assert sorted(k for k in pr if not k.endswith("_rois")) == sorted(networks(atlas))
        assert (work / f"{stem(s, atlas_key, space)}_carpet.png").is_file()
    qc = pd.read_csv(work / "results/qc/cohort_qc.tsv", sep="\t")
    assert qc["status"].tolist() == ["included"] * len(subjects)
    assert (qc["volumes_kept"] == n_volumes).all()
    excluded = pd.read_csv(work / "results/qc/excluded.tsv", sep="\t")
    assert len(excluded) == 0 and list(excluded.columns)[-2:] == ["file", "reason"]
    return qc


def test_fmriprep_derivatives(data, tmp_path, snakemake):
    """BIDS selection by entities, nilearn confounds + sample mask, the brain mask."""
    fmriprep = {"root": str(data["root"] / "fmriprep"), "task": "rest", "space": dg.SPACE,
                "desc": "preproc"}
    cfg = base_config("fmriprep", data["participants"], data["atlas_file"], fmriprep=fmriprep)
    result = snakemake(tmp_path, cfg, *tda_targets(data["subjects"], "custom", dg.SPACE))
    assert result.returncode == 0, result.stderr[-4000:]
    qc = _check_tda_outputs(tmp_path, data["subjects"], data["atlas"], "custom", 58, dg.SPACE)
    assert (qc["volumes_in_input"] == 60).all() and (qc["input_kind"] == "fmriprep").all()
    assert qc["mean_framewise_displacement"].between(0.05, 0.2).all()
    s = data["subjects"][0]
    files = {k: str(v) for k, v in data["fmriprep"][s].items()}
    side = io.read_timeseries_sidecar(tmp_path / f"{stem(s, 'custom', dg.SPACE)}_timeseries.json")
    # the distractors (space-T1w, task-nback, boldref) were not picked
    assert side["Source"] == files["bold"] and side["Masker"]["mask_img"] == files["mask"]
    assert side["DenoiseStrategy"] == "simple" and "white_matter" in side["ConfoundColumns"]
    # the workflow's series is the library's on the same files
    ref, _ = load_subject_series("fmriprep", files, data["atlas"], subject=s, t_r=2.0,
                                 min_volumes=20)
    got, _ = io.read_timeseries(tmp_path / f"{stem(s, 'custom', dg.SPACE)}_timeseries.tsv")
    np.testing.assert_array_equal(got, ref)


def test_fsl_pattern_custom_atlas_through_statistics_and_classification(data, tmp_path, snakemake):
    """NIfTI path pattern (with a wildcard) + mask + confounds TSV; a 20-ROI atlas of three
    networks (5 to 8 ROIs) through statistics and classification."""
    fsl = str(data["root"] / "fsl")
    cfg = base_config("nifti", data["participants"], data["atlas_file"],
                      bold=fsl + "/{subject}.feat/filtered_func_*_mni.nii.gz",
                      mask=fsl + "/{subject}.feat/mask_mni.nii.gz",
                      confounds=fsl + "/{subject}.feat/confounds.tsv")
    group = tmp_path / "results" / "group"
    summary_file = group / "classification" / "task-rest_atlas-custom_summary.tsv"
    result = snakemake(tmp_path, cfg, stats_file("custom"), "results/qc/cohort_qc.tsv",
                       str(summary_file.relative_to(tmp_path)))
    assert result.returncode == 0, result.stderr[-4000:]
    _check_tda_outputs(tmp_path, data["subjects"], data["atlas"], "custom", 40)
    s = data["subjects"][1]
    side = io.read_timeseries_sidecar(tmp_path / f"{stem(s, 'custom')}_timeseries.json")
    assert side["Source"] == str(data["fsl"][s]["bold"])
    assert side["ConfoundColumns"] == ["tx", "ty", "tz", "rx", "ry", "rz"]
    stats, meta = io.read_pr_statistics(tmp_path / stats_file("custom"))
    assert meta["n"] == [2, 2]
    assert stats["visual", 0]["p"].shape == (8, 8) and stats["attention", 1]["p"].shape == (5, 5)
    for net in ("visual", "motor", "attention"):
        name = f"task-rest_atlas-custom_comp-HCvsMCI_net-{net}_pplot.png"
        assert (group / "figures" / name).is_file()
    text = pd.read_csv(summary_file, sep="\t").to_csv()
    assert all(net in text for net in ("visual", "motor", "attention"))
    assert len(list((group / "classification").glob("*_metrics.json"))) == 3 * 3 * 2


def test_timeseries_tables(data, tmp_path, snakemake):
    """Per-subject tables (CSV here) pass through unchanged (Dosenbach 160)."""
    cfg = base_config("timeseries", data["participants"],
                      timeseries=str(data["root"] / "ts" / "sub-{subject}_timeseries.csv"))
    result = snakemake(tmp_path, cfg, *series_targets(data["subjects"], "dosenbach160"))
    assert result.returncode == 0, result.stderr[-4000:]
    _check_series(tmp_path, data["subjects"], load_atlas(), "dosenbach160", 30)
    truth = dg.series(data["table"], n_volumes=30)
    for s in data["subjects"]:
        got, _ = io.read_timeseries(tmp_path / f"{stem(s, 'dosenbach160')}_timeseries.tsv")
        np.testing.assert_array_equal(got, truth[s])
        side = io.read_timeseries_sidecar(tmp_path / f"{stem(s, 'dosenbach160')}_timeseries.json")
        assert side["Source"] == str(data["tables"][s]) and side["SourceRepetitionTime"] == 2.0


def test_authors_network_csv_layout(data, tmp_path, snakemake):
    """The paper's layout: {group}/{network}/{subject}.csv, one row per ROI."""
    cfg = base_config("network_csv", data["participants"],
                      network_csv=str(data["root"] / "authors/{group}/{network}/{subject}.csv"))
    result = snakemake(tmp_path, cfg, *series_targets(data["subjects"], "dosenbach160"))
    assert result.returncode == 0, result.stderr[-4000:]
    _check_series(tmp_path, data["subjects"], load_atlas(), "dosenbach160", 30)
    truth = dg.series(data["table"], n_volumes=30)
    for s in data["subjects"]:
        got, _ = io.read_timeseries(tmp_path / f"{stem(s, 'dosenbach160')}_timeseries.tsv")
        np.testing.assert_array_equal(got, truth[s])
    side = io.read_timeseries_sidecar(tmp_path / f"{stem(s, 'dosenbach160')}_timeseries.json")
    assert len(side["Source"]) == 6 and side["Source"][2].endswith(f"/DMN/{s}.csv")


# ----------------------------------------------------------------------------- bad subjects
#: Valid BIDS labels that pandas reads as missing values or numbers.
LABELS = ["NA", "NULL", "None", "nan", "0001", "1e3"]
OUT = "results dir"  # out_dir with a space


@pytest.fixture(scope="module")
def bad_cohort(tmp_path_factory):
    """Six subjects as 20-ROI tables, labelled :data:`LABELS`, in a folder with a space:
    sub-None has a constant ROI, sub-1e3 only 10 volumes; and sub-ad7 of group AD, which
    is in no comparison."""
    root = tmp_path_factory.mktemp("bad") / "input files"
    table = dg.participants({"HC": 3, "MCI": 3})
    table["participant_id"] = [f"sub-{s}" for s in LABELS]
    atlas = dg.write_atlas20(root / "atlas20.tsv")
    files = dg.make_timeseries_tables(root / "ts", table, atlas, n_volumes=30)
    t = pd.read_csv(files["None"], sep="\t")
    t["5"] = 1.0
    t.to_csv(files["None"], sep="\t", index=False)
    pd.read_csv(files["1e3"], sep="\t").iloc[:10].to_csv(files["1e3"], sep="\t", index=False)
    table = pd.concat([table, pd.DataFrame({"participant_id": ["sub-ad7"], "group": ["AD"]})])
    cfg = base_config("timeseries", dg.write_participants(root / "participants.tsv", table),
                      root / "atlas20.tsv",
                      timeseries=str(root / "ts/sub-{subject}_timeseries.tsv"))
    return cfg, files


def test_exclude_policy_records_and_leaves_out_bad_subjects(bad_cohort, tmp_path, snakemake,
                                                            copy_workflow):
    """Also: labels kept as text; a group in no comparison said, listed and left out;
    spaces in the workflow's path, the input folder and out_dir."""
    cfg, files = bad_cohort
    cfg = {**cfg, "out_dir": OUT, "qc": {"on_bad_subject": "exclude", "min_group_size": 2}}
    snakefile = copy_workflow(tmp_path / "workflow copy")
    work = tmp_path / "work dir"
    work.mkdir()
    ps = bids(OUT, datatype="ps", task="rest", atlas="custom", block="0", desc="PS",
              suffix="dist", extension=".npz")
    result = snakemake(work, cfg, stats_file("custom", OUT), f"{OUT}/qc/cohort_qc.tsv", ps,
                       snakefile=snakefile)
    assert result.returncode == 0, result.stderr[-4000:]
    excluded = pd.read_csv(work / OUT / "qc/excluded.tsv", sep="\t", dtype=str,
                           keep_default_na=False)
    assert excluded.to_dict(orient="records") == [
        {"participant_id": "sub-None", "subject": "None", "group": "HC",
         "file": str(files["None"]), "reason": "1 ROI series are constant: 5 (VIS 5)"},
        {"participant_id": "sub-1e3", "subject": "1e3", "group": "MCI",
         "file": str(files["1e3"]), "reason": "10 volumes (rows); need at least 20"},
    ]
    included = io.read_cohort(work / OUT / "qc/included.tsv")
    assert included["subject"].tolist() == ["NA", "NULL", "nan", "0001"]
    _, meta = io.read_pr_statistics(work / stats_file("custom", OUT))
    assert meta["n"] == [2, 2]  # the statistics saw the included subjects only
    _, ps_subjects, _ = io.read_ps(work / ps)
    assert ps_subjects == ["NA", "NULL", "nan", "0001"]  # neither excluded nor AD
    for s in ("None", "1e3", "ad7"):  # nothing for an excluded subject looks complete
        assert not (work / OUT / f"sub-{s}").exists()
    qc = pd.read_csv(work / OUT / "qc/cohort_qc.tsv", sep="\t", dtype=str,
                     keep_default_na=False)
    assert qc["subject"].tolist() == LABELS + ["ad7"]
    assert qc["status"].tolist() == ["included", "included", "excluded", "included",
                                     "included", "excluded", "not compared"]
    assert qc.loc[qc["subject"] == "1e3", "reason"].item() == "10 volumes (rows); need at least 20"
    assert qc.loc[qc["subject"] == "ad7", "reason"].item() == (
        "group 'AD' is in no comparison (statistics.comparisons)")
    # the console says both
    assert ("1 participant(s) not analysed, their group being in no comparison "
            "(statistics.comparisons): sub-ad7 (AD)") in result.stderr
    assert (f"2 subject(s) excluded from the analysis (sub-None, sub-1e3): reasons in "
            f"{OUT}/qc/excluded.tsv") in result.stderr


def test_fail_policy_stops_and_names_subject_file_reason(bad_cohort, tmp_path, snakemake):
    cfg, files = bad_cohort
    targets = [f"{stem(s, 'custom')}_timeseries.tsv" for s in ("NA", "None", "1e3")]
    result = snakemake(tmp_path, cfg, *targets, "--keep-going")
    assert result.returncode != 0
    err = result.stderr
    assert f"subject None, file {files['None']}: 1 ROI series are constant: 5 (VIS 5)" in err
    assert f"subject 1e3, file {files['1e3']}: 10 volumes (rows); need at least 20" in err
    assert (tmp_path / targets[0]).is_file()
    for s in ("None", "1e3"):  # no output of a bad subject exists, complete-looking or not
        assert not list((tmp_path / "results").glob(f"sub-{s}/func/*"))


def test_checks_before_the_run(data, tmp_path, snakemake):
    """Ambiguous inputs and too-small groups stop a dry run with the subject named."""
    root = data["root"] / "fmriprep_runs"
    dg.make_fmriprep(root, data["table"], data["atlas"], n_volumes=8, distractors=False)
    func = root / "sub-02" / "func"
    for f in func.glob("sub-02_task-rest_space-*"):  # a second run for sub-02
        f.with_name(f.name.replace("task-rest_", "task-rest_run-2_")).write_bytes(f.read_bytes())
    cfg = base_config("fmriprep", data["participants"], data["atlas_file"],
                      fmriprep={"root": str(root)})
    result = snakemake(tmp_path, cfg, "-n")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "1 of 4 subject(s) have no usable input files" in out
    assert "subject 02" in out and "2 preprocessed images match" in out
    cfg = base_config("timeseries", data["participants"],
                      timeseries=str(data["root"] / "ts" / "sub-{subject}_timeseries.csv"))
    cfg["qc"] = {"min_group_size": 3}
    result = snakemake(tmp_path, cfg, "-n")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "group 'HC' has 2 subject(s)" in out and "qc.min_group_size" in out


def test_adni_style_participants_mapped_and_a_subset_selected(tmp_path, snakemake):
    """participants.tsv as ADNI writes it (DX_bl, AGE, PTGENDER, SITE); the study groups by
    inputs.group_map, a subset by inputs.participant_label; unmapped labels said, not run."""
    root = tmp_path / "in"
    table = pd.DataFrame({"participant_id": [f"sub-{i:03d}" for i in range(1, 9)],
                          "group": ["HC", "MCI"] * 4})
    atlas = dg.write_atlas20(root / "atlas20.tsv")
    dg.make_timeseries_tables(root / "ts", table, atlas, n_volumes=30)
    adni = pd.DataFrame({"participant_id": table["participant_id"],
                         "DX_bl": ["CN", "LMCI", "CN", "EMCI", "SMC", "LMCI", "CN", "AD"],
                         "AGE": ["71.2", "NA", "68", "70", "75", "66", "80", "79"],
                         "PTGENDER": ["Female", "Male"] * 4, "SITE": ["002"] * 4 + ["011"] * 4})
    participants = root / "participants.tsv"
    adni.to_csv(participants, sep="\t", index=False)
    cfg = base_config("timeseries", participants, root / "atlas20.tsv",
                      timeseries=str(root / "ts/sub-{subject}_timeseries.tsv"),
                      group_column="DX_bl", group_map={"CN": "HC", "LMCI": "MCI"},
                      participant_label=["001", "002", "003", "005", "006", "007", "008"])
    result = snakemake(tmp_path, cfg, "-n", "results/qc/cohort_qc.tsv")
    assert result.returncode == 0, result.stderr[-3000:]
    planned = sorted(re.findall(r"wildcards: scan=sub-(\w+)/", result.stdout))
    # 004 not selected; 005 (SMC) and 008 (AD) not mapped; each subject's jobs planned
    assert sorted(set(planned)) == ["001", "002", "003", "006", "007"]
    assert ("2 participant(s) not analysed, their group being in no comparison "
            "(statistics.comparisons): sub-005 (unmapped label 'SMC'), sub-008 (unmapped "
            "label 'AD')") in result.stdout + result.stderr
