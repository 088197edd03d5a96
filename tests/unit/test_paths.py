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
