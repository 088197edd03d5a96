"""An interrupted run resumes to exactly the bytes of an uninterrupted one; runs repeat.

Three runs of a tiny demo cohort (4 subjects, 24 volumes) up to the PR matrices and the
statistics of one comparison: A uninterrupted; B killed (SIGKILL to the whole process
group, as a node failure or an out-of-memory kill would) once some diagrams exist, then
unlocked and rerun with --rerun-incomplete; C a second clean run of the TDA stages.
"""

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from tda_mci import io

SUBJECTS = [f"{i:03d}" for i in range(1, 5)]
ATLAS = "dosenbach160"
STATS = f"results/group/stats/task-rest_atlas-{ATLAS}_comp-HCvsLMCI_stat.npz"
PAIRS = f"results/group/stats/task-rest_atlas-{ATLAS}_comp-HCvsLMCI_desc-significant_pairs.tsv"
CONFIG = {
    "out_dir": "results",
    "inputs": {"kind": "demo"},
    "demo": {"seed": 3, "n_per_group": {"HC": 2, "LMCI": 2}, "n_volumes": 24, "tr": 3.0},
    "qc": {"min_group_size": 2},
    "statistics": {"comparisons": [["HC", "LMCI"]]},
    "classification": {"n_splits": 2},
}


def _stem(s):
    return f"results/sub-{s}/func/sub-{s}_task-rest_atlas-{ATLAS}"


def tda_files(s):
    """The per-subject TDA outputs compared byte for byte."""
    return [
        f"{_stem(s)}_timeseries.tsv",
        f"{_stem(s)}_timeseries.json",
        f"{_stem(s)}_win-3_delay-1_dgm.npz",
        f"{_stem(s)}_desc-PR_dist.npz",
    ]


def run(snakemake, work, *args):
    result = snakemake(work, CONFIG, *args)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def pr_targets():
    return [f"{_stem(s)}_desc-PR_dist.npz" for s in SUBJECTS]


def interrupted_run(snakemake_popen, work, timeout=300):
    """Start the workflow, SIGKILL its process group once two diagrams exist."""
    proc = snakemake_popen(work, CONFIG, *pr_targets(), STATS, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(work.glob("results/sub-*/func/*_dgm.npz"))) >= 2:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode


@pytest.fixture(scope="module")
def runs(tmp_path_factory, snakemake, snakemake_popen):
    a = tmp_path_factory.mktemp("clean_a")
    run(snakemake, a, *pr_targets(), STATS)
    b = tmp_path_factory.mktemp("resumed")
    returncode = interrupted_run(snakemake_popen, b)
    state = {
        "returncode": returncode,
        "pr_before": len(list(b.glob("results/sub-*/func/*_desc-PR_dist.npz"))),
        "stats_before": (b / STATS).exists(),
        # every file that carries an output's name at the moment of the kill
        "left": {
            str(f.relative_to(b)): f.read_bytes()
            for f in (b / "results").rglob("*")
            if f.is_file() and not f.name.startswith(".")
        },
    }
    run(snakemake, b, "--unlock")
    state["resume_log"] = run(snakemake, b, "--rerun-incomplete", *pr_targets(), STATS).stderr
    c = tmp_path_factory.mktemp("clean_c")
    run(snakemake, c, *pr_targets())
    return a, b, c, state


def test_the_run_was_really_interrupted(runs):
    _, _, _, state = runs
    assert state["returncode"] == -signal.SIGKILL
    assert state["pr_before"] < len(SUBJECTS) and not state["stats_before"]
    assert "steps (100%) done" in state["resume_log"]


def test_resumed_run_is_byte_identical_to_uninterrupted(runs):
    a, b, _, _ = runs
    for s in SUBJECTS:
        for f in tda_files(s):
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # statistics: identical arrays (NaN where undefined on both sides) and tables
    sa, ma = io.read_pr_statistics(a / STATS)
    sb, mb = io.read_pr_statistics(b / STATS)
    assert ma == mb and sa.keys() == sb.keys()
    for key in sa:
        for name in sa[key]:
            np.testing.assert_array_equal(sa[key][name], sb[key][name], err_msg=f"{key} {name}")
    assert (a / PAIRS).read_bytes() == (b / PAIRS).read_bytes()
    assert (a / STATS).read_bytes() == (b / STATS).read_bytes()


def test_a_killed_run_leaves_nothing_that_looks_complete_but_is_not(runs):
    a, _, _, state = runs
    # atomic writes: a killed job leaves at most a hidden temporary file; every file that
    # carries an output's name after the kill is complete, i.e. the uninterrupted bytes
    assert any(name.endswith("_dgm.npz") for name in state["left"])
    for name, content in state["left"].items():
        assert content == (a / name).read_bytes(), name


def test_two_clean_runs_give_identical_tda_outputs(runs):
    a, _, c, _ = runs
    for s in SUBJECTS:
        for f in tda_files(s):
            assert (a / f).read_bytes() == (c / f).read_bytes(), f
