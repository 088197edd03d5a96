import pytest

from tda_mci.paths import bids


def test_subject_path_layout():
    path = bids("results", subject="01", datatype="func", task="rest", atlas="dosenbach160",
                suffix="timeseries", extension=".tsv")
    assert path == "results/sub-01/func/sub-01_task-rest_atlas-dosenbach160_timeseries.tsv"


def test_entity_order_is_fixed_whatever_the_argument_order():
    a = bids("r", subject="1", desc="PR", task="rest", suffix="dist", extension=".npz")
    b = bids("r", subject="1", task="rest", desc="PR", suffix="dist", extension=".npz")
    assert a == b == "r/sub-1/sub-1_task-rest_desc-PR_dist.npz"


def test_group_files_and_wildcards():
    path = bids("r", datatype="stats", comp="{comp}", net="{net}", suffix="pplot", extension=".png")
    assert path == "r/group/stats/comp-{comp}_net-{net}_pplot.png"


@pytest.mark.parametrize("bad", ["a_b", "a-b", "../x", "a b", ""])
def test_unsafe_values_are_refused(bad):
    with pytest.raises(ValueError, match="not alphanumeric"):
        bids("r", subject=bad, suffix="x")


def test_unknown_entity_is_refused():
    with pytest.raises(ValueError, match="unknown BIDS entities"):
        bids("r", subject="1", colour="red", suffix="x")


def test_job_files_mirror_entities():
    from tda_mci.paths import job_file

    assert job_file("logs", "compute_diagrams", ".log", sub="{subject}") == \
        "logs/compute_diagrams/sub-{subject}.log"
    assert job_file("logs", "x", ".log", net="DMN", comp="AvsB") == "logs/x/comp-AvsB_net-DMN.log"
    assert job_file("benchmarks", "x", ".tsv") == "benchmarks/x/all.tsv"


def test_scan_stems_keep_the_entities_of_the_input_in_bids_order():
    from tda_mci.paths import Layout, scan_stem

    stem = scan_stem("001", space="MNI152NLin2009cAsym", run=2, ses="m06")
    assert stem == "sub-001/ses-m06/func/sub-001_ses-m06_task-rest_run-2_space-MNI152NLin2009cAsym"
    layout = Layout("res", atlas="custom")
    assert layout.pr(stem) == f"res/{stem}_atlas-custom_desc-PR_dist.npz"
    assert layout.diagrams(3, 1, stem) == f"res/{stem}_atlas-custom_win-3_delay-1_dgm.npz"
    assert layout.log("compute_diagrams", scan=stem) == f"logs/compute_diagrams/{stem}.log"
    assert layout.screen(stem) == f"res/qc/{stem}_atlas-custom_screen.json"
    # a bare label is the scan of task rest and nothing else (as before sessions existed)
    assert layout.timeseries("7") == "res/sub-7/func/sub-7_task-rest_atlas-custom_timeseries.tsv"
    assert layout.timeseries() == "res/{scan}_atlas-custom_timeseries.tsv"
    with pytest.raises(ValueError, match="not alphanumeric"):
        scan_stem("001", ses="m-06")


def test_group_files_carry_the_task_and_space_the_scans_share():
    from tda_mci.paths import Layout

    scans = [{"ses": "bl", "task": "rest", "run": None, "space": "MNI"},
             {"ses": "m06", "task": "rest", "run": "1", "space": "MNI"}]
    shared = Layout("r").for_scans(scans)
    assert shared.ps(0) == (
        "r/group/ps/task-rest_space-MNI_atlas-dosenbach160_block-0_desc-PS_dist.npz")
    mixed = Layout("r").for_scans(scans + [{"task": "rest", "space": "T1w"}])
    assert mixed.ps(0) == "r/group/ps/task-rest_atlas-dosenbach160_block-0_desc-PS_dist.npz"
