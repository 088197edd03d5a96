"""A multi-site BIDS cohort as it comes: ADNI columns, sessions and runs, covariates, sites.

The fixture (:func:`data_gen.make_multisite_cohort`): fMRIPrep derivatives of 12 subjects
over 3 sites, some with two sessions and two runs, and a participants.tsv with
``participant_id, DX_bl, AGE, PTGENDER, SITE`` (two more participants, SMC and AD, have
no images). The configuration maps DX_bl to the study's groups, takes each subject's
first scan in (session, run) order, adjusts the group tests for AGE and PTGENDER and
harmonises the classifier features across SITE with ComBat.
"""

import re

import data_gen as dg
import pandas as pd
import pytest

from tda_mci import io

SPACE = dg.SPACE
#: Each subject's first scan in (session, run) order: what scan_choice: first selects.
FIRST_SCAN = {
    **{f"{i:03d}": ("01", None) for i in range(1, 5)},
    **{f"{i:03d}": ("01", "1") for i in range(5, 9)},
    **{f"{i:03d}": ("02", "1") for i in range(9, 13)},
}
#: Group outputs keep the task and space every scan shares.
GROUP = f"task-rest_space-{SPACE}_atlas-custom"


def scan_stem(subject):
    ses, run = FIRST_SCAN[subject]
    name = f"sub-{subject}_ses-{ses}_task-rest" + (f"_run-{run}" if run else "")
    return f"results/sub-{subject}/ses-{ses}/func/{name}_space-{SPACE}_atlas-custom"


def multisite_config(files):
    return {
        "atlas": str(files["atlas"]),
        "inputs": {
            "kind": "fmriprep",
            "participants": str(files["participants"]),
            "group_column": "DX_bl",
            "group_map": {"CN": "HC", "LMCI": "LMCI"},
            "fmriprep": {"root": str(files["fmriprep"]), "scan_choice": "first"},
        },
        "extraction": {"t_r": 2.0, "min_volumes": 20},
        "qc": {"min_group_size": 2},
        "statistics": {"comparisons": [["HC", "LMCI"]], "covariates": ["AGE", "PTGENDER"],
                       "site_column": "SITE", "ps_permutations": 99},
        "classification": {"harmonize": "combat", "models": ["cnn", "logreg", "corr_logreg"],
                           "n_splits": 2, "n_repeats": 1, "epochs": 2, "permutations": 5},
        "distances": {"ps_rois_per_job": 200},
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return dg.make_multisite_cohort(tmp_path_factory.mktemp("multisite"))


def test_each_subject_contributes_its_first_scan_and_unmapped_labels_are_said(
        cohort, tmp_path, snakemake):
    result = snakemake(tmp_path, multisite_config(cohort), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    planned = set(re.findall(r"wildcards: scan=(\S+)", result.stdout))
    expected = {scan_stem(s)[len("results/"):-len("_atlas-custom")] for s in FIRST_SCAN}
    assert planned == expected
    assert ("2 participant(s) not analysed, their group being in no comparison "
            "(statistics.comparisons): sub-013 (unmapped label 'SMC'), sub-014 (unmapped "
            "label 'AD')") in result.stdout + result.stderr


def test_a_covariate_without_a_value_stops_the_run_naming_the_participants(
        cohort, tmp_path, snakemake):
    table = pd.read_csv(cohort["participants"], sep="\t", dtype=str, keep_default_na=False)
    table.loc[table["participant_id"] == "sub-006", "AGE"] = "n/a"
    broken = tmp_path / "participants.tsv"
    table.to_csv(broken, sep="\t", index=False)
    cfg = multisite_config({**cohort, "participants": broken})
    result = snakemake(tmp_path, cfg, "-n")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{broken}: column 'AGE'" in out and "no value for sub-006" in out
    cfg["classification"]["harmonize"] = "combat"
    del cfg["statistics"]["site_column"]
    result = snakemake(tmp_path, cfg, "-n")
    assert result.returncode != 0 and "site_column" in result.stdout + result.stderr


def test_multisite_cohort_end_to_end(cohort, tmp_path, snakemake):
    result = snakemake(tmp_path, multisite_config(cohort))
    assert result.returncode == 0, result.stderr[-5000:]
    # every scan output keeps the entities of its input
    for s in FIRST_SCAN:
        for suffix in ("timeseries.tsv", "win-3_delay-1_dgm.npz", "desc-PR_dist.npz",
                       "carpet.png"):
            assert (tmp_path / f"{scan_stem(s)}_{suffix}").is_file(), (s, suffix)
        side = io.read_timeseries_sidecar(tmp_path / f"{scan_stem(s)}_timeseries.json")
        ses, run = FIRST_SCAN[s]
        assert f"ses-{ses}" in side["Source"] and (run is None or f"run-{run}" in side["Source"])
    # group outputs carry the task and space the scans share
    group = tmp_path / "results" / "group"
    stats_file = group / "stats" / f"{GROUP}_comp-HCvsLMCI_stat.npz"
    assert stats_file.is_file()
    # the cohort table carries the covariates and the site; unmapped labels are listed
    included = io.read_cohort(tmp_path / "results" / "qc" / "included.tsv")
    assert included["subject"].tolist() == list(FIRST_SCAN)
    assert {"AGE", "PTGENDER", "SITE"} <= set(included.columns)
    assert included["SITE"].tolist()[:2] == ["002", "002"]  # text, not the number 2
    qc = pd.read_csv(tmp_path / "results" / "qc" / "cohort_qc.tsv", sep="\t", dtype=str)
    assert qc.set_index("participant_id").loc[["sub-013", "sub-014"], "status"].tolist() == [
        "not compared", "not compared"]
    # what was done is recorded: the classifiers' settings and the methods text
    record = io.read_record(next((group / "classification").glob(
        f"{GROUP}_comp-HCvsLMCI_net-*_dim-0_model-logreg_metrics.json")), "metrics")
    assert record["settings"]["harmonize"] == "combat"
    assert record["settings"]["site_column"] == "SITE"
    assert record["settings"]["covariates"] == ["AGE", "PTGENDER"]
    methods = (tmp_path / "results" / "methods.md").read_text()
    assert "AGE" in methods and "PTGENDER" in methods and "ComBat" in methods
    assert "SITE" in methods and "session" in methods
    assert (group / "classification" / f"{GROUP}_summary.tsv").is_file()
