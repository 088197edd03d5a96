"""An interrupted run resumes to exactly the bytes of an uninterrupted one; runs repeat;
a damaged intermediate is refused and remade.

Runs of a tiny demo cohort (4 subjects, 24 volumes) up to the PR matrices and the
statistics of one comparison: A uninterrupted; B killed (SIGKILL to the whole process
group, as a node failure or an out-of-memory kill would) once some diagrams exist, then
unlocked and rerun with --rerun-incomplete; C a second clean run of the TDA stages, in
which a time series is then cut to half its rows; D interrupted as Ctrl-C does (SIGINT to
the process group) during the diagrams and resumed with the same command.
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
#: Entities of the demo scans (task, space) and the atlas.
G = f"task-rest_space-MNI152NLin2009cAsym_atlas-{ATLAS}"
STATS = f"results/group/stats/{G}_comp-HCvsLMCI_stat.npz"
PAIRS = f"results/group/stats/{G}_comp-HCvsLMCI_desc-significant_pairs.tsv"
CONFIG = {
    "out_dir": "results",
    "inputs": {"kind": "demo"},
    "demo": {"seed": 3, "n_per_group": {"HC": 2, "LMCI": 2}, "n_volumes": 24, "tr": 3.0},
    "qc": {"min_group_size": 2},
    "statistics": {"comparisons": [["HC", "LMCI"]]},
    "classification": {"n_splits": 2},
}


def _stem(s):
    return f"results/sub-{s}/func/sub-{s}_{G}"


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


def interrupted_run(snakemake_popen, work, timeout=300, sig=signal.SIGKILL):
    """Start the workflow, send ``sig`` to its process group once two diagrams exist."""
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
            os.killpg(proc.pid, sig)
        proc.wait(timeout=120)
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
        # every file that carries an output's name at the moment of the kill (not the logs
        # and benchmarks, which hold times)
        "left": {
            str(f.relative_to(b)): f.read_bytes()
            for f in (b / "results").rglob("*")
            if f.is_file() and not f.name.startswith(".")
            and f.relative_to(b / "results").parts[0] not in ("logs", "benchmarks")
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


@pytest.fixture(scope="module")
def ctrl_c(runs, tmp_path_factory, snakemake, snakemake_popen):
    """D: Ctrl-C during the diagrams, then the same command again (no --unlock, no
    --rerun-incomplete: the workflow's default profile resumes)."""
    d = tmp_path_factory.mktemp("ctrl_c")
    returncode = interrupted_run(snakemake_popen, d, sig=signal.SIGINT)
    pr_before = len(list(d.glob("results/sub-*/func/*_desc-PR_dist.npz")))
    again = snakemake(d, CONFIG, *pr_targets(), STATS)
    return d, returncode, pr_before, again


def test_after_ctrl_c_the_same_command_resumes(runs, ctrl_c):
    a = runs[0]
    d, returncode, pr_before, again = ctrl_c
    assert returncode != 0 and pr_before < len(SUBJECTS)  # really interrupted
    assert again.returncode == 0, again.stderr[-4000:]
    assert "IncompleteFilesException" not in again.stderr
    for s in SUBJECTS:
        for f in tda_files(s):
            assert (a / f).read_bytes() == (d / f).read_bytes(), f
    assert (a / PAIRS).read_bytes() == (d / PAIRS).read_bytes()
    assert (a / STATS).read_bytes() == (d / STATS).read_bytes()


def test_a_truncated_time_series_is_refused_removed_and_remade(runs, snakemake):
    """The defect: a time series cut at a row boundary (a full disk, a copy that stopped)
    was read back unchecked and everything downstream recomputed from half the volumes,
    exit 0."""
    a, _, c, _ = runs
    series = c / f"{_stem('001')}_timeseries.tsv"
    lines = series.read_bytes().splitlines(keepends=True)
    series.write_bytes(b"".join(lines[: 1 + (len(lines) - 1) // 2]))  # header + half the rows
    first = snakemake(c, CONFIG, *pr_targets())  # the diagrams job reruns (newer input)
    assert first.returncode != 0
    line = next(x for x in first.stderr.splitlines() if "tda-mci compute-diagrams: error" in x)
    assert f"sub-001: {series.relative_to(c)}: damaged file (truncated or cut: 12 complete " \
           "rows where its sidecar records 24)" in line
    assert "the workflow remakes it where it is needed (run the same command again)" in line
    assert not series.exists()
    # the same command again: the PR matrices, made from the intact series before the
    # damage, are kept; nothing was computed from the cut series
    second = snakemake(c, CONFIG, *pr_targets())
    assert second.returncode == 0, second.stderr[-4000:]
    for s in SUBJECTS:
        f = f"{_stem(s)}_desc-PR_dist.npz"
        assert (a / f).read_bytes() == (c / f).read_bytes(), f
    # and what needs the removed series remakes it, identical to the clean run's
    third = snakemake(c, CONFIG, *tda_files("001"))
    assert third.returncode == 0, third.stderr[-4000:]
    for f in tda_files("001"):
        assert (a / f).read_bytes() == (c / f).read_bytes(), f
