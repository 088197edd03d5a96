"""Every output that a later stage reads back is checked when read.

Each output kind is written by its real writer, then damaged as a full disk, a copy that
stopped or a slip of the hand would: cut at a row (line) boundary, cut mid-row, emptied,
replaced by another subject's file of the same kind, or by a file of another kind under
the right name. Its reader must raise :class:`tda_mci.io.DamagedFileError` naming the
subject (where the name has one), the file and the reason, and name the files to remove
so that the workflow remakes it.
"""

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tda_mci import io


def _name(subject, suffix):
    return f"sub-{subject}_task-rest_atlas-dosenbach160_{suffix}"


def _diagrams(rng, n_rois=5):
    return [[np.sort(rng.random((k, 2)), axis=1) for k in (8, 3, 1)] for _ in range(n_rois)]


# kind -> (file name of subject s, write(path, rng), read(path))
KINDS = {
    "timeseries": (
        lambda s: _name(s, "timeseries.tsv"),
        lambda p, rng: io.write_timeseries(p, rng.standard_normal((60, 4)), [1, 2, 3, 4],
                                           {"NumberOfVolumes": 60}),
        io.read_timeseries,
    ),
    "timeseries sidecar": (
        lambda s: _name(s, "timeseries.json"),
        lambda p, rng: io.write_timeseries(p.with_suffix(".tsv"), rng.standard_normal((60, 4)),
                                           [1, 2, 3, 4], {"NumberOfVolumes": 60}),
        io.read_timeseries_sidecar,
    ),
    "diagrams": (
        lambda s: _name(s, "win-3_delay-1_dgm.npz"),
        lambda p, rng: io.write_diagrams(p, _diagrams(rng), [1, 2, 3, 4, 5], {"d": 3}),
        io.read_diagrams,
    ),
    "pr": (
        lambda s: _name(s, "desc-PR_dist.npz"),
        lambda p, rng: io.write_pr(p, {"DMN": rng.random((3, 6, 6))},
                                   {"DMN": np.arange(1, 7)}, {"order": 1}),
        io.read_pr,
    ),
    "ps": (
        lambda s: f"task-rest_atlas-dosenbach160_block-{s}_desc-PS_dist.npz",
        lambda p, rng: io.write_ps(p, {1: rng.random((3, 8, 8)), 2: rng.random((3, 8, 8))},
                                   [f"{i:02d}" for i in range(8)], {"order": 1}),
        io.read_ps,
    ),
    "pr statistics": (
        lambda s: f"task-rest_atlas-dosenbach160_comp-HCvs{s}_stat.npz",
        lambda p, rng: io.write_pr_statistics(
            p, {("DMN", 0): {"p": rng.random((6, 6)), "U": rng.random((6, 6))}}, {"n": [4, 4]}),
        io.read_pr_statistics,
    ),
    "metrics": (
        lambda s: f"task-rest_comp-HCvsLMCI_net-{s}_dim-0_model-cnn_metrics.json",
        lambda p, rng: io.write_record(p, {"summary": {"accuracy": rng.random()},
                                           "folds": rng.random(10).tolist()}, "metrics"),
        lambda p: io.read_record(p, "metrics"),
    ),
    "permutation": (
        lambda s: f"task-rest_comp-HCvs{s}_desc-best_permutation.json",
        lambda p, rng: io.write_record(p, {"pvalue": 0.1, "null": rng.random(9).tolist()},
                                       "permutation"),
        lambda p: io.read_record(p, "permutation"),
    ),
    "cohort": (
        lambda s: f"included{s}.tsv",
        lambda p, rng: io.write_cohort(p, pd.DataFrame({
            "participant_id": [f"sub-{i}" for i in ("NA", "nan", "0001", "1e3")],
            "subject": ["NA", "nan", "0001", "1e3"], "group": ["HC", "HC", "MCI", "MCI"]})),
        io.read_cohort,
    ),
    "exclusions": (
        lambda s: f"excluded{s}.tsv",
        lambda p, rng: io.write_tsv(p, pd.DataFrame({
            "participant_id": ["sub-NULL", "sub-None"], "subject": ["NULL", "None"],
            "group": ["HC", "MCI"], "file": ["/d/a.tsv", "/d/b.tsv"],
            "reason": [f"{rng.integers(10)} volumes (rows); need at least 20", "constant"]}),
            kind="exclusions"),
        lambda p: io.read_tsv(p, text=True, kind="exclusions"),
    ),
    "screen": (
        lambda s: _name(s, "screen.json"),
        lambda p, rng: io.write_json(p, {"Subject": "01", "Status": "included",
                                         "QC": {"tsnr": rng.random()}}, kind="screen"),
        lambda p: io.read_json(p, kind="screen"),
    ),
    "hubs": (
        lambda s: f"task-rest_comp-HCvs{s}_hubs.tsv",
        lambda p, rng: io.write_tsv(p, pd.DataFrame({"roi": [1, 2, 3], "n": [5, 2, 1]}),
                                    kind="hubs"),
        lambda p: io.read_tsv(p, kind="hubs"),
    ),
}


def _write(kind, subject, folder, seed):
    name, write, _ = KINDS[kind]
    path = folder / name(subject)
    write(path, np.random.default_rng(seed))
    return path


def _cut_lines(data: bytes, keep: float) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[: max(1, int(len(lines) * keep))])


DAMAGE = {
    "cut at a row boundary": lambda d, other, foreign: _cut_lines(d, 0.5),
    "cut mid-row": lambda d, other, foreign: d[: int(len(d) * 0.6) + 1],
    "emptied": lambda d, other, foreign: b"",
    "another subject's file": lambda d, other, foreign: other,
    "a file of another kind": lambda d, other, foreign: foreign,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_damaged_output_is_refused_with_subject_file_and_reason(tmp_path, kind, damage):
    mine = _write(kind, "01", tmp_path / "a", seed=1)
    other = _write(kind, "02", tmp_path / "b", seed=2)
    foreign_kind = "diagrams" if kind != "diagrams" else "pr"
    foreign = _write(foreign_kind, "01", tmp_path / "c", seed=3)
    if mine.suffix == ".json":  # a JSON file of another kind
        foreign = _write("permutation" if kind == "metrics" else "metrics", "01",
                         tmp_path / "c", seed=3)
    readback = KINDS[kind][2](mine)  # intact: reads
    assert readback is not None
    # the other subject's file renamed as mine (a table travels with its sidecar)
    if kind in ("timeseries", "cohort", "hubs", "exclusions"):
        shutil.copy(io.sidecar_of(other), io.sidecar_of(mine)) if damage.startswith(
            "another") else None
    mine.write_bytes(DAMAGE[damage](mine.read_bytes(), other.read_bytes(), foreign.read_bytes()))
    with pytest.raises(io.DamagedFileError) as caught:
        KINDS[kind][2](mine)
    err = caught.value
    message = str(err)
    assert str(mine) in message and "damaged file (" in message
    if mine.name.startswith("sub-01"):
        assert message.startswith("sub-01: ")
    assert mine in err.remake
    if kind in ("timeseries", "timeseries sidecar", "cohort", "hubs", "exclusions"):  # + sidecar
        assert len(err.remake) == 2


def test_the_reason_says_what_happened(tmp_path):
    path = _write("timeseries", "01", tmp_path, seed=1)
    data = path.read_bytes()
    path.write_bytes(b"".join(data.splitlines(keepends=True)[:31]))  # header + 30 of 60 rows
    with pytest.raises(io.DamagedFileError, match="30 complete rows where its sidecar records 60"):
        io.read_timeseries(path)
    path.write_bytes(b"")
    with pytest.raises(io.DamagedFileError, match="empty file"):
        io.read_timeseries(path)
    dgm = _write("diagrams", "01", tmp_path, seed=1)
    shutil.copy(_write("diagrams", "02", tmp_path / "x", seed=2), dgm)
    with pytest.raises(io.DamagedFileError, match="the content of 'sub-02_.*', not of this file"):
        io.read_diagrams(dgm)
    pr = tmp_path / _name("01", "desc-PR_dist.npz")
    shutil.copy(_write("diagrams", "01", tmp_path / "y", seed=1), pr)
    with pytest.raises(io.DamagedFileError, match="a 'diagrams' file where a 'pr' file"):
        io.read_pr(pr)


def test_an_edited_value_is_caught(tmp_path):
    """Same length, same rows: one digit changed."""
    path = _write("timeseries", "01", tmp_path, seed=1)
    text = path.read_text()
    i = text.index("\n") + 3
    digit = text[i]
    path.write_text(text[:i] + ("1" if digit != "1" else "2") + text[i + 1:])
    with pytest.raises(io.DamagedFileError, match="checksum mismatch"):
        io.read_timeseries(path)
    record = _write("metrics", "x", tmp_path, seed=1)
    record.write_text(record.read_text().replace('"accuracy": 0.', '"accuracy": 1.'))
    with pytest.raises(io.DamagedFileError, match="checksum mismatch"):
        io.read_record(record, "metrics")


def test_a_missing_file_is_not_called_damaged(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.read_diagrams(tmp_path / _name("01", "win-3_delay-1_dgm.npz"))


def test_remove_deletes_what_remakes_the_file(tmp_path):
    path = _write("timeseries", "01", tmp_path, seed=1)
    path.write_bytes(b"")
    with pytest.raises(io.DamagedFileError) as caught:
        io.read_timeseries(path)
    message = caught.value.remove()
    assert not path.exists() and not io.sidecar_of(path).exists()
    assert "the workflow remakes it where it is needed" in message


def test_stamped_json_survives_keys_that_json_turns_into_text(tmp_path):
    """The digest is taken of the object as read back (int keys become strings)."""
    path = tmp_path / "r.json"
    io.write_json(path, {"by_roi": {2: 1.5, 10: np.float32(0.1), 1: (1, 2)}, "x": np.nan},
                  kind="metrics")
    back = io.read_json(path, kind="metrics")
    assert back["by_roi"] == {"2": 1.5, "10": float(np.float32(0.1)), "1": [1, 2]}
    assert np.isnan(back["x"]) and io.INTEGRITY_KEY not in back


def test_cli_names_the_damaged_file_removes_it_and_prints_no_traceback(tmp_path,
                                                                       stage_settings):
    dgm = _write("diagrams", "07", tmp_path, seed=1)
    dgm.write_bytes(dgm.read_bytes()[:100])
    log = tmp_path / "logs" / "roi.log"
    done = subprocess.run(
        [sys.executable, "-m", "tda_mci.cli", "roi-distances",
         "--settings", stage_settings("roi_distances"), "--subject", "07", "--diagrams",
         str(dgm), "--output", str(tmp_path / _name("07", "desc-PR_dist.npz")),
         "--log", str(log)], capture_output=True, text=True)
    console = done.stderr
    assert done.returncode == 1 and done.stdout == ""
    assert console.count("\n") == 1, console  # one line on the console
    assert console.startswith("tda-mci roi-distances: error: sub-07: ")
    assert str(dgm) in console and "not a readable npz" in console
    assert "Traceback" not in console and not dgm.exists()
    assert "ERROR" in log.read_text() and "tda-mci roi-distances" in log.read_text()


def test_cli_unexpected_error_is_one_line_with_the_traceback_in_the_log(tmp_path,
                                                                        stage_settings):
    log = tmp_path / "job.log"
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    done = subprocess.run(  # the demo folder under a regular file: an OSError, not expected
        [sys.executable, "-m", "tda_mci.cli", "demo-cohort",
         "--settings", stage_settings("demo_cohort"), "--demo-dir", str(blocker / "demo"),
         "--log", str(log)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("tda-mci demo-cohort: error: unexpected ")
    assert f"(traceback in {log})" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "Traceback" in log.read_text()
